"""Pulling a release's bound metrics, without a store that answers: when pulling starts and ends,
how a failure is retried, the claim that keeps two beats from pulling one release twice, the
beat's one task per release, and the missing-data rule of a pulled metric. The pulls a real
Prometheus answers are in tests/stores/test_pulling.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from celery.signals import task_prerun
from django.contrib.auth.models import User
from django.db import OperationalError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from metrics import tasks
from metrics.models import (
    Compare,
    DataSource,
    Gate,
    GateMetric,
    Metric,
    MetricQuery,
    Observation,
    Outcome,
    OutcomeVia,
    Pull,
    PullingEnded,
    PullOutcome,
    Release,
    Source,
    VerdictState,
)
from metrics.models.gate import FIRST_RETRY_SECONDS, PULL_LEASE, PullClaim, retry_delay
from stores.errors import Kind
from stores.local_prometheus import free_port
from tests.api.test_gates import bearer, trained
from tests.concurrency import run_concurrently

GOOD_VALUE = 900  # rule_data's rule: a rollout whatever the minutes
BAD_VALUE = 200  # a rollback from minute 10 on
QUERY = 'mb_pull_error_ratio{release="{{ version }}"}'


def bound_gate(owner: User, url: str, metric: Metric | None = None, **options) -> Gate:
    """A gate whose one critical metric (trained on rule_data) is bound to a Prometheus at `url`,
    pulled every 10 s."""
    gate = Gate.objects.create(name="Checkout", owner=owner, **{"pull_interval_seconds": 10, **options})
    metric = metric or trained(owner, "error rate")
    GateMetric.objects.create(gate=gate, metric=metric, weight=1, critical=True)
    source, _ = DataSource.objects.get_or_create(owner=owner, name="prod", defaults={"url": url, "timeout_seconds": 2})
    MetricQuery.objects.create(metric=metric, source=source, query=QUERY)
    return gate


def started(gate: Gate, minutes_ago: float = 20, version: str = "v1", at: datetime | None = None) -> Release:
    start = (at or timezone.now()) - timedelta(minutes=minutes_ago)
    return gate.start_release(gate.owner, name="checkout-web", version=version, key=f"{version}-hash", started_at=start)


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def pulled(release: Release) -> list[Pull]:
    return list(release.pulls.order_by("pulled_at", "pk"))


def test_a_release_of_a_gate_with_a_bound_metric_is_due_from_its_start(owner: User) -> None:
    release = started(bound_gate(owner, closed_url()))

    assert release.next_pull_at == release.started_at
    assert list(Release.objects.due_for_pulling()) == [release]


def test_a_release_of_a_gate_with_no_bound_metric_is_never_pulled(owner: User) -> None:
    gate = Gate.objects.create(name="Pushed", owner=owner)
    GateMetric.objects.create(gate=gate, metric=trained(owner, "error rate"))

    release = gate.start_release(owner, name="checkout-web")
    by_key = gate.release_by_key("abc123", owner)

    assert release.next_pull_at is None
    assert by_key.next_pull_at is None
    assert not Release.objects.due_for_pulling().exists()
    assert release.pull() == []
    assert not Pull.objects.exists()


def test_a_release_started_by_its_key_is_pulled_from_its_start(owner: User) -> None:
    gate = bound_gate(owner, closed_url())

    release = gate.release_by_key("abc123", owner)

    assert release.next_pull_at == release.started_at


def test_a_store_that_cannot_be_asked_is_tried_again_sooner_and_sooner_no_later_than_the_interval(
    owner: User,
) -> None:
    gate = bound_gate(owner, closed_url(), pull_interval_seconds=60)
    release = started(gate)
    moment = timezone.now()

    waits = []
    for _ in range(6):
        [_pull] = release.pull(moment)
        assert release.next_pull_at is not None
        waits.append((release.next_pull_at - moment).total_seconds())
        assert release.pull(moment) == []  # not due again at once
        moment = release.next_pull_at

    failures = pulled(release)
    assert [pull.outcome for pull in failures] == [PullOutcome.FAILED] * 6
    assert [pull.failures_in_a_row for pull in failures] == [1, 2, 3, 4, 5, 6]
    assert {pull.error_kind for pull in failures} == {Kind.REFUSED}
    assert waits == [5, 10, 20, 40, 60, 60]
    assert failures[0].query_sent == 'mb_pull_error_ratio{release="v1"}'  # what it tried to send
    assert not Observation.objects.exists()
    release.refresh_from_db()
    assert release.next_pull_at == moment
    assert release.pulling_ended_at is None


def test_retry_delays_double_from_five_seconds_up_to_the_interval() -> None:
    assert FIRST_RETRY_SECONDS == 5
    assert [retry_delay(n, 30).total_seconds() for n in range(1, 6)] == [5, 10, 20, 30, 30]
    assert retry_delay(10_000, 3600) == timedelta(hours=1)


def test_pulling_ends_once_the_gates_pulling_time_is_over(owner: User) -> None:
    gate = bound_gate(owner, closed_url(), pull_for_minutes=1)
    release = started(gate, minutes_ago=0.5)
    moment = timezone.now()
    release.pull(moment)

    assert release.next_pull_at is not None
    assert release.next_pull_at <= release.started_at + timedelta(minutes=1)
    assert release.pull(release.started_at + timedelta(minutes=1)) == []

    release.refresh_from_db()
    assert release.next_pull_at is None
    assert release.pulling_ended_at == release.started_at + timedelta(minutes=1)
    assert release.pulling_ended_because == PullingEnded.LIMIT
    assert len(pulled(release)) == 1
    assert not Release.objects.due_for_pulling(moment + timedelta(days=1)).exists()


def test_a_release_started_longer_ago_than_the_limit_ends_at_its_first_pull(owner: User) -> None:
    release = started(bound_gate(owner, closed_url(), pull_for_minutes=10), minutes_ago=20)

    assert release.pull() == []

    release.refresh_from_db()
    assert release.pulling_ended_because == PullingEnded.LIMIT
    assert not Pull.objects.exists()


def test_pulling_ends_when_no_metric_of_the_gate_is_bound_any_more(owner: User) -> None:
    release = started(bound_gate(owner, closed_url()))
    MetricQuery.objects.all().delete()

    assert release.pull() == []

    release.refresh_from_db()
    assert release.pulling_ended_because == PullingEnded.NOTHING_BOUND
    assert release.next_pull_at is None


def test_pulling_ends_when_the_team_records_the_releases_outcome(owner: User) -> None:
    release = started(bound_gate(owner, closed_url()))
    release.pull()

    release.record_outcome(Outcome.ROLLOUT, owner, via=OutcomeVia.API, note="promoted by hand")

    release.refresh_from_db()
    assert release.next_pull_at is None
    assert release.pulling_ended_because == PullingEnded.OUTCOME
    assert release.pull() == []
    assert not Release.objects.due_for_pulling(timezone.now() + timedelta(days=1)).exists()


def test_two_beats_never_claim_the_same_release(owner: User) -> None:
    gate = bound_gate(owner, closed_url())
    releases = [started(gate, version=f"v{number}") for number in range(3)]
    moment = timezone.now()

    first = Release.objects.claim_due_for_pulling(moment)
    second = Release.objects.claim_due_for_pulling(moment)

    assert sorted(first) == sorted(PullClaim(release.pk, moment + PULL_LEASE) for release in releases)
    assert second == []
    for release in releases:
        release.refresh_from_db()
        assert release.next_pull_at == moment + PULL_LEASE
    # Once the lease is over (its pull never ended), the release is due again.
    again = Release.objects.claim_due_for_pulling(moment + PULL_LEASE)
    assert sorted(claim.release_id for claim in again) == sorted(claim.release_id for claim in first)


def test_a_pull_that_starts_after_its_lease_ended_pulls_nothing_and_leaves_the_release_to_the_next_claim(
    owner: User,
) -> None:
    release = started(bound_gate(owner, closed_url()))
    moment = timezone.now()
    [late] = Release.objects.claim_due_for_pulling(moment)
    [newer] = Release.objects.claim_due_for_pulling(late.lease)  # the beat claims it again

    assert Release.objects.pull(release.pk, late.lease + timedelta(seconds=1), lease=late.lease) == []

    assert not Pull.objects.exists()
    release.refresh_from_db()
    assert release.next_pull_at == newer.lease  # the new claim's hold, untouched
    [pull] = Release.objects.pull(release.pk, late.lease + timedelta(seconds=2), lease=newer.lease)
    assert pull.release_id == release.pk


def test_a_late_pull_whose_release_was_not_claimed_again_yet_leaves_it_due(owner: User) -> None:
    release = started(bound_gate(owner, closed_url()))
    [late] = Release.objects.claim_due_for_pulling(timezone.now())

    assert Release.objects.pull(release.pk, late.lease + timedelta(seconds=1), lease=late.lease) == []

    assert not Pull.objects.exists()
    assert [claim.release_id for claim in Release.objects.claim_due_for_pulling(late.lease)] == [release.pk]


def test_a_pull_that_outlives_its_lease_keeps_nothing_once_the_release_is_claimed_again(
    owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store answers after the lease ended and the beat claimed the release again: what it
    answered is not kept, nor is the release's next pull set, beside the new claim's pull."""
    release = started(bound_gate(owner, closed_url()))
    [claim] = Release.objects.claim_due_for_pulling(timezone.now())
    newer: list[PullClaim] = []
    ask_store = Release._ask_store

    def slow_store(self: Release, *args: Any) -> tuple[Pull, float | None]:
        answered = ask_store(self, *args)
        newer.extend(Release.objects.claim_due_for_pulling(claim.lease))  # meanwhile, its lease ended
        return answered

    monkeypatch.setattr(Release, "_ask_store", slow_store)

    assert Release.objects.pull(release.pk, claim.lease - timedelta(seconds=1), lease=claim.lease) == []

    assert [each.release_id for each in newer] == [release.pk]
    assert not Pull.objects.exists()
    release.refresh_from_db()
    assert release.next_pull_at == newer[0].lease


def test_a_pull_within_its_lease_sets_the_next_pull_in_its_place(owner: User) -> None:
    release = started(bound_gate(owner, closed_url()))
    moment = timezone.now()
    [claim] = Release.objects.claim_due_for_pulling(moment)

    [pull] = Release.objects.pull(release.pk, moment, lease=claim.lease)

    release.refresh_from_db()
    assert pull.outcome == PullOutcome.FAILED
    assert release.next_pull_at == moment + timedelta(seconds=FIRST_RETRY_SECONDS)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent sessions: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_beats_at_once_claim_each_due_release_once(owner: User) -> None:
    gate = bound_gate(owner, closed_url())
    releases = [started(gate, version=f"v{number}") for number in range(30)]

    claims = run_concurrently(*[Release.objects.claim_due_for_pulling for _ in range(4)])

    claimed = [claim.release_id for claimed_by_one in claims for claim in claimed_by_one]
    assert sorted(claimed) == sorted(release.pk for release in releases)


def test_the_beat_sends_one_task_per_due_release(owner: User) -> None:
    gate = bound_gate(owner, closed_url())
    due = [started(gate, version=f"v{number}") for number in range(3)]
    later = started(gate, version="later")
    Release.objects.filter(pk=later.pk).update(next_pull_at=timezone.now() + timedelta(minutes=1))
    sent: list[tuple[str, tuple]] = []

    def record(task, args, **kwargs) -> None:
        sent.append((task.name, tuple(args)))

    task_prerun.connect(record)
    try:
        assert tasks.pull_due_releases.delay().get() == 3
    finally:
        task_prerun.disconnect(record)

    assert (
        sorted(name for name, _args in sent) == ["metrics.tasks.pull_due_releases"] + ["metrics.tasks.pull_release"] * 3
    )
    pulled_with = sorted(args for name, args in sent if name == "metrics.tasks.pull_release")
    assert [release_id for release_id, _lease in pulled_with] == sorted(r.pk for r in due)
    # Each with the lease its claim set: the end of its hold on the release.
    assert all(
        timezone.now() < datetime.fromisoformat(lease) <= timezone.now() + PULL_LEASE for _, lease in pulled_with
    )
    assert sorted(pull.release_id for pull in Pull.objects.all()) == sorted(release.pk for release in due)
    assert tasks.pull_due_releases() == 0  # each is held until its next pull is due


def test_a_release_whose_pull_fails_stops_neither_the_others_nor_the_beat(
    owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = bound_gate(owner, closed_url())
    broken, healthy = started(gate, version="broken"), started(gate, version="healthy")
    pull = Release.pull

    def pull_unless_broken(release: Release, now: datetime | None = None, **claim: datetime | None) -> list[Pull]:
        if release.pk == broken.pk:
            raise OperationalError("the database went away")
        return pull(release, now, **claim)

    monkeypatch.setattr(Release, "pull", pull_unless_broken)

    assert tasks.pull_due_releases() == 1

    assert [pull.release_id for pull in Pull.objects.all()] == [healthy.pk]
    broken.refresh_from_db()
    assert broken.next_pull_at is not None
    assert broken.next_pull_at > timezone.now()  # held by its lease, then due again


def test_a_release_deleted_before_its_task_runs_is_not_pulled(owner: User) -> None:
    release = started(bound_gate(owner, closed_url()))
    release_id = release.pk
    release.delete()

    tasks.pull_release(release_id)

    assert not Pull.objects.exists()


def observation_of(release: Release, value: float, at: datetime) -> Observation:
    """An observation pulled `at` (with its Pull), as `Release.pull` keeps one."""
    metric = release.gate.gate_metrics.get().metric
    minutes = (at - release.started_at).total_seconds() / 60
    observation = release.observe(metric, value, None, minutes, source=Source.PULL, at=at)
    Pull.objects.create(
        release=release,
        metric=metric,
        source=metric.store_query.source,
        pulled_at=at,
        minutes=minutes,
        outcome=PullOutcome.OK,
        query_sent='mb_pull_error_ratio{release="v1"}',
        value=value,
        canary_value=value,
        sampled_at=at,
        observation=observation,
    )
    return observation


@pytest.mark.parametrize("missing_means", [VerdictState.INCONCLUSIVE, VerdictState.ROLLBACK])
def test_a_pulled_metric_without_an_observation_for_longer_than_the_gate_waits_is_missing(
    owner: User, missing_means: str
) -> None:
    gate = bound_gate(owner, closed_url(), missing_after_minutes=1, missing_means=missing_means)
    release = started(gate)
    moment = timezone.now() - timedelta(minutes=5)
    observation_of(release, GOOD_VALUE, moment)
    for seconds in (10, 15, 25, 45):  # the store is down from then on
        release.pull(moment + timedelta(seconds=seconds))

    assert release.verdict(moment + timedelta(seconds=55)).state == VerdictState.ROLLOUT
    later = release.verdict(moment + timedelta(seconds=61))
    assert later.state == missing_means
    assert later.metrics[0].is_missing
    if missing_means == VerdictState.ROLLBACK:
        assert "is missing (no observation in time)" in later.summary


def test_a_metric_that_is_only_pushed_is_judged_on_its_newest_observation_however_old(owner: User) -> None:
    gate = bound_gate(owner, closed_url(), missing_after_minutes=1, missing_means=VerdictState.ROLLBACK)
    MetricQuery.objects.all().delete()
    release = started(gate)
    release.observe(gate.gate_metrics.get().metric, GOOD_VALUE, owner, minutes=1)

    assert release.verdict().state == VerdictState.ROLLOUT


def test_a_pulled_metric_is_not_missing_for_the_time_after_its_pulling_ended(owner: User) -> None:
    gate = bound_gate(owner, closed_url(), missing_after_minutes=1, missing_means=VerdictState.ROLLBACK)
    release = started(gate, minutes_ago=30)
    moment = timezone.now() - timedelta(minutes=20)
    observation_of(release, GOOD_VALUE, moment)
    Release.objects.filter(pk=release.pk).update(
        next_pull_at=None, pulling_ended_at=moment + timedelta(seconds=5), pulling_ended_because=PullingEnded.LIMIT
    )
    release.refresh_from_db()

    assert release.verdict().state == VerdictState.ROLLOUT


def test_a_pulled_metric_over_its_failure_limit_stays_rolled_back_when_it_goes_silent(owner: User) -> None:
    gate = bound_gate(owner, closed_url(), missing_after_minutes=1, missing_means=VerdictState.INCONCLUSIVE)
    release = started(gate)
    moment = timezone.now() - timedelta(minutes=5)
    observation_of(release, BAD_VALUE, moment)

    verdict = release.verdict()

    assert verdict.state == VerdictState.ROLLBACK
    assert verdict.metrics[0].cause == "failure_limit"


def pull_row(release: Release, outcome: str, at: datetime, **fields) -> Pull:
    metric = release.gate.gate_metrics.get().metric
    return Pull.objects.create(
        release=release,
        metric=metric,
        source=DataSource.objects.get(name="prod"),
        pulled_at=at,
        minutes=(at - release.started_at).total_seconds() / 60,
        outcome=outcome,
        query_sent='mb_pull_error_ratio{release="v1"}',
        **fields,
    )


def page_text(client: Client, release: Release) -> str:
    response = client.get(release.get_absolute_url())
    assert response.status_code == 200
    return visible_text(response.content.decode())


class _TextReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in ("script", "style", "head")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("script", "style", "head")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """What a person reads on the page, its spaces collapsed."""
    reader = _TextReader()
    reader.feed(html)
    return " ".join("".join(reader.parts).split())


def test_the_release_page_shows_a_compared_pull_with_both_raw_numbers_and_the_query_as_sent(
    client: Client, owner: User
) -> None:
    release = started(bound_gate(owner, closed_url()))
    MetricQuery.objects.update(compare=Compare.RATIO)
    moment = timezone.now()
    observation = observation_of(release, 700, moment)
    Pull.objects.filter(observation=observation).update(
        canary_value=1400, baseline_value=2, baseline_query_sent='mb_pull_error_ratio{release="stable"}'
    )
    client.force_login(owner)

    text = page_text(client, release)

    assert "Pulled from data sources" in text
    assert "canary 1400, baseline 2" in text
    assert "The query as sent" in text
    assert 'mb_pull_error_ratio{release="v1"}' in text
    assert 'mb_pull_error_ratio{release="stable"}' in text
    assert "prod (Prometheus)" in text
    assert "Next pull in" in text or "Next pull now" in text


def test_the_release_page_shows_no_data_with_the_stores_answer(client: Client, owner: User) -> None:
    release = started(bound_gate(owner, closed_url()))
    pull_row(release, PullOutcome.NO_DATA, timezone.now(), error_kind=Kind.NO_DATA, detail="")
    client.force_login(owner)

    text = page_text(client, release)

    assert "No data No data: no series matches the query." in text


@pytest.mark.parametrize(
    "because", [PullingEnded.ROLLBACK, PullingEnded.LIMIT, PullingEnded.NOTHING_BOUND], ids=lambda value: value
)
def test_the_release_page_says_when_pulling_ended_and_why(client: Client, owner: User, because: str) -> None:
    release = started(bound_gate(owner, closed_url()))
    pull_row(release, PullOutcome.FAILED, timezone.now(), error_kind=Kind.TIMEOUT, failures_in_a_row=2)
    Release.objects.filter(pk=release.pk).update(
        next_pull_at=None, pulling_ended_at=timezone.now(), pulling_ended_because=because
    )
    client.force_login(owner)

    text = page_text(client, release)

    assert "Pulling ended on " in text
    assert str(PullingEnded(because).label) in text
    assert "Prometheus “prod” could not be asked, 2 times in a row; no next try: pulling ended." in text
    assert "Next pull" not in text


def test_the_release_page_stands_whatever_became_of_its_pulls(client: Client, owner: User) -> None:
    """A pull whose source and binding are gone, one whose store's answer is of no known kind,
    one whose model was unusable: each is worded, and the page never fails."""
    release = started(bound_gate(owner, closed_url()))
    moment = timezone.now()
    pull_row(release, PullOutcome.FAILED, moment, error_kind="", detail="ImportError", failures_in_a_row=7)
    other = Metric.objects.create(name="queue depth", owner=owner)
    GateMetric.objects.create(gate=release.gate, metric=other)
    Pull.objects.create(
        release=release,
        metric=other,
        source=None,
        pulled_at=moment,
        minutes=20,
        outcome=PullOutcome.FAILED,
        query_sent="queue_depth",
        error_kind="model_unusable",
        detail="Version 3 of the model of “queue depth” cannot be used.",
        failures_in_a_row=1,
    )
    client.force_login(owner)

    text = page_text(client, release)

    assert "The source could not be asked. ImportError" in text
    assert "The value of “queue depth” could not be judged, 1 time in a row;" in text
    assert "no longer bound" in text
    assert "deleted" in text
    with translation.override("pt-br"):
        assert client.get(release.get_absolute_url(), headers={"Accept-Language": "pt-br"}).status_code == 200


def test_a_release_not_pulled_shows_no_pulling_section(client: Client, owner: User) -> None:
    gate = Gate.objects.create(name="Pushed", owner=owner)
    GateMetric.objects.create(gate=gate, metric=trained(owner, "error rate"))
    release = gate.start_release(owner, name="checkout-web")
    client.force_login(owner)

    assert "Pulled from data sources" not in page_text(client, release)


def test_the_verdict_of_a_pulled_observation_shows_its_provenance_and_both_raw_numbers(
    client: Client, owner: User
) -> None:
    release = started(bound_gate(owner, closed_url()))
    MetricQuery.objects.update(compare=Compare.DIFFERENCE)
    observation = observation_of(release, 700, timezone.now())
    Pull.objects.filter(observation=observation).update(
        canary_value=1000, baseline_value=300, baseline_query_sent='mb_pull_error_ratio{release="stable"}'
    )
    client.force_login(owner)

    response = client.get(observation.verdict.get_absolute_url())

    assert response.status_code == 200
    text = visible_text(response.content.decode())
    assert "Read from Prometheus “prod” on" in text
    assert "The canary's value 1000 and the baseline's 300 give 700 (the canary's value minus the baseline's)." in text
    assert 'mb_pull_error_ratio{release="stable"}' in text
    assert "checkout-web" in text


def test_the_verdict_of_a_pulled_observation_stands_once_its_release_is_gone(client: Client, owner: User) -> None:
    release = started(bound_gate(owner, closed_url()))
    verdict = observation_of(release, 700, timezone.now()).verdict
    release.delete()
    client.force_login(owner)

    response = client.get(verdict.get_absolute_url())

    assert response.status_code == 200
    assert "The record of the query that read it is gone" in response.content.decode()


def test_the_release_json_says_how_its_metrics_are_pulled(client: Client, owner: User) -> None:
    release = started(bound_gate(owner, closed_url()))
    [failed] = release.pull()
    release.refresh_from_db()
    assert release.next_pull_at is not None
    pushed_gate = Gate.objects.create(name="Pushed", owner=owner)
    GateMetric.objects.create(gate=pushed_gate, metric=trained(owner, "cpu"))
    pushed = pushed_gate.start_release(owner, name="pushed")

    answer = client.get(reverse("api:release", args=[release.pk]), headers=bearer(owner)).json()
    not_pulled = client.get(reverse("api:release", args=[pushed.pk]), headers=bearer(owner)).json()

    assert answer["pulling"] == {
        "next_pull_at": release.next_pull_at.isoformat().replace("+00:00", "Z"),
        "ended_at": None,
        "ended_because": None,
        "metrics": [
            {
                "metric": failed.metric_id,
                "name": "error rate",
                "outcome": "failed",
                "error": "The connection was refused: nothing answers at that address and port. " + failed.detail,
                "failures_in_a_row": 1,
                "pulled_at": failed.pulled_at.isoformat().replace("+00:00", "Z"),
            }
        ],
    }
    assert not_pulled["pulling"] is None


def test_the_release_page_reads_as_much_however_many_metrics_are_pulled(client: Client, owner: User) -> None:
    def queries_of_page(release: Release) -> int:
        with CaptureQueriesContext(connection) as captured:
            page_text(client, release)
        return len(captured)

    client.force_login(owner)
    one = started(bound_gate(owner, closed_url()), version="one")
    observation_of(one, GOOD_VALUE, timezone.now())
    three_gate = bound_gate(owner, closed_url(), metric=trained(owner, "latency"))
    three = started(three_gate, version="three")
    for name in ("cpu", "queue"):
        metric = trained(owner, name)
        GateMetric.objects.create(gate=three_gate, metric=metric, weight=1)
        MetricQuery.objects.create(metric=metric, source=DataSource.objects.get(name="prod"), query="up")
    for metric in Metric.objects.filter(name__in=["latency", "cpu", "queue"]):
        observation = three.observe(metric, GOOD_VALUE, None, source=Source.PULL)
        Pull.objects.create(
            release=three, metric=metric, minutes=20, outcome=PullOutcome.OK, query_sent="up", observation=observation
        )

    assert queries_of_page(three) == queries_of_page(one)


def test_a_gates_releases_are_listed_with_their_pulling_in_as_many_queries_however_many(
    client: Client, owner: User
) -> None:
    gate = bound_gate(owner, closed_url())
    headers = bearer(owner)
    url = reverse("api:gate_releases", args=[gate.pk])

    def queries_of_list() -> tuple[int, list[dict]]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, headers=headers)
        assert response.status_code == 200
        return len(captured), response.json()["results"]

    started(gate, version="first").pull()
    queries_of_list()  # the token's first use is recorded once
    few, listed = queries_of_list()
    for number in range(3):
        started(gate, version=f"v{number}").pull()
    many, listed = queries_of_list()

    assert many == few
    assert [release["pulling"]["metrics"][0]["outcome"] for release in listed] == ["failed"] * 4


def test_a_beat_that_cannot_reach_the_database_sends_nothing_and_raises_nothing(
    owner: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    started(bound_gate(owner, closed_url()))

    def database_away(*args, **kwargs) -> list[int]:
        raise OperationalError("the database went away")

    monkeypatch.setattr(type(Release.objects), "claim_due_for_pulling", database_away)

    assert tasks.pull_due_releases() == 0

    assert "could not be claimed" in caplog.text
    assert not Pull.objects.exists()
