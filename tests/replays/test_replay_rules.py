"""Who may replay a gate, try other settings on a replay and apply them; and what each changes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from metrics.exceptions import GateChangedSinceReplay, NothingToReplay, ReplayNotFinished, ReplayRefused
from metrics.models import Gate, GateChange, GateMetric, Job, Metric, Outcome, Replay, ReplayedRelease
from tests.data import rows_of
from tests.replays.history import History, history

ROLLED_BACK, ROLLED_OUT = Outcome.ROLLBACK, Outcome.ROLLOUT


def replay_state() -> dict[str, list]:
    return {
        "replays": rows_of(Replay),
        "replayed": rows_of(ReplayedRelease),
        "jobs": rows_of(Job),
        "changes": rows_of(GateChange),
        "gates": rows_of(Gate),
        "gate_metrics": rows_of(GateMetric),
        "metrics": rows_of(Metric),
    }


@pytest.fixture
def past(owner: User) -> History:
    return history(owner, [ROLLED_BACK, ROLLED_OUT] * 2)


@pytest.fixture
def replay(past: History, owner: User) -> Replay:
    replay = Replay.objects.start(past.gate, owner)
    replay.refresh_from_db()
    return replay


def test_a_stranger_may_not_replay_a_gate_and_nothing_is_stored(past: History, stranger: User) -> None:
    before = replay_state()

    with pytest.raises(ReplayRefused, match="Only the owner of the gate “Checkout” may replay it"):
        Replay.objects.start(past.gate, stranger)

    assert replay_state() == before


def test_a_gate_without_a_release_with_an_outcome_has_nothing_to_replay(owner: User) -> None:
    gate = Gate.objects.create(name="New", owner=owner)
    gate.start_release(owner, name="v1")

    with pytest.raises(NothingToReplay, match="No release of the gate “New” has an outcome yet"):
        Replay.objects.start(gate, owner)

    assert not Replay.objects.exists()


def test_a_range_replays_the_releases_started_in_it_and_an_empty_one_is_refused(past: History, owner: User) -> None:
    second, third = past.releases[1], past.releases[2]

    replay = Replay.objects.start(past.gate, owner, since=second.started_at, until=third.started_at)

    assert [row.name for row in replay.replayed.all()] == ["v2"]
    with pytest.raises(NothingToReplay, match="started in that range"):
        Replay.objects.start(past.gate, owner, since=third.started_at.replace(year=2030))
    with pytest.raises(ValidationError, match="The end of the range must come after its start"):
        Replay.objects.start(past.gate, owner, since=third.started_at, until=second.started_at)


def test_a_what_if_replays_the_same_releases_with_other_settings_beside_the_first(
    replay: Replay, past: History, owner: User
) -> None:
    metric = past.metric.pk

    what_if = replay.what_if(owner, {"metrics": {str(metric): {"failure_limit": 4}}, "pass_score": 90})

    what_if.refresh_from_db()
    assert what_if.compared_with == replay
    assert what_if.changes == {"pass_score": 90.0, "metrics": {str(metric): {"failure_limit": 4}}}
    assert what_if.rules["pass_score"] == 90.0
    assert [row.release_id for row in what_if.replayed.all()] == [row.release_id for row in replay.replayed.all()]
    assert replay.figures.caught_minutes == [1, 1]
    assert what_if.figures.caught_minutes == [5, 5]
    assert GateMetric.objects.get(gate=past.gate).failure_limit == 0  # the gate itself is unchanged


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"pass_score": 120}, "pass_score", "less than or equal to 100"),
        ({"marginal_score": 95}, "marginal_score", "cannot be above the pass score"),
        ({"pass_score": "high"}, "pass_score", "must be a float"),
        ({"metrics": {"999": {"weight": 2}}}, "metrics", "Metric 999 is not one of this replay's"),
        ({"metrics": {"{metric}": {"weight": -1}}}, "metrics.{metric}.weight", "greater than or equal to 0"),
        ({"metrics": {"{metric}": {"observe_only": True}}}, "metrics.{metric}.observe_only", "cannot be tried"),
        ({"dry_run": True}, "__all__", "These settings cannot be tried: dry_run"),
        ({"pass_score": 80}, "__all__", "Change at least one setting"),
    ],
)
def test_a_what_if_with_settings_that_cannot_be_is_refused_saying_which_and_nothing_is_stored(
    replay: Replay, past: History, owner: User, changes: dict, field: str, message: str
) -> None:
    metric = str(past.metric.pk)
    changes = {
        key: {name.replace("{metric}", metric): value for name, value in value.items()} if key == "metrics" else value
        for key, value in changes.items()
    }
    before = replay_state()

    with pytest.raises(ValidationError) as refused:
        replay.what_if(owner, changes)

    errors = refused.value.message_dict if hasattr(refused.value, "error_dict") else {"__all__": refused.value.messages}
    assert message in " ".join(errors[field.replace("{metric}", metric)])
    assert replay_state() == before


def test_only_the_owner_of_a_metric_may_try_its_thresholds(owner: User, contributor: User) -> None:
    past = history(contributor, [ROLLED_BACK, ROLLED_OUT])
    # The gate is the contributor's; its metric is the owner's.
    Metric.objects.filter(pk=past.metric.pk).update(owner=owner)
    replay = Replay.objects.start(past.gate, contributor)
    replay.refresh_from_db()
    before = replay_state()

    with pytest.raises(ValidationError, match="Only the owner of “Error rate” may change its thresholds"):
        replay.what_if(contributor, {"metrics": {str(past.metric.pk): {"rollback_threshold": 0.9}}})

    assert replay_state() == before


def test_a_stranger_may_neither_try_settings_nor_apply_them(replay: Replay, stranger: User) -> None:
    before = replay_state()

    with pytest.raises(ReplayRefused):
        replay.what_if(stranger, {"pass_score": 90})
    with pytest.raises(ReplayRefused):
        replay.apply(stranger)

    assert replay_state() == before


def test_applying_a_what_if_makes_its_settings_the_gates_in_one_logged_step(
    replay: Replay, past: History, owner: User
) -> None:
    metric = past.metric
    what_if = replay.what_if(
        owner,
        {"pass_score": 90, "metrics": {str(metric.pk): {"failure_limit": 4, "weight": 2, "rollback_threshold": 0.8}}},
    )
    what_if.refresh_from_db()

    change = what_if.apply(owner)

    gate, item = Gate.objects.get(pk=past.gate.pk), GateMetric.objects.get(gate=past.gate)
    metric.refresh_from_db()
    assert (gate.pass_score, item.failure_limit, item.weight, metric.rollback_threshold) == (90, 4, 2, 0.8)
    assert change.changed_by == owner
    assert change.replay == what_if
    assert change.differences() == [
        ("pass score", 80.0, 90.0),
        ("Error rate: weight", 1.0, 2.0),
        ("Error rate: failure limit", 0, 4),
        ("Error rate: rollback threshold", 0.6, 0.8),
    ]
    what_if.refresh_from_db()
    assert what_if.applied_at == change.changed_at


def test_a_replay_whose_gate_changed_its_metrics_cannot_be_applied(replay: Replay, past: History, owner: User) -> None:
    GateMetric.objects.filter(gate=past.gate).delete()
    before = replay_state()

    with pytest.raises(GateChangedSinceReplay):
        replay.apply(owner)

    assert replay_state() == before


def test_a_replay_that_has_not_run_cannot_be_applied(past: History, owner: User) -> None:
    replay = Replay.objects.start(past.gate, owner, send_to_worker=False)

    with pytest.raises(ReplayNotFinished):
        replay.apply(owner)


def test_staff_read_a_replay_and_a_gate_change_in_the_admin_and_cannot_edit_them(
    client: Client, replay: Replay, owner: User
) -> None:
    change = replay.what_if(owner, {"pass_score": 90})
    change.refresh_from_db()
    applied = change.apply(owner)
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "not-used-here"))
    before = replay_state()

    for obj in (replay, applied):
        name = f"admin:metrics_{obj._meta.model_name}"
        assert client.get(reverse(f"{name}_changelist")).status_code == 200
        page = client.get(reverse(f"{name}_change", args=[obj.pk]))
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert client.post(reverse(f"{name}_change", args=[obj.pk]), {}).status_code == 403
        assert client.get(reverse(f"{name}_add")).status_code == 403

    assert replay_state() == before
