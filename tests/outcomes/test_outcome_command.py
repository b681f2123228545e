"""`manage.py outcome`: the server's operator records what the team did with a release, by its id
or by its gate and key; it says what it recorded (or that it was already), exits 0; an unknown
release or key, or an outcome or note that cannot be one, says why, exits non-zero and changes nothing."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core.management import execute_from_command_line
from django.db import connections

from metrics.models import Decision, Indicator, OutcomeChange, Release
from tests.outcomes.test_record_outcome import BAD_VALUE, observed, outcome_state
from tests.refusals import changes_nothing


def manage(*arguments: str) -> tuple[int, str, str]:
    """What `manage.py outcome ...` ends with: its exit status, its output and its errors."""
    output, errors = io.StringIO(), io.StringIO()
    code: object = 0
    # manage.py closes the database connections as a command ends: here they are the test's own.
    with redirect_stdout(output), redirect_stderr(errors), mock.patch.object(connections, "close_all"):
        try:
            execute_from_command_line(["manage.py", "outcome", *arguments])
        except SystemExit as ended:
            code = ended.code
    return (code if isinstance(code, int) else 1), output.getvalue(), errors.getvalue()


def test_the_operator_records_an_outcome_by_the_releases_id(owner: User, release: Release) -> None:
    observed(release, owner, BAD_VALUE, 3, 12)

    code, output, _errors = manage(str(release.pk), "rollback", "--note", "paged at 3am")

    assert code == 0
    lines = output.splitlines()
    assert lines[0] == "Recorded: checkout-web (Checkout deploys) was rolled back."
    assert lines[1].strip().endswith("; the team rolled back: the gate was right.")
    batch = Release.objects.get(pk=release.pk).outcome_labels
    assert batch is not None
    assert lines[2].strip() == f"4 observations became labelled indicators (import {batch.pk})."
    assert lines[3] == f"Release page: /releases/{release.pk}/"
    stored = Release.objects.get(pk=release.pk)
    assert (stored.outcome, stored.outcome_by, stored.outcome_via, stored.outcome_note) == (
        "rollback",
        None,
        "cli",
        "paged at 3am",
    )
    assert set(Indicator.objects.filter(batch=batch).values_list("decision", flat=True)) == {Decision.ROLLBACK}


def test_the_operator_records_an_outcome_by_the_gate_and_the_releases_key(owner: User, release: Release) -> None:
    Release.objects.filter(pk=release.pk).update(key="checkout/web@5d41402a")
    observed(release, owner, BAD_VALUE, 12)

    code, output, _errors = manage("--gate", str(release.gate_id), "--key", "checkout/web@5d41402a", "rollout")

    assert code == 0
    assert output.startswith("Recorded: checkout-web (Checkout deploys) was rolled out.")
    assert Release.objects.get(pk=release.pk).outcome == "rollout"


def test_the_same_outcome_again_says_it_was_recorded_already_and_changes_nothing(owner: User, release: Release) -> None:
    observed(release, owner, BAD_VALUE, 12)
    assert manage(str(release.pk), "rollback")[0] == 0

    with changes_nothing(outcome_state):
        code, output, _errors = manage(str(release.pk), "rollback", "--note", "again")

    assert code == 0
    assert output.startswith(
        "Already recorded: checkout-web (Checkout deploys) was rolled back, said by the server's operator "
        "through the command line. Nothing changed."
    )


def test_the_operator_may_change_an_outcome_and_it_is_logged(owner: User, contributor: User, release: Release) -> None:
    observed(release, owner, BAD_VALUE, 12)
    assert manage(str(release.pk), "rollback")[0] == 0

    code, output, _errors = manage(str(release.pk), "rollout")

    assert code == 0
    assert output.startswith("Recorded: checkout-web (Checkout deploys) was rolled out.")
    log = OutcomeChange.objects.filter(release=release).values_list("outcome", "previous", "via", "recorded_by_id")
    assert [tuple(entry) for entry in log] == [("rollback", "", "cli", None), ("rollout", "rollback", "cli", None)]


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (["999", "rollback"], 1, "No release 999."),
        (["{release}", "promoted"], 2, "OUTCOME is rollback or rollout, not 'promoted'."),
        (["{release}"], 2, "Give RELEASE_ID OUTCOME, or --gate ID --key KEY OUTCOME"),
        (["abc", "rollback"], 2, "RELEASE_ID is a number, not 'abc'."),
        (["{release}", "rollback", "--note", "x" * 501], 1, "Keep the note within 500 characters."),
        (["--gate", "{gate}", "--key", "no-such-key", "rollback"], 1, "has no release with the key “no-such-key”."),
        (["--gate", "999", "--key", "abc", "rollback"], 1, "No gate 999."),
        (["--gate", "{gate}", "rollback"], 2, "Give RELEASE_ID OUTCOME, or --gate ID --key KEY OUTCOME"),
        (["--gate", "{gate}", "--key", "abc", "{release}", "rollback"], 2, "Give RELEASE_ID OUTCOME"),
    ],
)
def test_what_cannot_be_recorded_says_why_exits_non_zero_and_changes_nothing(
    owner: User, release: Release, arguments: list[str], code: int, message: str
) -> None:
    observed(release, owner, BAD_VALUE, 12)
    sent = [argument.format(release=release.pk, gate=release.gate_id) for argument in arguments]

    with changes_nothing(outcome_state):
        ended, output, errors = manage(*sent)

    assert ended == code
    assert message in errors
    assert output == ""
