"""When a gate's webhooks hear about a release: its verdict turning to each state a webhook chose
(once, however often it is asked; not while it waits for its metrics), and its outcome; and
what they hear: the verdict, what decided it and why, the summary, the release's address."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone, translation

from metrics.models import Delivery, Gate, GateMetric, JudgedOn, Outcome, OutcomeVia, Release, VerdictState, Webhook
from metrics.models.data_source import DataSource, MetricQuery
from stores.local_prometheus import free_port
from tests.api.test_gates import trained
from tests.concurrency import run_concurrently
from tests.notifications.conftest import BAD_VALUE, GOOD_VALUE, metric_named, observe
from tests.notifications.receiver import Receiver, running_receiver


def bodies(webhook: Webhook) -> list[dict]:
    return [json.loads(body) for body in webhook.deliveries.order_by("pk").values_list("body", flat=True)]


def states(webhook: Webhook) -> list[tuple[str, str]]:
    return list(webhook.deliveries.order_by("pk").values_list("event", "state"))


def test_a_verdict_change_is_announced_once_however_often_it_is_asked(
    release: Release, webhook: Webhook, receiver: Receiver
) -> None:
    observe(release, BAD_VALUE)

    for _ in range(3):
        Release.objects.get(pk=release.pk).answer(release.gate.owner)

    assert states(webhook) == [("verdict", "rollback")]
    assert len(receiver.wait_for(2, seconds=0.5)) == 1
    assert Release.objects.get(pk=release.pk).announced_state == "rollback"


def test_each_webhook_hears_the_verdicts_it_chose_and_no_other(gate: Gate, release: Release) -> None:
    hooks = {
        state: Webhook.objects.create(
            gate=gate,
            url="http://127.0.0.1:9/unused",
            on_rollback=state == VerdictState.ROLLBACK,
            on_inconclusive=state == VerdictState.INCONCLUSIVE,
            on_rollout=state == VerdictState.ROLLOUT,
            on_outcome=False,
        )
        for state in VerdictState
    }
    owner = gate.owner

    observe(release, GOOD_VALUE, minute=2)
    release.answer(owner)  # both metrics roll out: 100
    observe(release, BAD_VALUE, GOOD_VALUE)
    release.answer(owner)  # one of each: 50, a person decides
    observe(release, BAD_VALUE)
    release.answer(owner)  # both roll back: 0

    assert {state: states(hook) for state, hook in hooks.items()} == {
        VerdictState.ROLLOUT: [("verdict", "rollout")],
        VerdictState.INCONCLUSIVE: [("verdict", "inconclusive")],
        VerdictState.ROLLBACK: [("verdict", "rollback")],
    }
    [rollback] = bodies(hooks[VerdictState.ROLLBACK])
    assert (rollback["verdict"], rollback["previous_verdict"], rollback["score"]) == ("rollback", "inconclusive", 0)


def test_a_release_waiting_for_its_metrics_announces_nothing_until_it_has_a_verdict(
    release: Release, webhook: Webhook
) -> None:
    owner = release.gate.owner
    release.answer(owner)
    release.observe(metric_named(release, "Error rate"), BAD_VALUE, owner, minutes=12)
    release.answer(owner)
    assert release.verdict().decided_by == "waiting"
    assert webhook.deliveries.count() == 0
    assert Release.objects.get(pk=release.pk).announced_state == ""

    release.observe(metric_named(release, "Latency"), GOOD_VALUE, owner, minutes=12)
    release.answer(owner)

    assert states(webhook) == [("verdict", "inconclusive")]
    [body] = bodies(webhook)
    assert body["previous_verdict"] is None


def test_a_paused_webhook_and_one_of_another_gate_hear_nothing(
    owner: User, release: Release, receiver: Receiver
) -> None:
    paused = Webhook.objects.create(gate=release.gate, url=receiver.url, active=False)
    other_gate = Gate.objects.create(name="Search deploys", owner=owner)
    elsewhere = Webhook.objects.create(gate=other_gate, url=receiver.url)

    observe(release, BAD_VALUE)
    release.answer(owner)

    assert paused.deliveries.count() == elsewhere.deliveries.count() == 0
    assert receiver.wait_for(1, seconds=0.3) == []


def test_a_verdict_message_says_what_decided_it_and_why_and_links_the_release(
    release: Release, webhook: Webhook, receiver: Receiver, settings
) -> None:
    settings.MBREAK_SITE_URL = "https://mbreak.example.com"
    observe(release, BAD_VALUE, GOOD_VALUE)
    release.answer(release.gate.owner)

    [received] = receiver.wait_for(1)
    body = received.json()
    assert body["event"] == "verdict"
    assert body["gate"] == {"id": release.gate_id, "name": "Checkout deploys"}
    assert body["release"] == {
        "id": release.pk,
        "name": "checkout-web",
        "version": "1.4.2",
        "key": "checkout@abc123",
        "started_at": release.started_at.isoformat().replace("+00:00", "Z"),
        "url": f"https://mbreak.example.com/releases/{release.pk}/",
    }
    assert (body["verdict"], body["score"], body["decided_by"], body["dry_run"]) == ("inconclusive", 50, "score", False)
    assert body["summary"] == "A person decides: the score 50 is between the marginal 50 and the pass 80."
    assert body["reason"] == (
        "What decided it: the score against the thresholds. “Error rate” is rollback: more rollbacks in the "
        "release than its failure limit (1 of 1 observation judged rollback)."
    )
    assert [(metric["name"], metric["verdict"], metric["decided"]) for metric in body["metrics"]] == [
        ("Error rate", "rollback", True),
        ("Latency", "rollout", False),
    ]
    assert body["metrics"][1]["value"] == GOOD_VALUE


def test_slack_format_says_which_metric_decided_and_why_and_links_the_release(
    owner: User, receiver: Receiver, settings
) -> None:
    settings.MBREAK_SITE_URL = "https://mbreak.example.com"
    gate = Gate.objects.create(name="Checkout <prod>", owner=owner)
    error_rate = trained(owner, "Error rate")
    GateMetric.objects.create(gate=gate, metric=error_rate, weight=1, critical=True, judged_on=JudgedOn.NEWEST)
    GateMetric.objects.create(gate=gate, metric=trained(owner, "Latency"), weight=1)
    Webhook.objects.create(gate=gate, url=receiver.url, format="slack")
    release = gate.start_release(owner, name="checkout-web", version="1.4.2", started_at=timezone.now())

    observe(release, BAD_VALUE, GOOD_VALUE, minute=12)
    release.answer(owner)

    [received] = receiver.wait_for(1)
    assert list(received.json()) == ["text"]
    assert received.json()["text"].splitlines() == [
        f"Release <https://mbreak.example.com/releases/{release.pk}/|checkout-web 1.4.2> of gate "
        "“Checkout &lt;prod&gt;”: *rollback* (score 0).",
        "Roll back: the critical metric “Error rate” says rollback.",
        "What decided it: a critical metric says rollback. “Error rate” (critical) is rollback: its newest "
        "observation, 100 at minute 12.",
    ]


def test_a_gate_in_dry_run_announces_its_real_verdict_saying_so(
    release: Release, webhook: Webhook, receiver: Receiver
) -> None:
    Gate.objects.filter(pk=release.gate_id).update(dry_run=True)
    release = Release.objects.select_related("gate").get(pk=release.pk)
    observe(release, BAD_VALUE)

    assert release.answer(release.gate.owner).answered_state == "rollout"

    body = receiver.wait_for(1)[0].json()
    assert (body["verdict"], body["dry_run"]) == ("rollback", True)
    assert body["summary"].startswith("Dry run: would have rolled back.")


def test_a_verdict_asked_in_another_language_is_announced_in_the_servers(
    release: Release, webhook: Webhook, receiver: Receiver
) -> None:
    observe(release, BAD_VALUE)

    with translation.override("pt-br"):
        release.answer(release.gate.owner)

    body = receiver.wait_for(1)[0].json()
    assert body["summary"] == "Roll back: the score 0 is below the marginal score 50."


def test_a_pull_that_changes_the_verdict_announces_it(owner: User, receiver: Receiver) -> None:
    gate = Gate.objects.create(
        name="Pulled", owner=owner, pull_interval_seconds=10, missing_after_minutes=5, missing_means="rollback"
    )
    metric = trained(owner, "Error rate")
    GateMetric.objects.create(gate=gate, metric=metric, weight=1, critical=True)
    source = DataSource.objects.create(owner=owner, name="prod", url=f"http://127.0.0.1:{free_port()}")
    MetricQuery.objects.create(metric=metric, source=source, query="up")
    hook = Webhook.objects.create(gate=gate, url=receiver.url)
    release = gate.start_release(owner, name="checkout-web", started_at=timezone.now() - timedelta(minutes=20))

    release.pull()  # the store cannot be asked: the critical metric is missing, and missing means rollback

    assert states(hook) == [("verdict", "rollback")]
    assert receiver.wait_for(1)[0].json()["decided_by"] == "critical_veto"


def test_two_processes_that_see_the_same_change_announce_it_once(release: Release, webhook: Webhook) -> None:
    observe(release, BAD_VALUE)
    first, second = Release.objects.get(pk=release.pk), Release.objects.get(pk=release.pk)

    first.answer(release.gate.owner)
    second.answer(release.gate.owner)  # it read the release before the first announced

    assert states(webhook) == [("verdict", "rollback")]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent sessions: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_pipelines_asking_at_once_announce_a_change_once(owner: User) -> None:
    gate = Gate.objects.create(name="Checkout deploys", owner=owner)
    GateMetric.objects.create(gate=gate, metric=trained(owner, "Error rate"), weight=1)
    release = gate.start_release(owner, name="checkout-web", started_at=timezone.now() - timedelta(minutes=30))
    release.observe(metric_named(release, "Error rate"), BAD_VALUE, owner, minutes=12)
    with running_receiver() as receiver:
        hook = Webhook.objects.create(gate=gate, url=receiver.url)

        run_concurrently(*[lambda: Release.objects.get(pk=release.pk).answer(owner) for _ in range(4)])

        assert states(hook) == [("verdict", "rollback")]
        assert len(receiver.wait_for(2, seconds=0.5)) == 1


def test_an_outcome_is_announced_once_and_its_change_again(
    release: Release, webhook: Webhook, receiver: Receiver, settings
) -> None:
    settings.MBREAK_SITE_URL = "https://mbreak.example.com"
    owner = release.gate.owner
    observe(release, BAD_VALUE)
    release.answer(owner)

    release.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.FLAGGER, note="p99 doubled")
    Release.objects.get(pk=release.pk).record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.ARGO)
    Release.objects.get(pk=release.pk).record_outcome(Outcome.ROLLOUT, owner, via=OutcomeVia.PAGE)

    assert states(webhook) == [("verdict", "rollback"), ("outcome", "rollback"), ("outcome", "rollout")]
    _verdict, rolled_back, rolled_out = [request.json() for request in receiver.wait_for(3)]
    assert rolled_back["event"] == "outcome"
    assert rolled_back["release"]["url"] == f"https://mbreak.example.com/releases/{release.pk}/"
    assert {
        key: rolled_back[key] for key in ("outcome", "previous_outcome", "recorded_by", "recorded_via", "note")
    } == {
        "outcome": "rollback",
        "previous_outcome": None,
        "recorded_by": "owner",
        "recorded_via": "flagger",
        "note": "p99 doubled",
    }
    assert (rolled_back["gate_said"], rolled_back["gate_was"]) == ("rollback", "right")
    assert rolled_back["summary"].startswith("Rolled back. The gate said rollback from minute ")
    assert rolled_back["summary"].endswith(": it was right. Note: p99 doubled")
    assert (rolled_out["outcome"], rolled_out["previous_outcome"], rolled_out["gate_was"]) == (
        "rollout",
        "rollback",
        "wrong",
    )


def test_an_outcome_is_not_announced_to_a_webhook_that_did_not_ask(release: Release, receiver: Receiver) -> None:
    hook = Webhook.objects.create(gate=release.gate, url=receiver.url, on_outcome=False)

    release.record_outcome(Outcome.ROLLOUT, release.gate.owner, via=OutcomeVia.CLI)

    assert hook.deliveries.count() == 0
    assert Delivery.objects.count() == 0
