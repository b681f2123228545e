"""Does a scrape of /metrics stay cheap as metrics, verdicts and releases grow? Milliseconds and queries per scrape.

    .venv/bin/python bench/metrics_scrape.py                    # 100, 1,000 and 5,000 metrics, SQLite
    .venv/bin/python bench/metrics_scrape.py --database-url postgres://postgres@127.0.0.1:5432/mbreak_scrape_bench
    .venv/bin/python bench/metrics_scrape.py --sizes 10000 --verdicts 50

Runs in a throw-away database: SQLite in a temporary folder, or the PostgreSQL database
`--database-url` names, created here and dropped at the end. For each size, it grows the
database to that many metrics, each with a trained version (one fitted model's row, copied),
`--verdicts` (20) verdicts in the three states, a failed and a running job and a failed pull;
a gate per ten metrics with `--releases` (20) releases each, every one answered and most of
them with an outcome (right, wrong and inconclusive), and a webhook delivery per release.
Then it times GET /metrics through Django's test client with a metrics token, as Prometheus
asks it: the whole Django stack, the token's check and every aggregate query. "scrape ms" is
the median of `--repeat` (7) scrapes after a first one; "queries" what one scrape sends the
database (the same at every size: one aggregate a family); "series" the samples it answers.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

from harness import (
    add_database_url_option,
    indicators,
    log,
    parse_sizes,
    postgres_database,
    print_table,
    setup_django,
    sqlite_database,
)

STATES = ("rollback", "rollout", "inconclusive")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=parse_sizes, default="100,1000,5000", help="metrics (default 100,1000,5000)")
    parser.add_argument("--verdicts", type=int, default=20, help="verdicts per metric (default 20)")
    parser.add_argument("--releases", type=int, default=20, help="releases per gate of ten metrics (default 20)")
    parser.add_argument("--repeat", type=int, default=7)
    add_database_url_option(parser, None, "a PostgreSQL database to create, fill and drop (default: SQLite)")
    args = parser.parse_args(argv)

    database: AbstractContextManager[str] = (
        sqlite_database() if args.database_url is None else postgres_database(args.database_url, "mbreak_scrape_bench")
    )
    with database as url:
        os.environ["DATABASE_URL"] = url
        setup_django(migrate=True)
        from django.contrib.auth.models import User
        from django.test.utils import setup_test_environment

        setup_test_environment()  # the test client's host and settings
        logging.getLogger("mbreak.requests").setLevel(logging.WARNING)  # a line per scrape: only figures here
        owner = User.objects.create_user("scrape-bench")
        rows = []
        for size in args.sizes:
            log(f"growing to {size:,} metrics")
            counts = grow(owner, size, args.verdicts, args.releases)
            log(f"scraping {size:,} metrics")
            rows.append((*counts, *measure(owner, args.repeat)))
    print_table(
        [
            ("metrics", ">8"),
            ("verdicts", ">10"),
            ("releases", ">9"),
            ("series", ">8"),
            ("queries", ">8"),
            ("first ms", ">9.1f"),
            ("scrape ms", ">10.1f"),
            ("KiB", ">7.0f"),
        ],
        rows,
    )
    return 0


def grow(owner: Any, size: int, verdicts_per_metric: int, releases_per_gate: int) -> tuple[int, int, int]:
    """Add metrics (and what comes with each, see the docstring) until there are `size`; the
    counts of metrics, verdicts and releases then."""
    from metrics.models import Metric, Release, Verdict

    metrics = add_metrics(owner, size, verdicts_per_metric)
    for first in range(0, len(metrics), 10):
        add_gate(owner, metrics[first : first + 10], releases_per_gate)
    return Metric.objects.count(), Verdict.objects.count(), Release.objects.count()


def add_metrics(owner: Any, size: int, verdicts_per_metric: int) -> list[Any]:
    """Metrics up to `size`, each with a trained version, its verdicts, a failed and a done job."""
    from django.utils import timezone

    from metrics.models import Job, Metric, TrainedModel, Verdict
    from metrics.models.metric import search_key

    fitted = first_trained_model(owner)
    have = Metric.objects.count()
    metrics = Metric.objects.bulk_create(
        Metric(
            name=f"Metric {number}",
            category="Bench",
            owner=owner,
            name_key=search_key(f"Metric {number}"),
            category_key=search_key("Bench"),
        )
        for number in range(have, size)
    )
    versions = TrainedModel.objects.bulk_create(clone(fitted, metric=metric) for metric in metrics)
    for metric, version in zip(metrics, versions, strict=True):
        metric.active_model = version
    Metric.objects.bulk_update(metrics, ["active_model"], batch_size=1000)
    Verdict.objects.bulk_create(
        (
            Verdict(
                metric=metric,
                model=version,
                model_version=1,
                model_accuracy=version.accuracy,
                value=number,
                minutes=10,
                state=STATES[number % 3],
                leaning=STATES[number % 2],
                leaf_rollbacks=1,
                leaf_rollouts=1,
                asked_by=owner,
            )
            for metric, version in zip(metrics, versions, strict=True)
            for number in range(verdicts_per_metric)
        ),
        batch_size=2000,
    )
    now = timezone.now()
    started = now - timedelta(minutes=5)
    failed = {"status": "failed", "failure": "not_enough_data", "started_at": started, "finished_at": now}
    done = {"status": "done", "started_at": started, "finished_at": now}
    Job.objects.bulk_create(
        job
        for metric in metrics
        for job in (Job(kind="training", metric=metric, **failed), Job(kind="import", metric=metric, **done))
    )
    return metrics


def add_gate(owner: Any, metrics: list[Any], releases_per_gate: int) -> None:
    """A gate of `metrics`, with its answered releases (most with an outcome), a failed pull of
    each metric, and a webhook delivery per release."""
    from metrics.models import Answer, DataSource, Delivery, Gate, GateMetric, Pull, Release, Webhook

    gate = Gate.objects.create(name=f"Gate {metrics[0].pk}", owner=owner, pass_score=80, marginal_score=50)
    GateMetric.objects.bulk_create(GateMetric(gate=gate, metric=metric, weight=1) for metric in metrics)
    releases = Release.objects.bulk_create(
        Release(
            gate=gate,
            name="service",
            key=f"service@{gate.pk}-{number}",
            created_by=owner,
            outcome="" if number % 5 == 0 else ("rollback", "rollout")[number % 2],
            gate_said=STATES[number % 3],
        )
        for number in range(releases_per_gate)
    )
    Answer.objects.bulk_create(
        Answer(release=release, state=STATES[number % 3], rule="score") for number, release in enumerate(releases)
    )
    source = DataSource.objects.create(owner=owner, name=f"Source {gate.pk}", url="http://127.0.0.1:9")
    failed = {"minutes": 1, "outcome": "failed", "query_sent": "up", "error_kind": "timeout"}
    Pull.objects.bulk_create(Pull(release=releases[0], metric=metric, source=source, **failed) for metric in metrics)
    hook = Webhook.objects.create(gate=gate, url="http://127.0.0.1:9/hook")
    Delivery.objects.bulk_create(
        Delivery(webhook=hook, release=release, event="verdict", state="rollback", body="{}", status="delivered")
        for release in releases
    )


def first_trained_model(owner: Any) -> Any:
    """A version fitted for real (once), whose row every bench metric's version copies."""
    from metrics.models import Metric, TrainedModel

    found = TrainedModel.objects.order_by("pk").first()
    if found is not None:
        return found
    metric = Metric.objects.create(name="Requests per minute", category="Bench", owner=owner)
    metric.import_indicators(indicators(400, seed=7), owner)
    return TrainedModel.objects.train(metric, owner)


def clone(model: Any, **changes: Any) -> Any:
    copy = type(model).objects.get(pk=model.pk)
    copy.pk = None
    copy.version = 1
    for name, value in changes.items():
        setattr(copy, name, value)
    return copy


def measure(owner: Any, repeat: int) -> tuple[int, int, float, float, float]:
    """Scrape /metrics as Prometheus does: (series, queries, the first scrape's ms, the median
    of the next `repeat` in ms, the answer's KiB)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import ApiToken, TokenScope

    _token, secret = ApiToken.objects.issue(owner, f"Prometheus {ApiToken.objects.count()}", TokenScope.METRICS)
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    timings = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        response = client.get("/metrics")
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"the scrape failed: {response.status_code} {response.content[:500]!r}")
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/metrics").content
    series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    return series, len(queries), timings[0], statistics.median(timings[1:]), len(body) / 1024


if __name__ == "__main__":
    raise SystemExit(main())
