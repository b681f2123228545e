"""Replaying a gate over constructed histories whose answer is known."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.contrib.auth.models import User

from metrics.models import (
    Gate,
    GateMetric,
    Indicator,
    Job,
    JobStatus,
    Outcome,
    Replay,
    TrainedModel,
    Verdict,
    VerdictState,
)
from tests.data import noise_data
from tests.replays.history import BAD_VALUE, GOOD_VALUE, history, value_rule_data

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


def test_a_separating_rule_over_ten_releases_of_each_outcome_is_trusted(owner: User) -> None:
    past = history(owner, [ROLLED_BACK, ROLLED_OUT] * 10)

    figures = replayed(Replay.objects.start(past.gate, owner)).figures

    assert (figures.bad, figures.good, figures.caught, figures.false_rollbacks) == (10, 10, 10, 0)
    assert figures.caught_minutes == [1] * 10
    assert figures.caught_before_decision == 10  # at minute 1, the team decided at minute 30
    assert not figures.is_thin
    assert not figures.is_no_better_than_chance
    assert figures.catch_rate.interval == pytest.approx((0.7225, 1.0), abs=1e-4)  # Wilson's 95%, 10 out of 10
    assert figures.false_rollback_rate.interval == pytest.approx((0.0, 0.2775), abs=1e-4)


def test_pure_noise_is_reported_no_better_than_chance_and_why(owner: User) -> None:
    rng = np.random.default_rng(3)
    past = history(
        owner,
        [ROLLED_BACK, ROLLED_OUT] * 4,
        data=noise_data(80, seed=4),
        value=lambda minute, outcome: float(rng.uniform(100, 1000)),
    )

    figures = replayed(Replay.objects.start(past.gate, owner)).figures

    assert figures.judged == 8
    assert figures.is_no_better_than_chance
    words = figures.chance_words()
    assert "No better than chance" in words
    assert "no better than always answering the most common decision" in words
    assert figures.is_thin
    assert "4 releases rolled back and 4 rolled out; at least 10 of each" in figures.thin_words()


def test_a_release_is_never_judged_with_its_own_labels_nor_with_anything_learnt_after_it(owner: User) -> None:
    # The history says a value of 100 is a rollback; the team rolled out both releases showing
    # it, for an hour each: 60 labels saying rollout against 30 indicators. Trained on its own
    # labels, the first release would have been let through; trained on what was known before
    # it, it is stopped at its first minute.
    past = history(owner, [ROLLED_OUT, ROLLED_OUT], data=value_rule_data(30), value=lambda m, o: BAD_VALUE, minutes=60)

    replay = replayed(Replay.objects.start(past.gate, owner))

    first, second = replay.replayed.order_by("started_at")
    assert (first.verdict, first.stopped_minute) == (VerdictState.ROLLBACK, 1)
    assert first.trained[0]["indicators"] == 30  # not a label of its own, nor of the release after it
    assert second.trained[0]["indicators"] == 30 + 60  # the first release's labels came before it
    assert second.verdict == VerdictState.ROLLOUT  # what the team taught the gate with the first


def test_a_release_whose_metric_had_too_little_history_is_not_judged_and_says_why(owner: User) -> None:
    past = history(owner, [ROLLED_BACK, ROLLED_OUT, ROLLED_BACK])
    # The metric's first indicators were registered after the first release started.
    Indicator.objects.filter(metric=past.metric, observation__isnull=True).update(
        created_at=past.releases[0].started_at + timedelta(minutes=1)
    )

    replay = replayed(Replay.objects.start(past.gate, owner))

    first = replay.replayed.order_by("started_at")[0]
    assert first.verdict == ""
    assert first.not_judged == [
        {"code": "no_model", "metric": past.metric.pk, "name": "Error rate", "total": 0, "rollbacks": 0, "rollouts": 0}
    ]
    assert first.not_judged_words() == (
        "“Error rate” had no model: 0 indicators registered before it started (0 rollbacks, 0 rollouts), too few "
        "to train one (at least 10, 2 of each decision)."
    )
    figures = replay.figures
    assert (figures.releases, figures.judged, figures.not_judged) == (3, 2, 1)
    assert figures.confusion[ROLLED_BACK]["not_judged"] == 1
    assert figures.no_model_words().startswith(
        "1 release had a metric with too few indicators registered before it started."
    )


def test_a_gate_changed_between_two_replays_is_judged_by_its_rules_of_each_time(owner: User) -> None:
    past = history(owner, [ROLLED_BACK, ROLLED_OUT] * 2)
    before = replayed(Replay.objects.start(past.gate, owner))
    GateMetric.objects.filter(gate=past.gate).update(failure_limit=4)

    after = replayed(Replay.objects.start(past.gate, owner))

    before.refresh_from_db()
    assert before.figures.caught_minutes == [1, 1]
    assert before.rules["metrics"][0]["failure_limit"] == 0
    assert after.figures.caught_minutes == [5, 5]
    assert after.rules["metrics"][0]["failure_limit"] == 4


def test_the_pass_score_a_replay_judged_by_is_its_own_not_the_gates_later_one(owner: User) -> None:
    past = history(owner, [ROLLED_OUT] * 2, value=lambda minute, outcome: BAD_VALUE if minute == 1 else GOOD_VALUE)
    # One tolerated failure (inconclusive, half a point) then rollouts: the score climbs from 50.
    GateMetric.objects.filter(gate=past.gate).update(failure_limit=1)
    replay = replayed(Replay.objects.start(past.gate, owner))
    Gate.objects.filter(pk=past.gate.pk).update(pass_score=100, marginal_score=100)

    rerun = Replay.objects.get(pk=replay.pk)
    rerun.run()

    assert [row.verdict for row in rerun.replayed.all()] == [VerdictState.ROLLOUT] * 2
