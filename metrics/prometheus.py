"""Make or Break's own figures, in Prometheus' text format (`GET /metrics`).

Most are read from the database when Prometheus scrapes (`DatabaseFigures`): every process
and every instance answers the same, the database's, whichever one is asked. Each family is
one aggregate query, however many metrics, gates and releases there are. Labels name only
what users create a few of (metrics, gates and data sources, by id; metrics and gates by
name too, which every account sees) and fixed sets of codes (states, kinds, statuses):
never a release, whose keys and ids grow without bound. A data source's name is its
owner's alone: it is named by its id.

What only a process knows (how long its answers took) is instrumented in the process
(`VERDICT_ANSWER_SECONDS`). Under gunicorn each worker writes it to a file of its own in
`PROMETHEUS_MULTIPROC_DIR` (gunicorn.conf.py sets one per run), and whichever worker answers
the scrape adds them all up (`MultiProcessCollector`); without that folder (runserver, the
tests), the process answers with its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from django.utils import timezone
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from metrics.models import (
    Delivery,
    DeliveryStatus,
    Gate,
    Job,
    JobKind,
    JobStatus,
    Outcome,
    Pull,
    Release,
    Verdict,
)
from metrics.models import Metric as RolloutMetric

# Prometheus' text format, version 0.0.4: what every Prometheus server reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# A job's time from its worker's start to its end, in seconds: a second to an hour (jobs stop
# at MBREAK_JOB_SOFT_TIME_LIMIT, half an hour by default).
JOB_DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)
# A release never asked for its verdict has no newest verdict.
UNANSWERED = "unanswered"
JUDGEMENTS = ("right", "wrong", "inconclusive")
# Deliveries still to be sent are a level that rises and falls; those that ended only add up.
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
ENDED = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)

# This process's own instruments, exposed beside the database's figures.
INSTRUMENTS = CollectorRegistry()
VERDICT_ANSWER_SECONDS = Histogram(
    "mbreak_verdict_answer_seconds",
    "Seconds the API took to work out a release verdict it answered (Release.answer).",
    registry=INSTRUMENTS,
)


class DatabaseFigures:
    """The figures the database holds, read when Prometheus scrapes (a prometheus_client collector)."""

    def collect(self) -> Iterator[Metric]:
        yield verdicts()
        yield from releases()
        yield gate_judgements()
        yield from answering_models()
        yield from jobs()
        yield pull_failures()
        yield from webhook_deliveries()


def verdicts() -> Metric:
    family = GaugeMetricFamily(
        "mbreak_verdicts", "Verdicts given, by metric and state.", labels=["metric_id", "metric", "state"]
    )
    for row in Verdict.objects.counts_by_metric_and_state():
        family.add_metric([str(row["metric_id"]), row["metric__name"], row["state"]], row["count"])
    return family


def releases() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "mbreak_releases",
        "Releases, by gate and the newest verdict answered for them (unanswered: never asked).",
        labels=["gate_id", "gate", "verdict"],
    )
    for row in Release.objects.counts_by_gate_and_newest_verdict():
        verdict = row["newest_verdict"] or UNANSWERED
        family.add_metric([str(row["gate_id"]), row["gate__name"], verdict], row["count"])
    yield family
    outcomes = GaugeMetricFamily(
        "mbreak_release_outcomes",
        "Releases whose outcome was recorded, by gate and outcome (rolled back or out).",
        labels=["gate_id", "gate", "outcome"],
    )
    counted = Release.objects.outcome_counts_by_gate()
    for gate, counts in per_gate(counted, "outcome", Outcome.values):
        for outcome, count in counts.items():
            outcomes.add_metric([*gate, outcome], count)
    yield outcomes


def gate_judgements() -> Metric:
    family = GaugeMetricFamily(
        "mbreak_gate_judgements",
        "Releases with an outcome, by gate and whether the gate's verdict then was right, wrong or inconclusive.",
        labels=["gate_id", "gate", "judgement"],
    )
    for gate in Gate.objects.with_track_records().order_by().only("pk", "name"):
        record = gate.track_record
        for judgement in JUDGEMENTS:
            family.add_metric([str(gate.pk), gate.name, judgement], getattr(record, judgement))
    return family


def per_gate(
    rows: Iterable[dict[str, Any]], field: str, values: Iterable[str]
) -> list[tuple[tuple[str, str], dict[str, int]]]:
    """Each gate's counts of `values` of `field`, 0 for those it has none of."""
    gates: dict[tuple[str, str], dict[str, int]] = {}
    for row in rows:
        gate = (str(row["gate_id"]), row["gate__name"])
        gates.setdefault(gate, dict.fromkeys(values, 0))[row[field]] = row["count"]
    return list(gates.items())


def answering_models() -> Iterator[Metric]:
    accuracy = GaugeMetricFamily(
        "mbreak_model_accuracy",
        "Held-out accuracy (0 to 1) of the version answering each metric's verdicts.",
        labels=["metric_id", "metric"],
    )
    age = GaugeMetricFamily(
        "mbreak_model_age_seconds",
        "Seconds since the version answering each metric's verdicts was trained.",
        labels=["metric_id", "metric"],
    )
    now = timezone.now()
    for row in RolloutMetric.objects.answering_versions():
        labels = [str(row["pk"]), row["name"]]
        accuracy.add_metric(labels, row["latest_model_accuracy"])
        age.add_metric(labels, max(0.0, (now - row["latest_model_trained_at"]).total_seconds()))
    yield accuracy
    yield age


def jobs() -> Iterator[Metric]:
    queued = GaugeMetricFamily("mbreak_jobs_queued", "Jobs waiting for a worker, by kind.", labels=["kind"])
    running = GaugeMetricFamily("mbreak_jobs_running", "Jobs a worker is running, by kind.", labels=["kind"])
    active = {(kind, status): 0 for kind in JobKind.values for status in (JobStatus.QUEUED, JobStatus.RUNNING)}
    for row in Job.objects.active_counts():
        active[row["kind"], row["status"]] = row["count"]
    for (kind, status), count in active.items():
        (queued if status == JobStatus.QUEUED else running).add_metric([kind], count)
    yield queued
    yield running
    failures = GaugeMetricFamily(
        "mbreak_job_failures", "Jobs that failed, by kind and why.", labels=["kind", "failure"]
    )
    for row in Job.objects.failure_counts():
        failures.add_metric([row["kind"], row["failure"]], row["count"])
    yield failures
    durations = HistogramMetricFamily(
        "mbreak_job_duration_seconds",
        "Seconds the jobs that ran took, from their worker's start to their end, by kind and how they ended.",
        labels=["kind", "status"],
    )
    for took in Job.objects.durations(JOB_DURATION_BUCKETS):
        # Each bound as prometheus_client writes one ("1.0").
        buckets = [(str(bound), within) for bound, within in zip(JOB_DURATION_BUCKETS, took.within, strict=True)]
        durations.add_metric([took.kind, took.status], [*buckets, ("+Inf", took.count)], sum_value=took.total_seconds)
    yield durations


def pull_failures() -> Metric:
    family = GaugeMetricFamily(
        "mbreak_pull_failures",
        "Pulls of bound metrics that failed, by data source (its id) and what went wrong.",
        labels=["source_id", "kind"],
    )
    for row in Pull.objects.failure_counts_by_source():
        source = "" if row["source_id"] is None else str(row["source_id"])
        family.add_metric([source, row["error_kind"]], row["count"])
    return family


def webhook_deliveries() -> Iterator[Metric]:
    counts = Delivery.objects.counts_by_status()
    ended = GaugeMetricFamily(
        "mbreak_webhook_deliveries", "Webhook deliveries that ended, by status.", labels=["status"]
    )
    for status in ENDED:
        ended.add_metric([status], counts[status])
    yield ended
    waiting = GaugeMetricFamily(
        "mbreak_webhook_deliveries_waiting",
        "Webhook deliveries still to be sent: not tried yet, or to be tried again.",
        labels=["status"],
    )
    for status in WAITING:
        waiting.add_metric([status], counts[status])
    yield waiting


def scrape_registry() -> CollectorRegistry:
    """What a scrape reads: the database's figures, and the instruments of every worker of this
    server (multiprocess mode) or of this process."""
    registry = CollectorRegistry()
    registry.register(DatabaseFigures())
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]  # its __init__ has no hints
    else:
        registry.register(INSTRUMENTS)
    return registry


def exposition() -> bytes:
    """The scrape's answer, in Prometheus' text format (`CONTENT_TYPE`)."""
    return generate_latest(scrape_registry())
