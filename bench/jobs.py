"""Does long work cost more as a background job than in the request? Seconds, and ratios.

    .venv/bin/python bench/jobs.py        # 100k and 1M rows, SQLite and PostgreSQL
    .venv/bin/python bench/jobs.py --sizes 8700000 --backends postgres --skip-training   # a 50 MB file

Each (database, size) pair runs in its own Python process, on its own throw-away database
(as bench/ingest.py does), with its own Celery worker process (`--pool solo`, so that
the worker's peak memory is one process's) on Redis when one answers at --redis-url,
else on the filesystem broker that `make run` uses. The bench process plays the web
server: it posts the real forms through Django's test client, logged in.

For each size it prints, measured in the same run on the same bytes and rows:
- parse: `csv_io.parse_indicator_csv` against `pandas.read_csv` (best of 3). Target ≤ 3x.
- import: from posting the upload form to the job's rows committed (a worker parses and
  stores them), against parsing and storing in this process (`Metric.import_indicators`),
  and against a raw COPY (PostgreSQL) or executemany (SQLite) of the same rows, already
  formatted, into the same table. Targets: background ≤ 1.2x in-process; on PostgreSQL
  raw COPY ÷ background ≥ 0.8.
- training: from pressing Train to the new version stored, against
  `TrainedModel.objects.train` in this process. Target ≤ 1.2x.
- download: the whole CSV download through the view, against a raw `COPY (SELECT ...) TO
  STDOUT` of the same rows (PostgreSQL), or a raw cursor reading them (SQLite). Target ≤ 2x.
- the worker's peak resident memory (VmHWM) after the import, and its memory at rest.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness import (
    add_figures_only_option,
    add_size_options,
    best_of,
    csv_file,
    measure_each_size,
    measure_in_child,
    memory_mib,
    parse_size_options,
    print_result,
    print_table,
    ratio_verdict,
    redis_unreachable_reason,
    setup_django,
    start_worker,
    worker_command,
)

DEFAULT_SIZES = "100000,1000000"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
AT_LIMIT = 0  # as a size: the largest file an upload accepts (--at-limit)
TARGETS = {"parse": 3.0, "import": 1.2, "copy": 0.8, "training": 1.2, "download": 2.0}


@dataclass
class JobRun:
    database: str
    rows: int
    csv_mib: float
    broker: str
    pandas_s: float
    parse_s: float
    in_process_import_s: float
    background_import_s: float
    raw_insert_s: float
    in_process_training_s: float | None
    background_training_s: float | None
    download_s: float
    raw_download_s: float
    worker_rest_mib: float
    worker_peak_mib: float

    def ratios(self) -> dict[str, float | None]:
        training = None
        if self.background_training_s is not None and self.in_process_training_s:
            training = self.background_training_s / self.in_process_training_s
        return {
            "parse": self.parse_s / self.pandas_s,
            "import": self.background_import_s / self.in_process_import_s,
            "copy": self.raw_insert_s / self.background_import_s,
            "training": training,
            "download": self.download_s / self.raw_download_s,
        }


def limit_csv(limit: int) -> bytes:
    """The largest file an upload accepts, of the shortest rows ("7,1,4"): 8.7M rows in 50 MiB."""
    header = b"valor,decisao,tempo\n"
    rows = (limit - len(header)) // 6
    digits = [f"{value},{value % 2},{(value * 7) % 10}\n".encode() for value in range(10)]
    return header + b"".join(digits) * (rows // 10) + b"".join(digits[: rows % 10])


def wait_for_job(job_id: int, timeout: float = 3600) -> None:
    from metrics.models import Job, JobStatus

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.status == JobStatus.DONE:
            return
        if job.status == JobStatus.FAILED:
            raise RuntimeError(f"job {job_id} failed: {job.failure} {job.detail}")
        time.sleep(0.02)
    raise RuntimeError(f"job {job_id} did not end in {timeout} s")


def run_one(backend: str, rows: int, train: bool) -> JobRun:
    """Measure one size in this process; DATABASE_URL already names a throw-away database."""
    setup_django(migrate=True)
    import pandas as pd
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from metrics import csv_io
    from metrics.models import ImportBatch, Metric

    setup_test_environment()
    user = User.objects.create_user("bench", password="unused-password-1")  # noqa: S106
    if rows == AT_LIMIT:
        data = limit_csv(settings.MBREAK_MAX_UPLOAD_BYTES)
        rows = data.count(b"\n") - 1
    else:
        data = csv_file(rows)
    client = Client()
    client.force_login(user)

    pandas_s = best_of(3, lambda: pd.read_csv(io.BytesIO(data)))
    parse_s = best_of(3, lambda: csv_io.parse_indicator_csv(data))

    in_process = Metric.objects.create(name="In process", owner=user)
    # The same columns an upload stores, its batch included (its foreign key is checked per row).
    in_process_batch = ImportBatch.objects.create(
        metric=in_process, uploaded_by=user, file_name="in-process.csv", sha256="", size=len(data), delimiter="comma"
    )
    started = time.perf_counter()
    in_process.import_indicators(csv_io.parse_indicator_csv(data), user, in_process_batch)
    in_process_import_s = time.perf_counter() - started

    raw = Metric.objects.create(name="Raw", owner=user)
    # The same columns an upload stores, its batch included.
    raw_batch = ImportBatch.objects.create(
        metric=raw, uploaded_by=user, file_name="raw.csv", sha256="", size=len(data), delimiter="comma"
    )
    raw_insert_s = raw_insert(connection, transaction, raw, user, raw_batch.pk, data)
    with connection.cursor() as cursor:  # raw rows out the raw way: the metric's count never knew them
        cursor.execute("DELETE FROM metrics_indicator WHERE metric_id = %s", [raw.pk])

    environment = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="mbreak-jobs-") as folder:
        # One process (`--pool solo`): the worker's peak memory is that process's.
        worker = start_worker(
            "worker", worker_command(environment["MBREAK_JOB_QUEUE"], solo=True), environment, Path(folder)
        )
        try:
            background_import_s, rest_mib, peak_mib, in_process_training_s, background_training_s = run_jobs(
                client, user, data, rows, in_process, train, worker.process.pid
            )
        finally:
            worker.stop()

    def download() -> int:
        response = client.get(reverse("metrics:download", args=[in_process.pk]))
        return sum(len(piece) for piece in response.streaming_content)  # type: ignore[attr-defined,misc]

    size = download()
    if size <= len(data):  # every row, with its author and time, is longer than the file
        raise RuntimeError(f"the download is {size} bytes, the file {len(data)}")
    download_s = best_of(2, download)
    raw_download_s = best_of(2, lambda: raw_read(connection, in_process.pk))
    return JobRun(
        database=backend,
        rows=rows,
        csv_mib=len(data) / 2**20,
        broker=environment["CELERY_BROKER_URL"].split(":")[0],
        pandas_s=pandas_s,
        parse_s=parse_s,
        in_process_import_s=in_process_import_s,
        background_import_s=background_import_s,
        raw_insert_s=raw_insert_s,
        in_process_training_s=in_process_training_s,
        background_training_s=background_training_s,
        download_s=download_s,
        raw_download_s=raw_download_s,
        worker_rest_mib=rest_mib,
        worker_peak_mib=peak_mib,
    )


def run_jobs(
    client: Any, user: Any, data: bytes, rows: int, in_process: Any, train: bool, worker_pid: int
) -> tuple[float, float, float, float | None, float | None]:
    """An upload through the form until the worker committed its rows, then (if `train`) Train until
    the new version is stored, against training in this process; and the worker's memory."""
    from django.urls import reverse

    from metrics.models import Job, JobKind, Metric, TrainedModel

    # A worker that has run a job (its imports done), as in a deployment that has been up a while.
    warm_up = Metric.objects.create(name="Warm-up", owner=user)
    upload = io.BytesIO(b"valor,decisao,tempo\n1,0,1\n")
    upload.name = "warm-up.csv"
    client.post(reverse("metrics:upload"), {"metric": warm_up.pk, "delimiter": "detect", "file": upload})
    wait_for_job(Job.objects.get(metric=warm_up).pk)
    rest_mib = memory_mib(worker_pid, "VmRSS")
    background = Metric.objects.create(name="Background", owner=user)
    upload = io.BytesIO(data)
    upload.name = "bench.csv"
    started = time.perf_counter()
    form = {"metric": background.pk, "delimiter": "detect", "file": upload}
    response = client.post(reverse("metrics:upload"), form)
    if response.status_code not in (200, 302):
        raise RuntimeError(f"the upload answered {response.status_code}")
    wait_for_job(Job.objects.get(metric=background, kind=JobKind.IMPORT).pk)
    background_import_s = time.perf_counter() - started
    peak_mib = memory_mib(worker_pid, "VmHWM")
    background.refresh_from_db()
    if background.indicator_count != rows:
        raise RuntimeError(f"{background.indicator_count} rows stored of {rows}")

    in_process_training_s = background_training_s = None
    if train:
        started = time.perf_counter()
        TrainedModel.objects.train(in_process, user)
        in_process_training_s = time.perf_counter() - started
        started = time.perf_counter()
        client.post(reverse("metrics:train", args=[background.pk]))
        wait_for_job(Job.objects.get(metric=background, kind=JobKind.TRAINING).pk)
        background_training_s = time.perf_counter() - started

    return background_import_s, rest_mib, peak_mib, in_process_training_s, background_training_s


def raw_insert(connection, transaction, metric, user, batch_id: int, data: bytes) -> float:  # type: ignore[no-untyped-def]
    """The same rows, formatted beforehand, stored by the database's fastest plain path."""
    from django.utils import timezone

    frame = __import__("pandas").read_csv(io.BytesIO(data))
    stamp = timezone.now()
    columns = "metric_id, value, decision, time, created_by_id, created_at, batch_id"
    if connection.vendor == "postgresql":
        text = "".join(
            f"{metric.pk}\t{value!r}\t{decision}\t{minutes!r}\t{user.pk}\t{stamp.isoformat()}\t{batch_id}\n"
            for value, decision, minutes in frame.itertuples(index=False)
        ).encode()
        started = time.perf_counter()
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY metrics_indicator ({columns}) FROM STDIN") as copy,
        ):
            copy.write(text)
        return time.perf_counter() - started
    stamp_text = connection.ops.adapt_datetimefield_value(stamp)
    values = [
        (metric.pk, float(value), int(decision), float(minutes), user.pk, stamp_text, batch_id)
        for value, decision, minutes in frame.itertuples(index=False)
    ]
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO metrics_indicator ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s)", values)  # noqa: S608
    return time.perf_counter() - started


def raw_read(connection, metric_id: int) -> int:  # type: ignore[no-untyped-def]
    """The download's rows read raw: COPY ... TO STDOUT, or a plain cursor on SQLite."""
    select = (
        "SELECT value, decision, time, created_by_id, created_at FROM metrics_indicator "  # noqa: S608
        f"WHERE metric_id = {int(metric_id)} ORDER BY id"
    )
    size = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
                for block in copy:
                    size += len(block)
        else:
            cursor.execute(select)
            while chunk := cursor.fetchmany(10_000):
                size += len(chunk)
    return size


def run_in_child(backend: str, rows: int, database_url: str, broker_url: str, train: bool) -> JobRun:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("CELERY_", "REDIS_"))}
    environment.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="mbreak.settings",
        CELERY_BROKER_URL=broker_url,
        MBREAK_JOB_QUEUE=f"bench-jobs-{uuid.uuid4().hex[:12]}",
        LOG_FORMAT="text",
        LOG_LEVEL="WARNING",
    )
    return JobRun(**measure_in_child(__file__, backend, rows, environment, *([] if train else ["--skip-training"])))


def print_results(results: list[JobRun]) -> list[str]:
    """Print the figures and each ratio against its target; return the targets missed."""
    columns = [("database", "<9"), ("rows", ">9,"), ("MiB", ">5.1f"), ("pandas s", ">8.3f"), ("parse s", ">7.3f")]
    columns += [("in-proc s", ">9.2f"), ("job s", ">7.2f"), ("raw ins s", ">9.2f"), ("train s", ">7.2f")]
    columns += [("job s", ">7.2f"), ("download s", ">10.2f"), ("raw s", ">6.2f"), ("worker MiB", ">14")]
    print_table(
        columns,
        [
            (
                run.database,
                run.rows,
                run.csv_mib,
                run.pandas_s,
                run.parse_s,
                run.in_process_import_s,
                run.background_import_s,
                run.raw_insert_s,
                run.in_process_training_s,
                run.background_training_s,
                run.download_s,
                run.raw_download_s,
                f"{run.worker_rest_mib:>6.0f} → {run.worker_peak_mib:>5.0f}",
            )
            for run in results
        ],
    )
    print()
    print("Ratios (target): parse ÷ pandas (≤ 3), job ÷ in-process import (≤ 1.2), raw insert ÷ job (≥ 0.8 on")
    print("PostgreSQL), training job ÷ in-process (≤ 1.2), download ÷ raw COPY TO STDOUT (≤ 2 on PostgreSQL;")
    print("on SQLite, against a raw cursor that formats nothing, shown only)")
    missed: list[str] = []
    for run in results:
        ratios = run.ratios()
        postgres = run.database == "postgres"
        copy = ratio_verdict(ratios["copy"], TARGETS["copy"], at_least=True) if postgres else "—"
        download = ratio_verdict(ratios["download"], TARGETS["download"]) if postgres else f"{ratios['download']:.2f}"
        print(
            f"{run.database:<9} {run.rows:>9,}  parse {ratio_verdict(ratios['parse'], TARGETS['parse'])}   "
            f"import {ratio_verdict(ratios['import'], TARGETS['import'])}   raw insert {copy}   "
            f"training {ratio_verdict(ratios['training'], TARGETS['training'])}   "
            f"download {download}   (broker: {run.broker})"
        )
        # SQLite has no COPY: its copy and download figures are shown, not judged.
        judged = {name: value for name, value in ratios.items() if postgres or name not in ("copy", "download")}
        missed += [
            f"{run.database} {run.rows:,} rows: {name} {value:.2f} (target {TARGETS[name]})"
            for name, value in judged.items()
            if value is not None and ratio_verdict(value, TARGETS[name], at_least=name == "copy").endswith("MISSED")
        ]
    return missed


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_size_options(parser, DEFAULT_SIZES)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="the broker, if it answers")
    parser.add_argument("--skip-training", action="store_true", help="measure imports and downloads only")
    add_figures_only_option(parser, "every run went through")
    parser.add_argument(
        "--at-limit",
        action="store_true",
        help="one size: a file at the upload limit (MBREAK_MAX_UPLOAD_BYTES) of the shortest rows",
    )
    arguments = parse_size_options(parser, argv)
    if arguments.at_limit:
        arguments.sizes = [AT_LIMIT]
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if arguments.child:
        backend, rows = arguments.child
        print_result(asdict(run_one(backend, int(rows), train=not arguments.skip_training)))
        return 0

    broker = "filesystem://" if redis_unreachable_reason(arguments.redis_url) else arguments.redis_url
    results, problems = measure_each_size(
        arguments,
        lambda backend, rows, url: run_in_child(backend, rows, url, broker, not arguments.skip_training),
        lambda rows: "a file at the upload limit" if rows == AT_LIMIT else f"{rows:,} rows",
    )
    print(f"Python {sys.version.split()[0]}; {os.cpu_count()} cores; broker {broker.split(':')[0]}")
    missed = print_results(results)
    for line in problems + missed:
        print(line)
    return 1 if problems or (missed and not arguments.figures_only) else 0


if __name__ == "__main__":
    sys.exit(main())
