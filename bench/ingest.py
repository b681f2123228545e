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
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass

from harness import (
    add_size_options,
    csv_file,
    measure_each_size,
    measure_in_child,
    parse_size_options,
    print_result,
    print_table,
    setup_django,
)

DEFAULT_SIZES = "100000,1000000"


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


def run_one(backend: str, rows: int) -> RunResult:
    """Time one import in this process; DATABASE_URL already names a throw-away database."""
    setup_django(migrate=True)
    # Only importable once Django is set up.
    from django.contrib.auth.models import User
    from django.db import connection

    from metrics.csv_io import parse_indicator_csv
    from metrics.models import Indicator, Metric

    user = User.objects.create(username="bench")
    metric = Metric.objects.create(name="Requests per minute", category="Traffic", owner=user)
    data = csv_file(rows)
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
    version = ".".join(map(str, connection.get_database_version()))
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
    return RunResult(**measure_in_child(__file__, backend, rows, env))


def print_results(results: list[RunResult]) -> None:
    columns = [
        ("database", "<10"),
        ("rows", ">10,"),
        ("CSV MiB", ">8.1f"),
        ("parse s", ">8.2f"),
        ("insert s", ">9.2f"),
        ("total s", ">8.2f"),
        ("rows/s", ">10,.0f"),
        ("base MiB", ">9.0f"),
        ("peak MiB", ">9.0f"),
    ]
    print_table(
        columns,
        [
            (
                result.database,
                result.rows,
                result.csv_bytes / 2**20,
                result.parse_seconds,
                result.insert_seconds,
                result.total_seconds,
                result.rows_per_second,
                result.base_rss_kib / 1024,
                result.peak_rss_kib / 1024,
            )
            for result in results
        ],
    )


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Rows per second for importing indicator CSV files.")
    add_size_options(parser, DEFAULT_SIZES)
    return parse_size_options(parser, argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if arguments.child:
        backend, rows = arguments.child
        print_result(asdict(run_one(backend, int(rows))))
        return 0

    results, problems = measure_each_size(arguments, run_in_child)
    print(f"Python {sys.version.split()[0]}; " + "; ".join(sorted({f"{r.database} {r.version}" for r in results})))
    print_results(results)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
