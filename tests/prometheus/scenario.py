"""A scripted scenario for /metrics, and what its figures must be, worked out from the stored rows
one by one (not by the aggregate queries /metrics runs)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import ApiToken, TokenScope
from metrics.models import (
    DataSource,
    Delivery,
    DeliveryEvent,
    DeliveryStatus,
    Failure,
    Gate,
    GateMetric,
    Job,
    JobKind,
    JobStatus,
    Metric,
    Outcome,
    OutcomeVia,
    Pull,
    PullOutcome,
    Release,
    Verdict,
    VerdictState,
    Webhook,
)
from tests.api.test_gates import trained
from tests.factories import MetricFactory

GOOD_VALUE = 900  # the tests' rule: a rollout whatever the minutes
BAD_VALUE = 100  # a rollback from minute 10
# Keys no figure may name: release keys are unbounded.
RELEASE_KEYS = ("checkout/web@a1b2c3d4e5", "checkout/web@f6a7b8c9d0", "search/api@0123456789")
SOURCE_NAME = "Payments team's private Prometheus"

# A series as the parser reads it: its sample name and its labels.
Series = tuple[str, frozenset[tuple[str, str]]]


@dataclass
class Scenario:
    owner: User
    metrics: dict[str, Metric]
    gates: dict[str, Gate]
    source: DataSource


def metrics_token(user: User) -> str:
    return ApiToken.objects.issue(user, f"Prometheus {ApiToken.objects.count()}", TokenScope.METRICS)[1]


def release_of(gate: Gate, key: str, owner: User, minutes_ago: float = 30) -> Release:
    started = timezone.now() - timedelta(minutes=minutes_ago)
    return Release.objects.create(gate=gate, name=key.split("@")[0], key=key, created_by=owner, started_at=started)


def scripted(owner: User) -> Scenario:
    """Metrics and their verdicts; two gates whose releases ended right, wrong and inconclusive
    (and one still running); jobs done, failed, queued and running; pulls failed; webhook
    deliveries in every status."""
    metrics = {name: trained(owner, name) for name in ("Error rate", "p95 latency")}
    metrics["Queue depth"] = MetricFactory.create(owner=owner, name="Queue depth")  # no model: no accuracy
    for value in (BAD_VALUE, GOOD_VALUE, BAD_VALUE):
        metrics["Error rate"].predict(value, 20, owner)
    metrics["p95 latency"].predict(GOOD_VALUE, 5, owner)

    checkout = Gate.objects.create(name="Checkout deploys", owner=owner, pass_score=80, marginal_score=50)
    GateMetric.objects.create(gate=checkout, metric=metrics["Error rate"], weight=1)
    search = Gate.objects.create(name="Search deploys", owner=owner, pass_score=80, marginal_score=50)
    GateMetric.objects.create(gate=search, metric=metrics["p95 latency"], weight=1)

    # The gate says rollback and the team rolls back: right.
    right = release_of(checkout, RELEASE_KEYS[0], owner)
    right.observe(metrics["Error rate"], BAD_VALUE, owner, minutes=12)
    right.answer(owner)
    right.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.API)
    # The gate says rollout, asked twice, and the team rolls back: wrong.
    wrong = release_of(checkout, RELEASE_KEYS[1], owner)
    wrong.observe(metrics["Error rate"], GOOD_VALUE, owner, minutes=12)
    wrong.answer(owner, at=timezone.now() - timedelta(minutes=5))
    wrong.answer(owner)
    wrong.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.FLAGGER)
    # Nothing observed: the gate was inconclusive, and the team rolled out.
    Release.objects.create(
        gate=checkout, name="checkout-web", outcome=Outcome.ROLLOUT, gate_said=VerdictState.INCONCLUSIVE
    )
    Gate.objects.create(name="Billing deploys", owner=owner, pass_score=80, marginal_score=50)  # no release yet
    running = release_of(search, RELEASE_KEYS[2], owner)  # no answer, no outcome yet
    Release.objects.create(gate=search, name="search-api", outcome=Outcome.ROLLOUT, gate_said=VerdictState.ROLLOUT)

    started = timezone.now() - timedelta(hours=1)
    for kind, status, failure, seconds in [
        (JobKind.TRAINING, JobStatus.DONE, "", 3),
        (JobKind.TRAINING, JobStatus.DONE, "", 40),
        (JobKind.TRAINING, JobStatus.FAILED, Failure.NOT_ENOUGH_DATA, 70),
        (JobKind.IMPORT, JobStatus.FAILED, Failure.CSV_ERRORS, 0.5),
        (JobKind.IMPORT, JobStatus.DONE, "", 2000),
    ]:
        Job.objects.create(
            kind=kind,
            metric=metrics["Error rate"],
            status=status,
            failure=failure,
            started_at=started,
            finished_at=started + timedelta(seconds=seconds),
        )
    # Never started: its queue was unreachable.
    Job.objects.create(
        kind=JobKind.IMPORT,
        metric=metrics["p95 latency"],
        status=JobStatus.FAILED,
        failure=Failure.UNQUEUED,
        finished_at=started,
    )
    Job.objects.create(kind=JobKind.IMPORT, metric=metrics["Queue depth"])
    Job.objects.create(kind=JobKind.IMPORT, metric=metrics["Queue depth"])
    Job.objects.create(kind=JobKind.FILL, metric=metrics["p95 latency"], status=JobStatus.RUNNING, started_at=started)

    source = DataSource.objects.create(owner=owner, name=SOURCE_NAME, url="http://127.0.0.1:9")
    for outcome, error_kind in [
        (PullOutcome.FAILED, "timeout"),
        (PullOutcome.FAILED, "timeout"),
        (PullOutcome.FAILED, "refused"),
        (PullOutcome.NO_DATA, "no_data"),
        (PullOutcome.OK, ""),
    ]:
        Pull.objects.create(
            release=running,
            metric=metrics["p95 latency"],
            source=source,
            minutes=1,
            outcome=outcome,
            query_sent="up",
            error_kind=error_kind,
        )

    hook = Webhook.objects.create(gate=checkout, url="http://127.0.0.1:9/hook")
    for delivery_status in [
        DeliveryStatus.DELIVERED,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.FAILED,
        DeliveryStatus.PENDING,
        DeliveryStatus.RETRYING,
    ]:
        Delivery.objects.create(
            webhook=hook,
            release=right,
            event=DeliveryEvent.VERDICT,
            state="rollback",
            body="{}",
            status=delivery_status,
        )
    return Scenario(owner=owner, metrics=metrics, gates={"checkout": checkout, "search": search}, source=source)


def figures(text: str) -> dict[Series, float]:
    """Every sample of a scrape, by its name and labels, as Prometheus' own parser reads them."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def family(found: dict[Series, float], name: str) -> dict[frozenset[tuple[str, str]], float]:
    """The samples named `name`, by their labels."""
    return {labels: value for (sample, labels), value in found.items() if sample == name}


def labels(**pairs: object) -> frozenset[tuple[str, str]]:
    return frozenset((key, str(value)) for key, value in pairs.items())


def expected_verdicts() -> dict[frozenset, float]:
    counted = Counter((verdict.metric_id, verdict.metric.name, verdict.state) for verdict in Verdict.objects.all())
    return {labels(metric_id=pk, metric=name, state=state): count for (pk, name, state), count in counted.items()}


def expected_releases() -> dict[frozenset, float]:
    counted: Counter[tuple[int, str, str]] = Counter()
    for release in Release.objects.select_related("gate"):
        newest = release.answers.order_by("-asked_at", "-pk").first()
        counted[release.gate_id, release.gate.name, newest.state if newest else "unanswered"] += 1
    return {labels(gate_id=pk, gate=name, verdict=state): count for (pk, name, state), count in counted.items()}


def expected_outcomes(values: tuple[str, ...] = ("rollback", "rollout")) -> dict[frozenset, float]:
    """For each gate with an outcome, how many of its releases have each of `values` as their
    outcome (0 for a value none has)."""
    counted: dict[tuple[int, str], Counter[str]] = {}
    for release in Release.objects.select_related("gate").exclude(outcome=""):
        counted.setdefault((release.gate_id, release.gate.name), Counter())[release.outcome] += 1
    return {
        labels(gate_id=pk, gate=gate, outcome=value): counts[value]
        for (pk, gate), counts in counted.items()
        for value in values
    }


def expected_judgements() -> dict[frozenset, float]:
    """For every gate (with releases or not), how many of its releases with an outcome it was
    right, wrong and inconclusive about, each release's `gate_was` read one by one."""
    return {
        labels(gate_id=gate.pk, gate=gate.name, judgement=judgement): sum(
            1 for release in gate.releases.all() if release.gate_was == judgement
        )
        for gate in Gate.objects.all()
        for judgement in ("right", "wrong", "inconclusive")
    }


def expected_job_seconds() -> dict[tuple[str, str], list[float]]:
    """Each ended job that started, by kind and status: its time from start to end, one by one."""
    took: dict[tuple[str, str], list[float]] = {}
    for job in Job.objects.filter(status__in=["done", "failed"], started_at__isnull=False):
        assert job.started_at is not None
        assert job.finished_at is not None
        took.setdefault((job.kind, job.status), []).append((job.finished_at - job.started_at).total_seconds())
    return took
