"""Each benchmark, run at a tiny size through its own command line, so that none rots.

The figures of a tiny run mean nothing; what is checked is that the benchmark went through
(exit status 0) and printed its table. `--figures-only` keeps a bench's exit status for what
went wrong (a failed request, a job that did not end), not for targets a tiny size cannot
meet. The benchmarks that need PostgreSQL run in the suite's PostgreSQL pass, on the same
server (a throw-away database each, dropped at the end); the others in both passes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
ON_POSTGRES = connection.vendor == "postgresql"
# The suite's PostgreSQL server: the benchmarks make and drop their own databases on it.
POSTGRES_URL = os.environ.get("DATABASE_URL", "") if ON_POSTGRES else ""
BACKEND = "postgres" if ON_POSTGRES else "sqlite"

pytestmark = pytest.mark.bench
postgresql_only = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: runs in the suite's PostgreSQL pass")


def postgres_server(option: str) -> list[str]:
    return [option, POSTGRES_URL] if ON_POSTGRES else []


def run_bench(script: str, *arguments: str, timeout: float = 240) -> str:
    """Run `bench/<script>` as a person would; its output, once it exited 0."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "CELERY_"))}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    completed = subprocess.run(  # noqa: S603 - this interpreter, our own benchmark
        [sys.executable, str(ROOT / "bench" / script), *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, f"exit {completed.returncode}\n{completed.stdout}\n{completed.stderr[-4000:]}"
    return completed.stdout


def run_server_bench(script: str, database: str, *arguments: str) -> str:
    """Run a benchmark that serves the app, on a free port; on PostgreSQL, on a database of this
    name on the suite's server (the benchmark makes and drops it), else on its own SQLite."""
    url = urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{database}_{os.getpid()}"))
    on_the_suites_server = ["--database-url", url] if ON_POSTGRES else []
    return run_bench(script, *arguments, "--port", "0", "--figures-only", *on_the_suites_server)


def test_ingest_prints_rows_per_second() -> None:
    output = run_bench("ingest.py", "--sizes", "300", "--backends", BACKEND, *postgres_server("--postgres-url"))

    assert "rows/s" in output
    assert f"{BACKEND:<10}        300" in output


def test_verdict_prints_seconds_per_verdict() -> None:
    output = run_bench("verdict.py", "--sizes", "100,300", "--repeat", "2")

    assert "per verdict s" in output
    assert output.count("\n") >= 4  # header, rule, one line per size


def test_training_prints_accuracy_against_an_unlimited_tree() -> None:
    output = run_bench("training.py", "--sizes", "300")

    assert "unlimited acc" in output
    assert "     300     300" in output


def test_long_line_prints_the_refusals_against_parsing() -> None:
    output = run_bench("long_line.py", "--mib", "1")

    assert "a normal file, parsed" in output
    assert "a long line at the end, refused" in output


def test_jobs_prints_the_background_ratios() -> None:
    output = run_bench(
        "jobs.py", "--sizes", "300", "--backends", BACKEND, *postgres_server("--postgres-url"), "--figures-only"
    )

    assert "job ÷ in-process import" in output
    assert f"{BACKEND:<9}       300  parse" in output


def test_api_verdicts_prints_the_verdict_against_its_floor() -> None:
    assert shutil.which("wrk"), "the API benchmark needs wrk: `make test` installs it (apt-get install wrk)"
    output = run_server_bench(
        "api_verdicts.py",
        "mbreak_api_smoke",
        *("--seconds", "1", "--warmup", "0", "--rounds", "1", "--connections", "2", "--indicators", "200"),
        *("--in-process", "20"),
    )

    assert "verdict ÷ floor: requests/s" in output
    assert "verdict − floor: server time in-process" in output
    assert "release verdict" in output


@postgresql_only
def test_load_prints_single_requests_and_the_load() -> None:
    output = run_server_bench(
        "load.py", "mbreak_load_smoke", *("--rows", "1000", "--users", "2", "--seconds", "2", "--repeat", "1")
    )

    assert "Single requests: one user alone" in output
    assert "Target: 0 errors and p99" in output


@postgresql_only
def test_scaleout_holds_every_check_with_two_webs_and_two_workers() -> None:
    output = run_bench(
        "scaleout.py", "--rows", "200", "--metric-rows", "50", "--trainings", "2", "--database-url", POSTGRES_URL
    )

    assert "both workers ran at least one of the 2 trainings" in output
    assert "checks hold" in output
    assert "FAILED" not in output


def test_pull_prints_the_lateness_of_pulls_and_the_fill_against_raw_range_queries() -> None:
    url = urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/mbreak_pull_smoke_{os.getpid()}"))
    output = run_bench(
        "pull.py",
        *("--releases", "3", "--metrics", "2", "--interval", "10", "--minutes", "0.3", "--tick", "2"),
        *("--past-releases", "3", "--past-minutes", "5", "--rounds", "1", "--figures-only"),
        *(["--database-url", url] if ON_POSTGRES else []),
    )

    assert "Polling: 3 releases × 2 metrics, every 10 s" in output
    assert "max ÷ interval" in output
    assert "range queries sent" in output


def test_metrics_scrape_prints_the_time_and_queries_of_a_scrape() -> None:
    output = run_bench(
        "metrics_scrape.py",
        *("--sizes", "20,40", "--verdicts", "2", "--releases", "2", "--repeat", "1"),
        *postgres_server("--database-url"),
    )

    assert "scrape ms" in output
    lines = output.splitlines()[2:]
    assert [line.split()[0] for line in lines] == ["20", "40"]
    assert len({line.split()[4] for line in lines}) == 1  # as many queries for 40 metrics as for 20


def test_replay_prints_the_replay_against_the_same_trainings_done_raw() -> None:
    output = run_bench(
        "replay.py",
        *("--releases", "4", "--metrics", "2", "--minutes", "5", "--history", "30", "--figures-only"),
        *postgres_server("--database-url"),
    )

    assert "ours ÷ raw (≤ 1.5)" in output
    rows = [line.split() for line in output.splitlines()]
    # Trained, reused, observations judged: 4 releases x 2 metrics, each model trained once, then reused by the what-if.
    table = {row[0]: row[3:] for row in rows if len(row) == 6 and row[0] in ("raw", "ours", "what-if")}
    assert table == {"raw": ["8", "—", "40"], "ours": ["8", "0", "40"], "what-if": ["0", "8", "40"]}
