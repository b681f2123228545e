"""Do pulled observations keep to their interval, and does a history fill cost little more than its range queries?

    .venv/bin/python bench/pull.py                     # SQLite in a temporary folder, 3 minutes of polling
    .venv/bin/python bench/pull.py --database-url postgres://postgres@127.0.0.1:5432/mbreak_pull_bench

Needs Debian's `prometheus` (`make prometheus`) and a Redis (`--redis-url`, default
`redis://127.0.0.1:6379/11`: the broker of the worker it starts).

What runs (`stores.local_prometheus`, as the store tests and `make demo-prometheus` run it):
a real Prometheus whose history is backfilled with `promtool` and which scrapes, every 5 s, an
exporter serving one live series per release and metric (`bench_pulled_<m>{release="<key>"}`,
`--releases` x `--metrics`, 200 x 5: the key is in the selector, as Argo's pod-template hash is).

- **Polling.** `--metrics` metrics (5), each trained in this process on 1,000 indicators of the
  demo's "Requests per minute" rule and bound to the data source by a query naming the
  release's key (`bench_pulled_<m>{release="{{ key }}"}`); one gate of them pulling every
  `--interval` seconds (60); then the `worker` line of the production `Procfile` (Celery,
  prefork, `--concurrency 2`, `--beat`: the beat's tick every `MBREAK_PULL_TICK_SECONDS`, 10
  unless set) and its `pulls` line (threads, `--concurrency 4`, on the pull queue, which the
  tick and the pulls are routed to) with Redis as their broker, on queues of their own and a
  beat schedule file in a temporary folder. Once they are ready, `--releases` releases (200)
  are started at once (`Gate.start_release`, the same start: every pull falls due at the same
  moment, the hardest case), and the workers pull them for `--minutes` (3). Then, from the `Pull` rows:
  each metric of each release is due at its start + k x interval (k = 0, 1, …); a pull's
  lateness is its `pulled_at` minus the time it was due; a due time with no pull by the end
  counts as late by the end minus that time, once it is more than one tick old. Printed:
  max, p99 and median lateness, the median of each release's worst, max ÷ interval (target
  < 1), pulls due, made and still waiting, failures; and the worst lateness of the first
  pulls, of the second ones, and so on: were it growing, lateness would add up over a release.
- **Filling.** `--past-releases` past releases (100) of one metric backfilled minute by minute
  for `--past-minutes` (120), a metric bound to them by its key; in `--rounds` (7) rounds, in
  turns: the fill through the domain (`Metric.queue_fill(..., send_to_worker=False)` then
  `Job.objects.run_here`: parsing the file, one range query per release through
  `MetricQuery.measure_series`, and storing every minute as one import batch in one
  transaction: "ours"), and the same 100 range queries (same URL, same form) POSTed raw with
  `requests.post`, their JSON read ("raw"). Between rounds the fill is undone and, on
  PostgreSQL, the table vacuumed (not timed): each round starts from the same table. The
  range queries Prometheus answered during each fill are counted from its own
  `prometheus_http_requests_total{handler="/api/v1/query_range"}`: must be `--past-releases`.
  The job's time is split: "reading", the 100 `measure_series` calls (`MBREAK_FILL_READERS`
  at once, 4 unless set: timed from the first one's start to the last one's end; the store
  made from the data source, each query rendered, asked, and its answer read into minutes),
  and "storing and rest" (the file kept and parsed, the job's progress, the 12,000 minutes
  stored as one import batch: an upload's path, measured by bench/jobs.py against a raw COPY).
  Target: raw ÷ the whole job ≥ 0.5 (best round of each); raw ÷ reading is shown.

Exit status 1 if a release's observation was an interval or more late, a pull failed, pulling
ended early, a fill did not send exactly one range query per release, or raw ÷ job < 0.5
(but for the figures' targets, not with --figures-only).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import math
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from harness import (
    add_database_url_option,
    add_figures_only_option,
    benchmark_database,
    indicators,
    log,
    percentile,
    print_table,
    procfile_command,
    production_environment,
    ratio_verdict,
    redis_unreachable_reason,
    replace_options,
    setup_django,
    shown_command,
    sqlite_database,
    start_worker,
)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
# A database holding this user was made by this benchmark: only such a database is dropped.
OWNER = "pull-bench-owner"
TRAINING_ROWS = 1_000
# A value the demo's "Requests per minute" rule calls healthy: the verdict stays rollout, and
# pulling goes on (a rollback verdict would end it).
HEALTHY_VALUE = 1_000.0
SCRAPE_SECONDS = 5
HOURS_BETWEEN_PAST_RELEASES = 3
FILL_RATIO_TARGET = 0.5
PULLED_SERIES = "bench_pulled_{index}"
FILLED_SERIES = "bench_filled"
POLLING_COLUMNS = [
    *[("pulls due", ">9"), ("waiting", ">7"), ("done", ">6"), ("failed", ">6"), ("no data", ">7"), ("ended", ">5")],
    *[("late max s", ">10.1f"), ("p99 s", ">6.1f"), ("median s", ">8.1f")],
    *[("worst release: median s", ">23.1f"), ("max ÷ interval", ">14")],
]
FILLING_COLUMNS = [
    *[("fill job s", ">10.3f"), ("reading s", ">9.3f"), ("storing and rest s", ">18.3f"), ("raw s", ">6.3f")],
    *[("range queries sent", ">24"), ("raw ÷ reading", ">13.2f"), ("raw ÷ job (≥ 0.5)", ">17")],
]


@dataclass
class Polling:
    releases: int
    metrics: int
    interval_s: int
    tick_s: int
    ran_s: float
    due: int  # due times passed by the end (a tick ago or more)
    waiting: int  # of those, the ones not pulled by the end
    done: int  # pulls made
    failed: int
    no_data: int
    ended_early: int  # releases whose pulling ended before the run did
    lateness_s: list[float]  # per due time: its pull's lateness, or the end's for one not pulled
    worst_per_release_s: list[float]
    worst_by_pull_s: list[float]  # the worst lateness of the first pulls, of the second ones, …
    worker_commands: list[str]  # the job worker's, with its beat, then the pulls' worker's


@dataclass
class Filling:
    releases: int
    minutes: int
    ours_s: list[float]
    reading_s: list[float]
    raw_s: list[float]
    range_queries: list[int]
    stored: int


# --- Prometheus, its history and its live series ------------------------------------------------


def history_text(past_releases: int, minutes: int, now: datetime) -> str:
    """The past releases' series, a point a minute, in the OpenMetrics text promtool backfills."""
    from stores.local_prometheus import Point, openmetrics

    points = []
    for index, (key, start) in enumerate(past_release_starts(past_releases, now)):
        for minute in range(1, minutes + 1):
            value = 900.0 + (index * 7 + minute * 13) % 200
            points.append(Point(f'{FILLED_SERIES}{{release="{key}"}}', value, start + timedelta(minutes=minute)))
    return openmetrics(points, [FILLED_SERIES])


def past_release_starts(count: int, now: datetime) -> list[tuple[str, datetime]]:
    return [
        (f"past-{index:04d}", now - timedelta(hours=HOURS_BETWEEN_PAST_RELEASES * (count - index)))
        for index in range(count)
    ]


def fill_file(past_releases: int, now: datetime) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["started_at", "decision", "key"])
    for index, (key, start) in enumerate(past_release_starts(past_releases, now)):
        writer.writerow([start.isoformat().replace("+00:00", "Z"), "rollback" if index % 5 == 0 else "rollout", key])
    return buffer.getvalue().encode()


def range_queries_answered(url: str) -> int:
    """Prometheus' own count of the range queries it answered (every status)."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("prometheus_http_requests_total{") and 'handler="/api/v1/query_range"' in line
    )


# --- the run ------------------------------------------------------------------------------------


def prepare(arguments: argparse.Namespace, prometheus_url: str) -> dict[str, Any]:
    """The owner, the data source, the pulled metrics (trained, bound) and their gate, and the
    filled metric (bound, its history not yet filled)."""
    from django.contrib.auth.models import User
    from django.db import transaction

    from metrics.models import DataSource, Gate, Metric, MetricQuery, TrainedModel

    owner = User.objects.create_user(OWNER)
    source = DataSource.objects.create(owner=owner, name="Bench Prometheus", kind="prometheus", url=prometheus_url)
    pulled = []
    for index in range(arguments.metrics):
        metric = Metric.objects.create(name=f"Pulled {index}", owner=owner)
        metric.import_indicators(indicators(TRAINING_ROWS, seed=index), owner)
        TrainedModel.objects.train(metric, owner)
        MetricQuery.objects.create(
            metric=metric, source=source, query=PULLED_SERIES.format(index=index) + '{release="{{ key }}"}'
        )
        pulled.append(metric)
    with transaction.atomic():
        gate = Gate.objects.create(
            name="Pulled releases",
            owner=owner,
            pull_interval_seconds=arguments.interval,
            pull_for_minutes=max(1, math.ceil(arguments.minutes * 2)),
        )
        gate.set_metrics([{"metric": metric, "weight": 1.0, "critical": False} for metric in pulled])
    filled = Metric.objects.create(name="Filled", owner=owner)
    MetricQuery.objects.create(metric=filled, source=source, query=FILLED_SERIES + '{release="{{ key }}"}')
    return {"owner": owner, "gate": gate, "filled": filled, "source": source}


def poll(
    arguments: argparse.Namespace, prepared: dict[str, Any], exporter: Any, env: dict[str, str], folder: Path
) -> Polling:
    """The Procfile's worker with its beat pulls the releases for --minutes; their lateness."""
    from django.conf import settings

    for release_index in range(arguments.releases):
        for index in range(arguments.metrics):
            exporter.set(PULLED_SERIES.format(index=index) + f'{{release="r{release_index:04d}"}}', HEALTHY_VALUE)
    time.sleep(SCRAPE_SECONDS + 1)  # scraped at least once before the first pull
    command = replace_options(procfile_command("worker"), {"--schedule": str(folder / "beat-schedule")})
    pulls_command = replace_options(procfile_command("pulls"), {"-Q": env["MBREAK_PULL_QUEUE"]})
    worker = start_worker("worker", command, env, folder)
    pulls_worker = start_worker("pulls", pulls_command, env, folder)
    try:
        worker.wait_until_ready()
        pulls_worker.wait_until_ready()
        gate, owner = prepared["gate"], prepared["owner"]
        started_at = datetime.now(UTC)
        releases = [
            gate.start_release(owner, name=f"r{index:04d}", key=f"r{index:04d}", started_at=started_at)
            for index in range(arguments.releases)
        ]
        log(f"{len(releases)} releases started; the worker pulls them for {arguments.minutes:g} minutes…")
        time.sleep(arguments.minutes * 60)
        ended_at = datetime.now(UTC)
    finally:
        worker.stop()
        pulls_worker.stop()
    return measure_polling(
        arguments, releases, started_at, ended_at, settings.MBREAK_PULL_TICK_SECONDS, [command, pulls_command]
    )


def measure_polling(
    arguments: argparse.Namespace,
    releases: list[Any],
    started_at: datetime,
    ended_at: datetime,
    tick_s: int,
    commands: list[list[str]],
) -> Polling:
    from metrics.models import Pull, PullOutcome, Release

    interval = timedelta(seconds=arguments.interval)
    pulls: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for pull in Pull.objects.filter(release__in=releases, pulled_at__lte=ended_at).order_by("pulled_at", "pk"):
        pulls[pull.release_id, pull.metric_id].append(pull)
    metric_ids = list(releases[0].gate.gate_metrics.values_list("metric_id", flat=True))
    lateness: list[float] = []
    by_pull: dict[int, float] = defaultdict(float)
    worst: dict[int, float] = defaultdict(float)
    due = waiting = 0
    for release in releases:
        for metric_id in metric_ids:
            made = pulls[release.pk, metric_id]
            k = 0
            while (due_at := started_at + k * interval) <= ended_at - timedelta(seconds=tick_s):
                late = (made[k].pulled_at if k < len(made) else ended_at) - due_at
                lateness.append(late.total_seconds())
                by_pull[k] = max(by_pull[k], late.total_seconds())
                worst[release.pk] = max(worst[release.pk], late.total_seconds())
                due += 1
                waiting += k >= len(made)
                k += 1
    made_all = [pull for found in pulls.values() for pull in found]
    return Polling(
        releases=len(releases),
        metrics=len(metric_ids),
        interval_s=arguments.interval,
        tick_s=tick_s,
        ran_s=(ended_at - started_at).total_seconds(),
        due=due,
        waiting=waiting,
        done=len(made_all),
        failed=sum(pull.outcome == PullOutcome.FAILED for pull in made_all),
        no_data=sum(pull.outcome == PullOutcome.NO_DATA for pull in made_all),
        ended_early=Release.objects.filter(pk__in=[r.pk for r in releases], pulling_ended_at__lte=ended_at).count(),
        lateness_s=lateness,
        worst_per_release_s=list(worst.values()),
        worst_by_pull_s=[by_pull[k] for k in sorted(by_pull)],
        worker_commands=[
            shown_command(command, str(Path(commands[0][commands[0].index("--schedule") + 1]).parent))
            for command in commands
        ],
    )


def fill(arguments: argparse.Namespace, prepared: dict[str, Any], prometheus_url: str, now: datetime) -> Filling:
    """In --rounds rounds, in turns: the fill through the domain, and its range queries raw."""
    from metrics.models import ImportBatch, Job, JobStatus, MetricQuery
    from metrics.models.data_source import Variables
    from metrics.models.indicator import Upload

    filled, owner = prepared["filled"], prepared["owner"]
    file = fill_file(arguments.past_releases, now)
    bound = MetricQuery.objects.select_related("source").get(metric=filled)
    starts = past_release_starts(arguments.past_releases, now)
    # The same form `MetricQuery.measure_series` posts (`Prometheus.series`, a step of a minute).
    forms = [
        {
            "query": bound.sent(Variables(key=key, window=1), bound.canary_selector),
            "start": f"{(start + timedelta(minutes=1)).timestamp():.3f}",
            "end": f"{(start + timedelta(minutes=arguments.past_minutes)).timestamp():.3f}",
            "step": "60",
        }
        for key, start in starts
    ]
    # Each round's reading: the wall time from the first range query's start to the last one's
    # end (the job asks MBREAK_FILL_READERS of them at once: their own times would overlap).
    spans: list[list[float]] = []
    measure_series = MetricQuery.measure_series

    def timed_measure_series(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return measure_series(self, *args, **kwargs)
        finally:
            ended = time.perf_counter()
            span = spans[-1]
            span[0], span[1] = min(span[0], started), max(span[1], ended)

    result = Filling(arguments.past_releases, arguments.past_minutes, [], [], [], [], 0)
    MetricQuery.measure_series = timed_measure_series  # type: ignore[method-assign]
    try:
        for round_number in range(arguments.rounds):
            log(f"filling, round {round_number + 1} of {arguments.rounds}…")
            before = range_queries_answered(prometheus_url)
            spans.append([math.inf, -math.inf])
            started = time.perf_counter()
            job = filled.queue_fill(
                Upload(file, hashlib.sha256(file).hexdigest()),
                arguments.past_minutes,
                owner,
                file_name="past.csv",
                send_to_worker=False,
            )
            ended = Job.objects.run_here(job)
            result.ours_s.append(time.perf_counter() - started)
            result.range_queries.append(range_queries_answered(prometheus_url) - before)
            if ended is None or ended.status != JobStatus.DONE:
                raise RuntimeError(f"the fill failed: {ended.outcome() if ended else 'deleted'}")
            result.stored = ended.done
            started = time.perf_counter()
            for form in forms:
                answer = requests.post(f"{prometheus_url}/api/v1/query_range", data=form, timeout=10)
                if answer.json()["status"] != "success":
                    raise RuntimeError(f"a raw range query failed: {answer.text[:300]}")
            result.raw_s.append(time.perf_counter() - started)
            ImportBatch.objects.get(jobs=ended).undo()
            settle_after_undo()
    finally:
        MetricQuery.measure_series = measure_series  # type: ignore[method-assign]
    result.reading_s = [end - start for start, end in spans]
    return result


def settle_after_undo() -> None:
    """The table as the next round's fill finds it in use: on PostgreSQL, the rows an undo
    deleted vacuumed away, as autovacuum does (else each round would insert among more dead
    index entries than the one before, which no fill in use meets: an undo is rare)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM metrics_indicator")


def run(arguments: argparse.Namespace, database_url: str) -> tuple[Polling | None, Filling | None]:
    from stores import local_prometheus
    from stores.local_prometheus import Exporter

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mbreak-pull-bench-")))
        env = production_environment(database_url, arguments.redis_url, folder, f"bench-pull-{uuid.uuid4().hex[:12]}")
        env["MBREAK_PULL_QUEUE"] = f"bench-pulls-{uuid.uuid4().hex[:12]}"
        env.update(LOG_FORMAT="text", LOG_LEVEL="WARNING", CELERY_BROKER_URL=arguments.redis_url)
        if arguments.tick:
            env["MBREAK_PULL_TICK_SECONDS"] = str(arguments.tick)
        os.environ.update(env)
        setup_django(migrate=True)
        log(f"backfilling {arguments.past_releases} past releases × {arguments.past_minutes} minutes…")
        local_prometheus.backfill(folder / "data", history_text(arguments.past_releases, arguments.past_minutes, now))
        exporter = stack.enter_context(Exporter().serving())
        url = stack.enter_context(
            local_prometheus.running_prometheus(
                folder,
                local_prometheus.scrape_config(exporter, SCRAPE_SECONDS),
                f"--storage.tsdb.retention.time={HOURS_BETWEEN_PAST_RELEASES * arguments.past_releases + 48}h",
            )
        )
        log("training the pulled metrics…")
        prepared = prepare(arguments, url)
        filling = None if arguments.skip_filling else fill(arguments, prepared, url, now)
        polling = None if arguments.skip_polling else poll(arguments, prepared, exporter, env, folder)
    return polling, filling


# --- the figures ----------------------------------------------------------------------------------


def print_polling(result: Polling) -> list[str]:
    lateness, interval = result.lateness_s, result.interval_s
    print(
        f"Polling: {result.releases} releases × {result.metrics} metrics, every {interval} s, started at once; "
        f"the beat's tick every {result.tick_s} s; ran {result.ran_s:.0f} s"
    )
    for command in result.worker_commands:
        print(f"worker: {command}")
    worst = max(lateness, default=math.nan)
    print_table(
        POLLING_COLUMNS,
        [
            (
                result.due,
                result.waiting,
                result.done,
                result.failed,
                result.no_data,
                result.ended_early,
                worst,
                percentile(lateness, 0.99),
                statistics.median(lateness) if lateness else math.nan,
                statistics.median(result.worst_per_release_s) if result.worst_per_release_s else math.nan,
                f"{worst / interval:.2f} {'ok' if worst < interval else 'MISSED'}",
            )
        ],
    )
    worst_by_pull = ", ".join(f"{late:.1f}" for late in result.worst_by_pull_s)
    print(f"The worst lateness of the 1st, 2nd, … pulls (s; growing, it would add up): {worst_by_pull}")
    missed = []
    if not worst < interval:
        missed.append(f"an observation was {worst:.1f} s late: not less than the interval ({interval} s)")
    if result.failed:
        missed.append(f"{result.failed} pulls failed")
    if result.ended_early:
        missed.append(f"{result.ended_early} releases' pulling ended before the run did")
    return missed


def print_filling(result: Filling) -> list[str]:
    print()
    print(
        f"Filling: {result.releases} past releases × {result.minutes} minutes ({result.stored:,} indicators stored), "
        f"{len(result.ours_s)} rounds in turns; best round of each"
    )
    ours, raw, reading = min(result.ours_s), min(result.raw_s), min(result.reading_s)
    rest = min(job - read for job, read in zip(result.ours_s, result.reading_s, strict=True))
    print_table(
        FILLING_COLUMNS,
        [
            (
                ours,
                reading,
                rest,
                raw,
                ", ".join(map(str, result.range_queries)),
                raw / reading,
                ratio_verdict(raw / ours, FILL_RATIO_TARGET, at_least=True),
            )
        ],
    )
    missed = []
    if any(count != result.releases for count in result.range_queries):
        missed.append(f"a fill sent {result.range_queries} range queries, not {result.releases}")
    if raw / ours < FILL_RATIO_TARGET:
        missed.append(f"raw ÷ job {raw / ours:.2f} (target ≥ {FILL_RATIO_TARGET})")
    return missed


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--releases", type=int, default=200, help="open releases pulled at once (default 200)")
    parser.add_argument("--metrics", type=int, default=5, help="bound metrics of their gate (default 5)")
    parser.add_argument("--interval", type=int, default=60, help="the gate's pull interval, s (default 60)")
    parser.add_argument("--minutes", type=float, default=3, help="how long the worker pulls (default 3)")
    parser.add_argument("--tick", type=int, help="MBREAK_PULL_TICK_SECONDS for the worker (default: the settings')")
    parser.add_argument("--past-releases", type=int, default=100, help="past releases filled (default 100)")
    parser.add_argument("--past-minutes", type=int, default=120, help="minutes of each (default 120)")
    parser.add_argument("--rounds", type=int, default=7, help="fill rounds, ours and raw in turns (default 7)")
    parser.add_argument("--skip-polling", action="store_true")
    parser.add_argument("--skip-filling", action="store_true")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help=f"the broker (default {DEFAULT_REDIS_URL})")
    add_database_url_option(parser, None, "a PostgreSQL database to create, use and drop (default: SQLite)")
    add_figures_only_option(parser, "every pull and fill went through")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if reason := redis_unreachable_reason(arguments.redis_url):
        print(f"{reason}: the worker needs it as its broker (--redis-url)")
        return 2
    with ExitStack() as stack:
        if arguments.database_url:
            stack.enter_context(benchmark_database(arguments.database_url, OWNER))
            database_url = arguments.database_url
        else:
            database_url = stack.enter_context(sqlite_database())
        polling, filling = run(arguments, database_url)
    from django.db import connection

    print(f"Python {sys.version.split()[0]}; {os.cpu_count()} cores; {connection.vendor}; broker redis")
    problems, targets = judged(polling, filling)
    for line in problems + targets:
        print(line)
    return 1 if problems or (targets and not arguments.figures_only) else 0


def judged(polling: Polling | None, filling: Filling | None) -> tuple[list[str], list[str]]:
    """The figures printed, and what went wrong: problems (a failed or ended pull, a fill that
    did not send its 100 range queries), then missed targets (lateness, speed)."""
    problems: list[str] = []
    targets: list[str] = []
    if polling is not None:
        missed = print_polling(polling)
        problems += [line for line in missed if "failed" in line or "ended" in line]
        targets += [line for line in missed if line not in problems]
    if filling is not None:
        missed = print_filling(filling)
        problems += [line for line in missed if "range queries" in line]
        targets += [line for line in missed if line not in problems]
    return problems, targets


if __name__ == "__main__":
    sys.exit(main())
