"""Whether the gate was right, in the words the release page, the API and the command line say it."""

from __future__ import annotations

import pytest

from metrics.models import Release


@pytest.mark.parametrize(
    ("said", "minute", "did", "words"),
    [
        ("rollback", 7.4, "rollback", "The gate said rollback at 7 min; the team rolled back: the gate was right."),
        ("rollout", 75, "rollback", "The gate said rollout at 1 h 15 min; the team rolled back: the gate was wrong."),
        (
            "rollout",
            0.3,
            "rollout",
            "The gate said rollout from the release's first minute; the team rolled out: the gate was right.",
        ),
        (
            "inconclusive",
            12,
            "rollout",
            "The gate was inconclusive at 12 min; the team rolled out: neither right nor wrong.",
        ),
        ("inconclusive", None, "rollback", "The gate was inconclusive; the team rolled back: neither right nor wrong."),
        ("rollback", None, "rollout", "The gate said rollback; the team rolled out: the gate was wrong."),
        ("", None, "rollout", "The gate had no verdict; the team rolled out: neither right nor wrong."),
        ("rollback", 7, "", ""),
    ],
)
def test_the_outcome_says_what_the_gate_said_from_when_and_whether_it_was_right(
    said: str, minute: float | None, did: str, words: str
) -> None:
    release = Release(name="checkout-web", gate_said=said, gate_said_at_minute=minute, outcome=did)

    assert release.outcome_summary == words
