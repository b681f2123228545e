"""Scale-out: two web processes and two workers share one PostgreSQL and one Redis.

    .venv/bin/python bench/scaleout.py
    .venv/bin/python bench/scaleout.py --rows 50000 --metric-rows 5000 \\
        --database-url postgres://postgres@127.0.0.1:5432/postgres --redis-url redis://127.0.0.1:6379/8

What it proves, as a deployment of two instances would see it:

1. An upload posted to web A, imported and trained by whichever worker takes it, is
   visible on web B (same indicator count, same new model version), and the same
   observations asked on A and on B get the same verdicts (state, reasons, similar cases,
   rule, model version, nearest past cases), as the verdict pages render them.
2. Ten trainings (`--trainings`) queued at once ("Train the models" on web B) are spread over both
   workers: each runs at least one. The spread and the wall time are printed.

It creates a throw-away PostgreSQL database (`mbreak_scaleout_<pid>`) on the server of
--database-url and drops it at the end, whatever happens. The four processes run with
production settings (DEBUG=0, a long random SECRET_KEY, ALLOWED_HOSTS; `manage.py check
--deploy` must find no issue with them):

- web A and web B: gunicorn, as the Procfile runs it (2 workers of 2 threads each: the
  machine has two cores for everything), on two free ports of 127.0.0.1. STATIC_ROOT is
  this run's temporary folder, not the checkout's `staticfiles/` (another checkout user may
  serve it); `collectstatic` fills it first (the wsgi module refuses to boot without its
  manifest). Requests come as from the TLS-ending load balancer
  (`X-Forwarded-Proto: https`), so the HTTPS redirect, secure cookies and the HTTPS CSRF
  checks (Origin) are those of production.
- worker A and worker B: `celery -A mbreak worker`, one process each (`--concurrency 1`),
  distinct node names, on their own queue (MBREAK_JOB_QUEUE=bench-scaleout-<pid>), on the
  Redis database of --redis-url (broker and cache). Which worker ran which job is read from
  each worker's own log: the `job <id> <kind>: <status>` line that `Job.run` logs.
  `--keep-logs FOLDER` keeps the four logs.

The metrics of part 2 are stored by this process through `Metric.import_indicators`
(fast, and the same code an import job runs); everything else goes through the pages.

Exits 0 only when every check holds; the report lists each one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness import (
    Browser,
    Service,
    collect_static,
    csv_file,
    free_port,
    indicators,
    manage,
    postgres_database,
    postgres_unreachable_reason,
    production_environment,
    redis_unreachable_reason,
    running,
    setup_django,
    start_web,
    start_worker,
    web_command,
    worker_command,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
# A Redis database number nobody else on the machine uses (the tests use 15).
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"
DEFAULT_ROWS = 20_000
DEFAULT_METRIC_ROWS = 5_000
DEFAULT_TRAININGS = 10
# (value, minutes) asked on both web processes: clear rollbacks and rollouts, the edge of
# the rule, and observations beyond what the model has seen (inconclusive).
VERDICT_PAIRS = [
    (250.0, 30.0),
    (900.0, 30.0),
    (300.0, 4.0),
    (395.0, 11.0),
    (650.0, 45.0),
    (5000.0, 30.0),
    (600.0, 500.0),
]
# How an error shows in the logs: the app's JSON lines, celery's and gunicorn's text lines.
ERROR_MARKS = ('"level": "ERROR"', '"level": "CRITICAL"', " ERROR/", " CRITICAL/", "[ERROR]", "[CRITICAL]", "Traceback")
JOB_LINE = re.compile(r"job (\d+) (training|import): (\w+)")


# --- The report --------------------------------------------------------------------------


@dataclass
class Report:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append((name, ok, detail))
        print(f"  [{'ok' if ok else 'FAIL'}] {name}{': ' + detail if detail else ''}", flush=True)
        return ok

    def fact(self, text: str) -> None:
        self.facts.append(text)
        print(f"  {text}", flush=True)

    @property
    def failed(self) -> list[str]:
        return [name for name, ok, _ in self.checks if not ok]


class CheckFailed(Exception):
    """A check that the rest of the run depends on did not hold."""


def require(report: Report, name: str, ok: bool, detail: str = "") -> None:
    if not report.check(name, ok, detail):
        raise CheckFailed(name)


# --- What the pages say --------------------------------------------------------------------

VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class TestIdText(HTMLParser):
    """The text of every element marked `data-testid` (the first of each), whitespace folded."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.open: list[tuple[str, int]] = []
        self.parts: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID_ELEMENTS:
            return
        self.depth += 1
        testid = dict(attrs).get("data-testid")
        if testid and testid not in self.parts:
            self.parts[testid] = []
            self.open.append((testid, self.depth))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_ELEMENTS:
            return
        while self.open and self.open[-1][1] >= self.depth:
            self.open.pop()
        self.depth -= 1

    def handle_data(self, data: str) -> None:
        for testid, _ in self.open:
            self.parts[testid].append(data)

    @classmethod
    def of(cls, html: str) -> dict[str, str]:
        parser = cls()
        parser.feed(html)
        return {testid: " ".join("".join(parts).split()) for testid, parts in parser.parts.items()}


def strip_tags(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def metric_page_summary(html: str) -> dict[str, str]:
    """What web B must show as web A does: indicator count, answering version, its accuracy."""
    texts = TestIdText.of(html)
    count = re.search(r'<h2 class="h5">(\d+) indicators?</h2>', html)
    version = re.search(r"Version (\d+)", texts.get("versions", ""))
    return {
        "indicators": count.group(1) if count else "?",
        "newest version": version.group(1) if version else "none",
        "accuracy": texts.get("accuracy", "none"),
        "versions table": texts.get("versions", ""),
    }


def verdict_page_answer(html: str) -> dict[str, str]:
    """A verdict as its page renders it, less who asked it when."""
    texts = TestIdText.of(html)
    model = re.search(r"Model version (\d+), ([^<]*?) accurate on data it did not see", html)
    nearest = re.search(r"The nearest past cases</h2>(.*?)</table>", html, re.DOTALL)
    return {
        "state": texts.get("verdict", "?"),
        "reasons": texts.get("reasons", ""),
        "similar cases": texts.get("similar-cases", ""),
        "rule": texts.get("rule", ""),
        "model": f"version {model.group(1)}, {model.group(2)}" if model else "?",
        "model version": model.group(1) if model else "?",
        "stale warning": texts.get("stale-warning", ""),
        "nearest cases": strip_tags(nearest.group(1)) if nearest else "?",
    }


# --- The four processes --------------------------------------------------------------------


def jobs_run_by(workers: dict[str, Service]) -> dict[int, list[tuple[str, str]]]:
    """Job id -> [(worker, status)] from the `job <id> <kind>: <status>` lines of each worker's log."""
    seen: dict[int, list[tuple[str, str]]] = {}
    for name, service in workers.items():
        for match in JOB_LINE.finditer(service.log()):
            seen.setdefault(int(match.group(1)), []).append((name, match.group(3)))
    return seen


def worker_of(job_id: int, workers: dict[str, Service], seconds: float = 15) -> str:
    """The worker that logged the end of `job_id` (the line follows the job's last write)."""
    deadline = time.monotonic() + seconds
    while True:
        runs = jobs_run_by(workers).get(job_id, [])
        if runs or time.monotonic() > deadline:
            return ", ".join(f"{name} ({status})" for name, status in runs) or "no worker logged it"
        time.sleep(0.2)


def redis_keys(redis_url: str) -> set[str]:
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=5, decode_responses=True)
    return {str(key) for key in client.keys("*")}


def forget_run(redis_url: str, queue: str, keys_before: set[str]) -> None:
    """Remove what the run left in Redis: its queue, kombu's bindings of it, and the cache
    entries it made (the charts of models in a database that is gone)."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=5)
    with contextlib.suppress(redis.RedisError):
        cached = [key for key in redis_keys(redis_url) - keys_before if key.startswith(":1:")]
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}", *cached)


# --- The run -------------------------------------------------------------------------------


def wait_for_job(browser: Browser, job_id: int, seconds: float) -> tuple[dict[str, Any], list[str]]:
    """Poll the job's progress JSON on `browser`'s web process until it ends; the stages seen."""
    stages: list[str] = []
    deadline = time.monotonic() + seconds
    while True:
        progress = browser.get(f"/jobs/{job_id}/progress.json").json()
        if not stages or stages[-1] != progress["stage"]:
            stages.append(progress["stage"])
        if not progress["is_active"]:
            return progress, stages
        if time.monotonic() > deadline:
            raise CheckFailed(f"job {job_id} still {progress['status']} ({progress['stage']}) after {seconds:g} s")
        time.sleep(0.3)


def one_upload_two_webs(
    report: Report,
    web: dict[str, Browser],
    workers: dict[str, Service],
    user: tuple[str, str],
    rows: int,
    timeout: float,
) -> None:
    a = web["web A"]
    log_in_on_both(report, web, *user)
    a.get("/metrics/new/")
    created = a.submit("/metrics/new/", [("name", "Scale-out requests per minute"), ("category", "Scale-out")])
    found = re.fullmatch(r"/metrics/(\d+)/", created.path)
    if created.status != 200 or found is None:
        raise CheckFailed(f"web A: creating the metric answered {created.status} at {created.path}")
    metric_id = int(found.group(1))
    report.check("web A: metric created through the form", True, f"metric {metric_id}")
    upload_on_a(report, a, workers, metric_id, rows, timeout)
    version = train_on_a(report, web, workers, metric_id, timeout)
    pages = {name: metric_page_summary(browser.get(f"/metrics/{metric_id}/").text) for name, browser in web.items()}
    for name, summary in pages.items():
        report.check(
            f"{name}: metric page shows {rows} indicators and version {version}",
            summary["indicators"] == str(rows) and summary["newest version"] == version,
            f"{summary['indicators']} indicators, newest version {summary['newest version']}, "
            f"accuracy {summary['accuracy']}",
        )
    report.check("metric pages identical on web A and web B", pages["web A"] == pages["web B"])
    for value, minutes in VERDICT_PAIRS:
        compare_verdicts(report, web, metric_id, value, minutes, version)


def log_in_on_both(report: Report, web: dict[str, Browser], username: str, password: str) -> None:
    for browser in web.values():
        answer = browser.login(username, password)
        require(
            report,
            f"web {browser.name}: logs in through the login form (CSRF)",
            answer.status == 200 and answer.path == "/" and "sessionid" in browser.cookies,
            f"{answer.status} at {answer.path}",
        )
    sessions = {browser.cookies["sessionid"] for browser in web.values()}
    require(report, "two separate login sessions", len(sessions) == len(web))


def upload_on_a(
    report: Report, a: Browser, workers: dict[str, Service], metric_id: int, rows: int, timeout: float
) -> None:
    from metrics.models import Job, JobKind

    data = csv_file(rows)
    a.get(f"/metrics/upload/?metric={metric_id}")
    started = time.perf_counter()
    uploaded = a.submit(
        "/metrics/upload/",
        [("metric", str(metric_id)), ("delimiter", "detect")],
        files=[("file", "scaleout.csv", data)],
    )
    require(
        report,
        f"web A: upload of {rows:,} rows ({len(data) / 2**20:.1f} MiB) answered with the metric page",
        uploaded.status == 200 and uploaded.path == f"/metrics/{metric_id}/",
        f"{uploaded.status} at {uploaded.path}",
    )
    import_job = Job.objects.filter(metric_id=metric_id, kind=JobKind.IMPORT).latest("pk")
    shown = f'data-job-progress="/jobs/{import_job.pk}/progress.json"' in uploaded.text
    progress, stages = wait_for_job(a, import_job.pk, timeout)
    require(
        report,
        f"import job {import_job.pk} done",
        progress["status"] == "done",
        f"{progress['outcome']} in {time.perf_counter() - started:.1f} s; stages polled on web A: {' → '.join(stages)}"
        + ("" if shown else " (already over when the metric page was drawn)"),
    )
    report.fact(f"import job {import_job.pk} ran on {worker_of(import_job.pk, workers)}")


def train_on_a(
    report: Report, web: dict[str, Browser], workers: dict[str, Service], metric_id: int, timeout: float
) -> str:
    """Train on web A until the job is done, and web B reads its progress alike; the new version."""
    from metrics.models import Job, JobKind

    a, b = web["web A"], web["web B"]
    a.get(f"/metrics/{metric_id}/")
    started = time.perf_counter()
    trained = a.submit(f"/metrics/{metric_id}/train/", [])
    require(report, "web A: Train answered with the metric page", trained.path == f"/metrics/{metric_id}/")
    training_job = Job.objects.filter(metric_id=metric_id, kind=JobKind.TRAINING).latest("pk")
    progress, stages = wait_for_job(a, training_job.pk, timeout)
    require(
        report,
        f"training job {training_job.pk} done",
        progress["status"] == "done",
        f"{progress['outcome']} in {time.perf_counter() - started:.1f} s; stages polled on web A: {' → '.join(stages)}",
    )
    report.fact(f"training job {training_job.pk} ran on {worker_of(training_job.pk, workers)}")
    training_job.refresh_from_db()
    if training_job.result is None:
        raise CheckFailed(f"training job {training_job.pk} is done but names no trained model")
    progress_b = b.get(f"/jobs/{training_job.pk}/progress.json").json()
    report.check("web B: the training job's progress reads as on web A", progress_b == progress, str(progress_b))
    return str(training_job.result.version)


def compare_verdicts(
    report: Report, web: dict[str, Browser], metric_id: int, value: float, minutes: float, version: str
) -> None:
    answers = {}
    for name, browser in web.items():
        browser.get(f"/predict/?for={metric_id}")
        asked = browser.submit(
            "/predict/", [("metric", str(metric_id)), ("value", str(value)), ("minutes", str(minutes))]
        )
        if asked.status != 200 or not re.fullmatch(r"/verdicts/\d+/", asked.path):
            answers[name] = {"error": f"{asked.status} at {asked.path}"}
        else:
            answers[name] = {"page": asked.path, **verdict_page_answer(asked.text)}
    on_a, on_b = ({k: v for k, v in answers[n].items() if k != "page"} for n in web)
    differences = [key for key in on_a if on_a.get(key) != on_b.get(key)]
    report.check(
        f"verdict for {value:g} over {minutes:g} min identical on web A and web B",
        not differences and on_a.get("model version") == version and "error" not in on_a,
        f"{on_a.get('state')} · {on_a.get('similar cases')} · {on_a.get('rule')}"
        + (f" · reasons: {on_a['reasons']}" if on_a.get("reasons") else "")
        + f" · model {on_a.get('model')} · pages {answers['web A'].get('page')} and {answers['web B'].get('page')}"
        + (f" · DIFFERENT: {', '.join(differences)}: A {on_a} B {on_b}" if differences else ""),
    )


def trainings_spread_over_workers(
    report: Report,
    web: dict[str, Browser],
    workers: dict[str, Service],
    username: str,
    arguments: argparse.Namespace,
) -> None:
    metrics = store_metrics(report, username, arguments.metric_rows, arguments.trainings)
    b = web["web B"]
    b.get("/")
    started = time.perf_counter()
    queued = b.submit("/train/", [("next", "/")])
    queued_seconds = time.perf_counter() - started
    message = re.search(r"(\d+) trainings queued", queued.text)
    report.check(
        f"web B: “Train the models” queued the {len(metrics)} trainings",
        queued.status == 200 and message is not None and message.group(1) == str(len(metrics)),
        f"answered in {queued_seconds:.2f} s: {message.group(0) if message else strip_tags(queued.text)[:200]}",
    )
    ended = wait_for_trainings(report, metrics, arguments.timeout)
    wall = time.perf_counter() - started
    runs = {job.pk: worker_of(job.pk, workers) for job in ended}
    for job in ended:
        busy = (job.finished_at - job.started_at).total_seconds() if job.finished_at and job.started_at else 0.0
        report.fact(
            f"job {job.pk} ({job.metric.name}): {job.status}, version {job.result.version if job.result else '-'}, "
            f"attempt {job.attempts}, {busy:.1f} s on {runs[job.pk]}"
        )
    report.fact(f"at most {most_at_once(ended)} trainings ran at the same time")
    check_spread(report, runs, workers, wall)


def store_metrics(report: Report, username: str, metric_rows: int, count: int) -> list[Any]:
    """The metrics trained at once, stored by this process through `Metric.import_indicators`."""
    from django.contrib.auth.models import User

    from metrics.models import Metric

    user = User.objects.get(username=username)
    started = time.perf_counter()
    metrics = []
    for number in range(1, count + 1):
        metric = Metric.objects.create(name=f"Scale-out metric {number}", category="Scale-out", owner=user)
        metric.import_indicators(indicators(metric_rows, seed=number), user)
        metrics.append(metric)
    report.fact(
        f"{count} metrics of {metric_rows:,} indicators stored through Metric.import_indicators "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return metrics


def wait_for_trainings(report: Report, metrics: list[Any], timeout: float) -> list[Any]:
    """Every training job of `metrics`, once none is queued or running."""
    from metrics.models import Job, JobKind, JobStatus

    jobs = Job.objects.filter(kind=JobKind.TRAINING, metric__in=metrics)
    count = len(metrics)
    require(report, f"{count} training jobs in the database", jobs.count() == count, str(jobs.count()))
    deadline = time.monotonic() + timeout
    while jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists():
        if time.monotonic() > deadline:
            raise CheckFailed(f"the {count} trainings did not end in {timeout:g} s")
        time.sleep(0.3)
    ended = list(jobs.select_related("result", "metric").order_by("pk"))
    done = [job for job in ended if job.status == JobStatus.DONE and job.result is not None]
    report.check(f"all {count} trainings done", len(done) == count, f"{len(done)} done")
    return ended


def most_at_once(jobs: list[Any]) -> int:
    """How many ran at the same moment, from the jobs' own start and end times."""
    moments = sorted(
        [(job.started_at, 1) for job in jobs if job.started_at]
        + [(job.finished_at, -1) for job in jobs if job.finished_at]
    )
    running = most = 0
    for _, step in moments:
        running += step
        most = max(most, running)
    return most


def check_spread(report: Report, runs: dict[int, str], workers: dict[str, Service], wall: float) -> None:
    spread = Counter(runs.values())
    per_worker = {name: sum(1 for run in runs.values() if run == f"{name} (done)") for name in workers}
    report.fact(
        "spread: "
        + ", ".join(f"{name} ran {count}" for name, count in per_worker.items())
        + f"; wall time from “Train the models” to the last training done: {wall:.1f} s"
    )
    report.check(
        "every training logged by exactly one worker",
        sum(per_worker.values()) == len(runs) and len(spread) == len(workers),
        ", ".join(f"{run}: {count}" for run, count in sorted(spread.items())),
    )
    report.check(
        f"both workers ran at least one of the {len(runs)} trainings",
        all(count >= 1 for count in per_worker.values()),
        " / ".join(f"{name} {count}" for name, count in per_worker.items()),
    )


def run(arguments: argparse.Namespace, report: Report) -> None:
    queue = f"bench-scaleout-{os.getpid()}"
    keys_before = redis_keys(arguments.redis_url)
    services: list[Service] = []  # those started, for the cleanup
    with (
        tempfile.TemporaryDirectory(prefix="mbreak-scaleout-") as scratch,
        postgres_database(arguments.database_url, "mbreak_scaleout") as database_url,
    ):
        folder = Path(scratch)
        environment = production_environment(database_url, arguments.redis_url, folder, queue)
        environment["SECRET_KEY"] = secrets.token_urlsafe(50)  # a long random key, as check --deploy asks
        try:
            print(f"database {urlsplit(database_url).path[1:]}, queue {queue}, Redis {arguments.redis_url}")
            start_the_four(report, arguments, environment, folder, queue, services)
            checks_at_the_end(report, services)
        except CheckFailed as failed:
            report.check("the run went through", False, f"stopped at: {failed}")
        except Exception as error:  # whatever it was, the report says so and the cleanup runs
            traceback.print_exc()
            report.check("the run went through", False, f"{type(error).__name__}: {error}")
        finally:
            clean_up(report, arguments, services, queue, keys_before)


def start_the_four(
    report: Report,
    arguments: argparse.Namespace,
    environment: dict[str, str],
    folder: Path,
    queue: str,
    services: list[Service],
) -> None:
    """Migrate, start two web processes and two workers (added to `services`), and run both parts."""
    manage(environment, "migrate", "--noinput", "-v", "0")
    collect_static(environment)
    deploy = manage(environment, "check", "--deploy", "--fail-level", "WARNING")
    report.check("manage.py check --deploy with the web processes' settings", True, deploy.strip())
    # The bench process reads and writes the same database through the app's own models.
    os.environ.update(environment, LOG_LEVEL="WARNING")
    setup_django()
    from django.contrib.auth.models import User

    username, password = "scaleout", secrets.token_urlsafe(16)
    User.objects.create_user(username, password=password)
    ports = {"web A": free_port(), "web B": free_port()}
    nodes = {"worker A": f"scaleout-a-{os.getpid()}@%h", "worker B": f"scaleout-b-{os.getpid()}@%h"}
    starts = [
        partial(start_worker, name, worker_command(queue, node=node, concurrency=1), environment, folder)
        for name, node in nodes.items()
    ]
    # As the Procfile runs them, with fewer processes: the machine has two cores for everything.
    starts += [
        partial(start_web, name, web_command(port, folder, workers=2, threads=2), port, environment, folder)
        for name, port in ports.items()
    ]
    started = time.perf_counter()
    with running(*starts) as started_services:
        services += started_services
        host = socket.gethostname()
        report.fact(
            f"up in {time.perf_counter() - started:.1f} s: "
            + ", ".join(f"{name} gunicorn on 127.0.0.1:{port}" for name, port in ports.items())
            + ", "
            + ", ".join(f"{name} celery node {node.replace('%h', host)}" for name, node in nodes.items())
        )
        workers = {service.name: service for service in services if service.name.startswith("worker")}
        web = {name: Browser(port, name=name.removeprefix("web ")) for name, port in ports.items()}
        print("\n1. An upload on web A, trained by a worker, seen and answered alike on web B")
        one_upload_two_webs(report, web, workers, (username, password), arguments.rows, arguments.timeout)
        print(f"\n2. {arguments.trainings} trainings queued at once, spread over the two workers")
        trainings_spread_over_workers(report, web, workers, username, arguments)
        for service in services:
            report.check(f"{service.name} still running at the end", service.process.poll() is None)


def checks_at_the_end(report: Report, services: list[Service]) -> None:
    errors = [
        (service.name, line)
        for service in services
        for line in service.log().splitlines()
        if any(mark in line for mark in ERROR_MARKS)
    ]
    report.check(
        "no error or traceback in the four logs",
        not errors,
        "; ".join(f"{name}: {line[:200]}" for name, line in errors[:5]),
    )


def clean_up(
    report: Report, arguments: argparse.Namespace, services: list[Service], queue: str, keys_before: set[str]
) -> None:
    if report.failed:
        for service in services:
            print(f"\n--- last lines of {service.name} ({service.log_path.name}) ---\n{service.tail()}")
    if "django" in sys.modules:
        from django.db import connections

        connections.close_all()
    forget_run(arguments.redis_url, queue, keys_before)
    if arguments.keep_logs:
        arguments.keep_logs.mkdir(parents=True, exist_ok=True)
        for service in services:
            shutil.copy(service.log_path, arguments.keep_logs / service.log_path.name)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Two web processes and two workers on one PostgreSQL and one Redis.")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help="a PostgreSQL server where a throw-away database may be created and dropped "
        f"(default {DEFAULT_DATABASE_URL}; only its server and credentials are used)",
    )
    parser.add_argument(
        "--redis-url",
        default=DEFAULT_REDIS_URL,
        help=f"the Redis database for the broker and the cache (default {DEFAULT_REDIS_URL})",
    )
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help=f"rows of the upload (default {DEFAULT_ROWS})")
    parser.add_argument(
        "--metric-rows",
        type=int,
        default=DEFAULT_METRIC_ROWS,
        help=f"indicators of each of the metrics trained at once (default {DEFAULT_METRIC_ROWS})",
    )
    parser.add_argument(
        "--trainings",
        type=int,
        default=DEFAULT_TRAININGS,
        help=f"metrics trained at once, at least 2 (default {DEFAULT_TRAININGS})",
    )
    parser.add_argument("--keep-logs", type=Path, metavar="FOLDER", help="copy the four processes' logs there")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for jobs (default 600)")
    arguments = parser.parse_args(argv)
    if arguments.rows < 10 or arguments.metric_rows < 10:
        parser.error("--rows and --metric-rows take at least 10 (the least a metric trains on)")
    if arguments.trainings < 2:
        parser.error("--trainings takes at least 2: one for each worker")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    reason = postgres_unreachable_reason(arguments.database_url) or redis_unreachable_reason(arguments.redis_url)
    if reason is not None:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    report = Report()
    started = time.perf_counter()
    run(arguments, report)
    passed = len(report.checks) - len(report.failed)
    print(f"\nPython {sys.version.split()[0]}; {time.perf_counter() - started:.0f} s in all")
    print(f"{passed} of {len(report.checks)} checks hold" + ("" if not report.failed else ": FAILED"))
    for name in report.failed:
        print(f"  failed: {name}")
    return 0 if report.checks and not report.failed else 1


if __name__ == "__main__":
    sys.exit(main())
