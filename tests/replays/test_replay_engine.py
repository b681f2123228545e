"""Replaying a gate over constructed histories whose answer is known."""

from __future__ import annotations

from django.contrib.auth.models import User

from metrics.models import Indicator, Job, JobStatus, Outcome, Replay, TrainedModel, Verdict, VerdictState
from tests.replays.history import history

ROLLED_BACK, ROLLED_OUT = Outcome.ROLLBACK, Outcome.ROLLOUT


def replayed(replay: Replay) -> Replay:
    replay.refresh_from_db()
    return replay


def test_a_rule_that_separates_good_and_bad_releases_catches_every_bad_one_at_the_expected_minute(
    owner: User,
) -> None:
    # Each rolled-back release shows the bad value from its first minute; with a failure limit of
    # 4, the fifth rollback observed stops it (before, each rollback within the limit is a
    # tolerated failure: inconclusive, a score of 50, between the thresholds).
    past = history(owner, [ROLLED_BACK, ROLLED_OUT] * 6, failure_limit=4)

    replay = replayed(Replay.objects.start(past.gate, owner))

    figures = replay.figures
    assert (figures.releases, figures.judged, figures.bad, figures.good) == (12, 12, 6, 6)
    assert figures.caught == 6
    assert figures.caught_minutes == [5] * 6
    assert figures.median_catch_minute == 5
    assert figures.false_rollbacks == 0
    assert figures.inconclusive == 0
    assert figures.confusion[ROLLED_BACK] == {"rollback": 6, "rollout": 0, "inconclusive": 0, "not_judged": 0}
    assert figures.confusion[ROLLED_OUT] == {"rollback": 0, "rollout": 6, "inconclusive": 0, "not_judged": 0}
    rows = list(replay.replayed.all())
    bad = [row for row in rows if row.outcome == ROLLED_BACK]
    assert all([point[0] for point in row.minutes[:5]] == ["inconclusive"] * 4 + ["rollback"] for row in bad)
    assert all(row.verdict == VerdictState.ROLLOUT and row.stopped_minute is None for row in rows if row not in bad)
    assert Job.objects.get(replay=replay).status == JobStatus.DONE


def test_a_replay_changes_no_model_version_verdict_or_indicator(owner: User) -> None:
    past = history(owner, [ROLLED_BACK, ROLLED_OUT] * 2)
    before = (
        list(TrainedModel.objects.values_list("pk", "version", "accuracy")),
        list(Verdict.objects.values_list("pk", "state", "decided")),
        list(Indicator.objects.values_list("pk", "decision", "created_at")),
        list(past.gate.releases.values_list("pk", "gate_said", "outcome")),
    )

    Replay.objects.start(past.gate, owner)

    after = (
        list(TrainedModel.objects.values_list("pk", "version", "accuracy")),
        list(Verdict.objects.values_list("pk", "state", "decided")),
        list(Indicator.objects.values_list("pk", "decision", "created_at")),
        list(past.gate.releases.values_list("pk", "gate_said", "outcome")),
    )
    assert after == before
