"""How fast can Make or Break import indicator CSV files? Rows per second, per database.

    .venv/bin/python bench/ingest.py       # or `make bench`: 100k and 1M rows, SQLite and PostgreSQL
    .venv/bin/python bench/ingest.py --sizes 10000 --backends sqlite

Each (database, size) pair runs in its own Python process on its own throw-away database
(a temporary SQLite file, or a fresh PostgreSQL database created here and dropped
afterwards), so that neither the developer's db.sqlite3 nor a real database is touched,
and so that the peak memory reported is that run's alone: ru_maxrss never goes down.

The timed code is the application's own: `parse_indicator_csv` on the bytes of the file,
then `Metric.import_indicators` (its transaction, bulk insert and data-version bump).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = "100000,1000000"
DEFAULT_BACKENDS = "sqlite,postgres"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgres")
# Marks the child's one line of results, so that anything else it prints is not parsed.
RESULT_PREFIX = "BENCH-RESULT "


@dataclass
class RunResult:
    database: str
    version: str
    rows: int
    csv_bytes: int
    parse_seconds: float
    insert_seconds: float
    base_rss_kib: int
    peak_rss_kib: int

    @property
    def total_seconds(self) -> float:
        return self.parse_seconds + self.insert_seconds

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.total_seconds


def generate_csv(rows: int, seed: int = 2024) -> bytes:
    """A CSV file as a team would upload it: requests per minute, decision, minutes observed."""
    rng = random.Random(seed)
    buffer = io.BytesIO()
    buffer.write(b"valor,decisao,tempo\n")
    lines: list[str] = []
    for index in range(1, rows + 1):
        value = round(max(0.0, rng.gauss(600, 180)), 2)
        minutes = round(rng.uniform(0.5, 60), 1)
        # The same rule the test data follows (low traffic for a long time -> rollback),
        # with some noise, so decisions are mixed as in real history.
        decision = int(value < 400 and minutes >= 10)
        if rng.random() < 0.05:
            decision = 1 - decision
        lines.append(f"{value},{decision},{minutes}\n")
        # Encoded in chunks, so that making the file costs little more memory than the
        # file itself and the peak measured later is the import's, not the generator's.
        if index % 10_000 == 0 or index == rows:
            buffer.write("".join(lines).encode("utf-8"))
            lines.clear()
    return buffer.getvalue()


def run_one(backend: str, rows: int) -> RunResult:
    """Time one import in this process; DATABASE_URL already names a throw-away database."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "mbreak.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()

    # Only importable once Django is set up.
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection

    from metrics.csv_io import parse_indicator_csv
    from metrics.models import Indicator, Metric

    call_command("migrate", verbosity=0, interactive=False)
    user = User.objects.create(username="bench")
    metric = Metric.objects.create(name="Requests per minute", category="Traffic", owner=user)
    data = generate_csv(rows)
    # What the process holds before parsing (Django with pandas and scikit-learn loaded,
    # and the file's bytes, as a view holds an upload), so that the peak reads as
    # "base + what importing this file costs".
    base_rss_kib = peak_rss_kib()

    started = time.perf_counter()
    parsed = parse_indicator_csv(data)
    parsed_at = time.perf_counter()
    metric.import_indicators(parsed, user)
    stored_at = time.perf_counter()

    # A benchmark that stored nothing would report a fine speed: make sure it did not.
    stored = Indicator.objects.filter(metric=metric).count()
    if stored != rows:
        raise RuntimeError(f"expected {rows} stored indicators, found {stored}")

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
        else:
            cursor.execute("SELECT sqlite_version()")
        version = str(cursor.fetchone()[0]).split()[0]

    return RunResult(
        database=backend,
        version=version,
        rows=rows,
        csv_bytes=len(data),
        parse_seconds=parsed_at - started,
        insert_seconds=stored_at - parsed_at,
        base_rss_kib=base_rss_kib,
        peak_rss_kib=peak_rss_kib(),
    )


def peak_rss_kib() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux counts in kibibytes, macOS in bytes.
    return peak // 1024 if sys.platform == "darwin" else peak


def run_in_child(backend: str, rows: int, database_url: str) -> RunResult:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="mbreak.settings",
        # Production settings: no debug cursor wrapper recording every query.
        DEBUG="0",
        SECRET_KEY="bench-only-not-a-secret",  # noqa: S106
        ALLOWED_HOSTS="localhost",
        # Required with DEBUG off; an import only touches the cache to forget charts.
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9"),
    )
    command = [sys.executable, str(Path(__file__).resolve()), "--child", backend, str(rows)]
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise RuntimeError(f"the {backend} run of {rows} rows failed:\n{completed.stderr.strip()}")
    lines = [line for line in completed.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if not lines:
        raise RuntimeError(f"the {backend} run of {rows} rows printed no result:\n{completed.stdout.strip()}")
    fields = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    return RunResult(**fields)


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="mbreak-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh, empty database on the server of `admin_url`, dropped on the way out."""
    import psycopg
    from psycopg import sql

    # Our process id in the name: we only ever drop a database this run created.
    name = f"mbreak_bench_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        parts = urlsplit(admin_url)
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def postgres_unreachable_reason(admin_url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(admin_url, connect_timeout=5) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0]
    return None


def print_table(results: list[RunResult]) -> None:
    header = (
        f"{'database':<10} {'rows':>10} {'CSV MiB':>8} {'parse s':>8} {'insert s':>9} "
        f"{'total s':>8} {'rows/s':>10} {'base MiB':>9} {'peak MiB':>9}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        print(
            f"{result.database:<10} {result.rows:>10,} {result.csv_bytes / 2**20:>8.1f} "
            f"{result.parse_seconds:>8.2f} {result.insert_seconds:>9.2f} {result.total_seconds:>8.2f} "
            f"{result.rows_per_second:>10,.0f} {result.base_rss_kib / 1024:>9.0f} {result.peak_rss_kib / 1024:>9.0f}"
        )


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Rows per second for importing indicator CSV files.")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated row counts (default {DEFAULT_SIZES})")
    parser.add_argument(
        "--backends", default=DEFAULT_BACKENDS, help=f"comma-separated, of {', '.join(BACKENDS)} (default all)"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="a server where a throw-away database may be created and dropped "
        f"(default {DEFAULT_POSTGRES_URL}; only its server and credentials are used)",
    )
    # Internal: run one measurement in this process and print it as JSON.
    parser.add_argument("--child", nargs=2, metavar=("BACKEND", "ROWS"), help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    try:
        arguments.sizes = [int(size.replace("_", "")) for size in arguments.sizes.split(",") if size.strip()]
    except ValueError:
        parser.error("--sizes takes whole numbers separated by commas, e.g. 100000,1000000")
    if not arguments.sizes or any(size <= 0 for size in arguments.sizes):
        parser.error("--sizes takes positive numbers of rows")
    arguments.backends = [backend.strip() for backend in arguments.backends.split(",") if backend.strip()]
    unknown = sorted(set(arguments.backends) - set(BACKENDS))
    if unknown:
        parser.error(f"unknown backend {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if arguments.child:
        backend, rows = arguments.child
        print(RESULT_PREFIX + json.dumps(asdict(run_one(backend, int(rows)))))
        return 0

    results: list[RunResult] = []
    notes: list[str] = []
    failures: list[str] = []
    for backend in arguments.backends:
        if backend == "postgres":
            reason = postgres_unreachable_reason(arguments.postgres_url)
            if reason is not None:
                notes.append(f"postgres: skipped, PostgreSQL is unreachable ({reason})")
                continue
        for rows in arguments.sizes:
            print(f"running {backend}, {rows:,} rows…", file=sys.stderr, flush=True)
            database = sqlite_database() if backend == "sqlite" else postgres_database(arguments.postgres_url)
            try:
                with database as url:
                    results.append(run_in_child(backend, rows, url))
            except Exception as error:
                # One failed run should not hide the others' figures.
                failures.append(f"{backend}, {rows:,} rows: failed: {error}")

    print(f"Python {sys.version.split()[0]}; " + "; ".join(sorted({f"{r.database} {r.version}" for r in results})))
    print_table(results)
    for note in notes + failures:
        print(note)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
