"""A release's outcome as the domain records it: once (the same outcome again changes nothing),
changed by the gate's owner alone and logged, labelling every observation with provenance in
one undoable batch, and keeping whether the gate was right."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone

from metrics.exceptions import CannotUndo, LabelledByOutcome, OutcomeRefused
from metrics.models import (
    Decision,
    Gate,
    GateMetric,
    ImportBatch,
    Indicator,
    Metric,
    Outcome,
    OutcomeChange,
    OutcomeVia,
    Release,
    VerdictState,
)
from tests.api.test_gates import trained
from tests.data import database_state, rows_of

GOOD_VALUE = 900  # rule_data's rule: a rollout whatever the minutes
BAD_VALUE = 100  # a rollback from minute 10


def outcome_state() -> dict[str, list]:
    """Every row recording an outcome could touch."""
    return {
        **database_state(),
        "releases": rows_of(Release),
        "outcomes": rows_of(OutcomeChange),
        "batches": rows_of(ImportBatch),
    }


@pytest.fixture
def release(owner: User, contributor: User) -> Release:
    """A release opened by `contributor` on the owner's gate of two metrics, one observe-only."""
    gate = Gate.objects.create(name="Checkout deploys", owner=owner, pass_score=80, marginal_score=50)
    GateMetric.objects.create(gate=gate, metric=trained(owner, "Error rate"), weight=1)
    GateMetric.objects.create(gate=gate, metric=trained(owner, "Queue depth"), weight=1, observe_only=True)
    return Release.objects.create(
        gate=gate, name="checkout-web", created_by=contributor, started_at=timezone.now() - timedelta(minutes=30)
    )


def metric_named(release: Release, name: str) -> Metric:
    return release.gate.gate_metrics.get(metric__name=name).metric


def observed(release: Release, user: User, value: float, *minutes: float) -> None:
    for minute in minutes:
        release.observe(metric_named(release, "Error rate"), value, user, minutes=minute)
        release.observe(metric_named(release, "Queue depth"), value, user, minutes=minute)


def test_an_outcome_labels_every_observation_of_the_release_with_its_provenance(owner: User, release: Release) -> None:
    observed(release, owner, BAD_VALUE, 3, 12)
    before = Indicator.objects.count()

    changed = release.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.PAGE, note="p99 doubled")

    assert changed is True
    labels = Indicator.objects.filter(batch__release=release).select_related("observation")
    assert Indicator.objects.count() == before + 4
    assert {label.decision for label in labels} == {Decision.ROLLBACK}
    assert sorted((label.metric.name, label.time) for label in labels) == [
        ("Error rate", 3.0),
        ("Error rate", 12.0),
        ("Queue depth", 3.0),  # observe-only metrics are labelled too
        ("Queue depth", 12.0),
    ]
    for label in labels:
        assert label.observation is not None
        assert label.observation.release_id == release.pk
        assert label.observation.metric_id == label.metric_id
        assert label.value == label.observation.verdict.value
    stored = Release.objects.get(pk=release.pk)
    assert (stored.outcome, stored.outcome_by, stored.outcome_via, stored.outcome_note) == (
        "rollback",
        owner,
        "page",
        "p99 doubled",
    )
    assert stored.outcome_labels is not None
    assert stored.outcome_labels.rows == 4


def test_the_same_outcome_twice_changes_nothing(owner: User, release: Release) -> None:
    observed(release, owner, BAD_VALUE, 3)
    release.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.API)
    before = outcome_state()

    changed = Release.objects.get(pk=release.pk).record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.FLAGGER)

    assert changed is False
    assert outcome_state() == before


def test_whoever_opened_the_release_may_record_its_outcome_but_not_change_it(
    owner: User, contributor: User, release: Release
) -> None:
    observed(release, owner, BAD_VALUE, 3)
    release.record_outcome(Outcome.ROLLBACK, contributor, via=OutcomeVia.API)
    before = outcome_state()

    with pytest.raises(OutcomeRefused):
        Release.objects.get(pk=release.pk).record_outcome(Outcome.ROLLOUT, contributor, via=OutcomeVia.API)

    assert outcome_state() == before


def test_a_stranger_cannot_record_an_outcome_and_nothing_changes(stranger: User, release: Release) -> None:
    observed(release, release.gate.owner, BAD_VALUE, 3)
    before = outcome_state()

    with pytest.raises(OutcomeRefused):
        release.record_outcome(Outcome.ROLLBACK, stranger, via=OutcomeVia.API)

    assert outcome_state() == before


def test_the_owner_changing_the_outcome_relabels_and_logs_both(
    owner: User, contributor: User, release: Release
) -> None:
    observed(release, owner, BAD_VALUE, 3, 12)
    release.record_outcome(Outcome.ROLLBACK, contributor, via=OutcomeVia.FLAGGER)
    first_batch = Release.objects.get(pk=release.pk).outcome_labels
    assert first_batch is not None

    release = Release.objects.get(pk=release.pk)
    assert release.record_outcome(Outcome.ROLLOUT, owner, via=OutcomeVia.PAGE, note="it was the load test") is True

    first_batch.refresh_from_db()
    assert first_batch.undone_at is not None
    labels = Indicator.objects.filter(batch__release=release, batch__undone_at__isnull=True)
    assert labels.count() == 4
    assert {label.decision for label in labels} == {Decision.ROLLOUT}
    log = list(OutcomeChange.objects.filter(release=release).values_list("outcome", "previous", "via", "recorded_by"))
    assert log == [("rollback", "", "flagger", contributor.pk), ("rollout", "rollback", "page", owner.pk)]


def test_the_gate_was_right_when_it_said_what_the_team_did_from_the_minute_it_said_it(
    owner: User, release: Release
) -> None:
    started = release.started_at
    observed(release, owner, GOOD_VALUE, 2)
    release.answer(owner, at=started + timedelta(minutes=2))
    observed(release, owner, BAD_VALUE, 12)
    release.answer(owner, at=started + timedelta(minutes=12))
    release.answer(owner, at=started + timedelta(minutes=14))
    assert release.verdict().state == VerdictState.ROLLBACK

    release.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.API)

    stored = Release.objects.get(pk=release.pk)
    assert stored.gate_said == "rollback"
    assert stored.gate_said_at_minute == pytest.approx(12.0)
    assert stored.gate_was == "right"


def test_the_gate_was_wrong_when_the_team_did_the_other(owner: User, release: Release) -> None:
    observed(release, owner, GOOD_VALUE, 2)

    release.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.API)

    stored = Release.objects.get(pk=release.pk)
    assert (stored.gate_said, stored.gate_was) == ("rollout", "wrong")


def test_an_outcome_with_nothing_observed_counts_the_gate_inconclusive_and_labels_nothing(
    owner: User, release: Release
) -> None:
    release.record_outcome(Outcome.ROLLOUT, owner, via=OutcomeVia.CLI)

    stored = Release.objects.get(pk=release.pk)
    assert stored.gate_was == "inconclusive"
    assert stored.outcome_labels is None


def test_undoing_the_labels_removes_them_and_keeps_the_outcome(owner: User, release: Release) -> None:
    observed(release, owner, BAD_VALUE, 3)
    release.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.API)
    batch = Release.objects.get(pk=release.pk).outcome_labels
    assert batch is not None

    assert batch.can_undo(owner)
    assert batch.undo() == 2

    assert not Indicator.objects.filter(batch=batch).exists()
    assert Release.objects.get(pk=release.pk).outcome == "rollback"
    with pytest.raises(CannotUndo):
        batch.undo()


@pytest.mark.parametrize(("outcome", "note"), [("promoted", ""), ("rollback", "x" * 501)])
def test_an_outcome_that_cannot_be_one_is_refused_and_nothing_changes(
    owner: User, release: Release, outcome: str, note: str
) -> None:
    before = outcome_state()

    with pytest.raises(ValidationError):
        release.record_outcome(outcome, owner, via=OutcomeVia.API, note=note)

    assert outcome_state() == before


def test_feedback_on_an_observation_its_release_outcome_labelled_is_refused_and_nothing_changes(
    owner: User, release: Release
) -> None:
    observed(release, owner, BAD_VALUE, 12)
    release.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.PAGE)
    verdict = release.observations.get(metric__name="Error rate").verdict
    before = outcome_state()

    with pytest.raises(LabelledByOutcome) as refused:
        verdict.add_feedback(Decision.ROLLOUT, "it was fine", owner)

    assert str(refused.value) == (
        "This observation is labelled by the outcome of release “checkout-web”: change the release's outcome instead."
    )
    assert outcome_state() == before
    assert Indicator.objects.filter(observation__verdict=verdict).count() == 1  # one point, one label


def test_feedback_is_taken_once_the_outcome_labels_were_undone_and_the_next_outcome_leaves_it_out(
    owner: User, release: Release
) -> None:
    observed(release, owner, BAD_VALUE, 12)
    release.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.PAGE)
    Release.objects.get(pk=release.pk).outcome_labels.undo()  # type: ignore[union-attr]
    verdict = release.observations.get(metric__name="Error rate").verdict

    feedback = verdict.add_feedback(Decision.ROLLOUT, "it was fine", owner)
    Release.objects.get(pk=release.pk).record_outcome(Outcome.ROLLOUT, owner, via=OutcomeVia.PAGE)

    labelled = Indicator.objects.filter(metric=verdict.metric, value=verdict.value, time=verdict.minutes)
    assert list(labelled) == [feedback]
