"""Jobs run by a real Celery worker process, through Redis, on a database of their own.

Everything runs in subprocesses (`manage.py`, `celery worker`) against a throw-away SQLite
file, so these tests need neither the suite's database nor its transaction: they do what a
deployment does. `make test` starts a throw-away Redis when none answers on 127.0.0.1:6379.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("MBREAK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def deployment(tmp_path: Path) -> dict[str, str]:
    """The environment of a small deployment: its own database file and job queue."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "CELERY_"))}
    environment.update(
        DJANGO_SETTINGS_MODULE="mbreak.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CELERY_BROKER_URL=REDIS_URL,
        MBREAK_JOB_QUEUE=f"test-{uuid.uuid4().hex}",
        MBREAK_PULL_QUEUE=f"test-pulls-{uuid.uuid4().hex}",
        MBREAK_JOB_HEARTBEAT_TIMEOUT="2",
        LOG_FORMAT="text",
    )
    manage(environment, "migrate", "--noinput", "-v", "0")
    manage(environment, "load_demo")
    return environment


def manage(environment: dict[str, str], *arguments: str) -> str:
    result = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def shell(environment: dict[str, str], code: str) -> str:
    return manage(environment, "shell", "-c", code).strip().splitlines()[-1]


def start_worker(environment: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "mbreak",
            "worker",
            "--concurrency",
            "1",
            "-Q",
            environment["MBREAK_JOB_QUEUE"],
            "--loglevel",
            "INFO",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group: killed whole, children included
    )


@pytest.fixture
def worker(deployment: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = start_worker(deployment)
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def job_row(environment: dict[str, str], job_id: int) -> tuple[str, str, str]:
    database = environment["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        row = connection.execute("SELECT status, stage, failure FROM metrics_job WHERE id = ?", (job_id,)).fetchone()
    return row


def wait_for(environment: dict[str, str], job_id: int, statuses: set[str], seconds: float = 90) -> tuple[str, str, str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = job_row(environment, job_id)
        if row[0] in statuses:
            return row
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job_row(environment, job_id)} after {seconds} s")


ENQUEUE = (
    "from metrics.models import Job, Metric; from django.contrib.auth.models import User; "
    "metric = Metric.objects.get(name={name!r}); "
    "print(Job.objects.enqueue_training(metric, User.objects.get(username='demo'))[0].pk)"
)


def test_a_worker_process_trains_a_queued_job_to_a_new_version(
    deployment: dict[str, str], worker: subprocess.Popen[str]
) -> None:
    job_id = int(shell(deployment, ENQUEUE.format(name="Requests per minute")))

    assert wait_for(deployment, job_id, {"done", "failed"}) == ("done", "finished", "")
    versions = shell(
        deployment,
        "from metrics.models import Metric; m = Metric.objects.get(name='Requests per minute'); "
        "print(m.trained_models.count(), m.active_model.version)",
    )
    assert versions == "3 3"  # the demo's two versions, and this one, now answering
    worker_name = shell(deployment, f"from metrics.models import Job; print(Job.objects.get(pk={job_id}).worker)")
    assert worker_name.startswith("celery@")  # which instance ran it, for every web process to show


# The demo's "p95 latency (ms)", big enough for a training to last a few seconds.
GROW_FOR_A_LONG_TRAINING = (
    "from metrics.demo import LATENCY, demo_data; from metrics.models import Metric; "
    "m = Metric.objects.get(name=LATENCY.name); "
    "m.import_indicators(next(demo_data(60000, seed=1, noise=0, metrics=[LATENCY]))[1], m.owner); print('ok')"
)


def kill_mid_training(deployment: dict[str, str], worker: subprocess.Popen[str]) -> int:
    """Start a long training, kill -9 the worker once it runs (the machine lost, the deploy that
    kills -9) and return the job's id."""
    shell(deployment, GROW_FOR_A_LONG_TRAINING)
    job_id = int(shell(deployment, ENQUEUE.format(name="p95 latency (ms)")))
    wait_for(deployment, job_id, {"running"})
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    return job_id


def test_a_worker_killed_mid_training_leaves_the_previous_version_answering_and_the_job_failed(
    deployment: dict[str, str], worker: subprocess.Popen[str]
) -> None:
    job_id = kill_mid_training(deployment, worker)

    time.sleep(2.5)  # longer than the heartbeat timeout: the job is abandoned
    swept = shell(deployment, "from metrics.models import Job; print(Job.objects.sweep_abandoned())")

    assert swept == "1"
    assert job_row(deployment, job_id) == ("failed", "finished", "abandoned")
    answer = shell(
        deployment,
        "from metrics.models import Metric; m = Metric.objects.get(name='p95 latency (ms)'); "
        "print(m.trained_models.count(), m.predict(1500, 20, m.owner).state)",
    )
    assert answer == "2 rollback"  # no third version; the second still answers


def test_a_worker_started_again_after_it_was_killed_ends_the_job_it_left_at_once(
    deployment: dict[str, str], worker: subprocess.Popen[str]
) -> None:
    """Same machine, same node name: no need to wait for the heartbeat timeout nor a sweep."""
    job_id = kill_mid_training(deployment, worker)
    environment = {**deployment, "MBREAK_JOB_HEARTBEAT_TIMEOUT": "600"}  # the sweep would wait ten minutes

    again = start_worker(environment)
    try:
        assert wait_for(environment, job_id, {"done", "failed"}, seconds=60) == ("failed", "finished", "abandoned")
    finally:
        os.killpg(again.pid, signal.SIGTERM)
        again.wait(timeout=30)
    detail = shell(deployment, f"from metrics.models import Job; print(Job.objects.get(pk={job_id}).detail)")
    assert re.fullmatch(r"its worker celery@\S+ started again", detail), detail


def test_a_worker_killed_mid_import_stores_no_row_of_the_file(
    deployment: dict[str, str], worker: subprocess.Popen[str]
) -> None:
    job_id = int(
        shell(
            deployment,
            "import hashlib; from metrics.models import ImportBatch, Job, Metric; "
            "m = Metric.objects.get(name='Error rate (%)'); "
            "rows = ''.join(f'{i % 97},{i % 2},{i % 60}\\n' for i in range(400000)); "
            "data = ('valor,decisao,tempo\\n' + rows).encode(); "
            "b = ImportBatch.objects.create(metric=m, uploaded_by=m.owner, file_name='big.csv', "
            "sha256=hashlib.sha256(data).hexdigest(), size=len(data), delimiter='detect', data=data); "
            "print(Job.objects.enqueue_import(b, m.owner).pk)",
        )
    )
    deadline = time.monotonic() + 60
    while job_row(deployment, job_id)[1] != "importing":  # the rows are being stored, in one transaction
        assert time.monotonic() < deadline, job_row(deployment, job_id)
        time.sleep(0.02)

    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    time.sleep(2.5)
    shell(deployment, "from metrics.models import Job; print(Job.objects.sweep_abandoned())")

    assert job_row(deployment, job_id) == ("failed", "finished", "abandoned")
    counts = shell(
        deployment,
        "from metrics.models import Indicator, Metric; m = Metric.objects.get(name='Error rate (%)'); "
        "print(Indicator.objects.filter(batch__file_name='big.csv').count(), m.indicators.count(), m.indicator_count)",
    )
    # The demo's 400, its 2 feedback rows and the 8 labels of its releases' outcomes; none of the file.
    assert counts == "0 410 410"


@pytest.fixture
def postgres_deployment(deployment: dict[str, str]) -> Iterator[dict[str, str]]:
    """The same small deployment on a PostgreSQL database of its own (dropped afterwards)."""
    psycopg = pytest.importorskip("psycopg")
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith(("postgres://", "postgresql://")):
        server = "postgres://postgres@127.0.0.1:5432/postgres"
    name = f"mbreak_worker_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"a lost database connection is only simulated on PostgreSQL, and none answers: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    environment = {**deployment, "DATABASE_URL": server.rsplit("/", 1)[0] + f"/{name}"}
    try:
        manage(environment, "migrate", "--noinput", "-v", "0")
        manage(environment, "load_demo")
        yield environment
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_job_row(environment: dict[str, str], job_id: int) -> tuple[str, str, str]:
    import psycopg

    with psycopg.connect(environment["DATABASE_URL"]) as connection:
        row = connection.execute("SELECT status, stage, failure FROM metrics_job WHERE id = %s", (job_id,)).fetchone()
    assert row is not None
    return row


def test_a_database_connection_lost_mid_import_fails_the_job_saying_so_and_stores_nothing(
    postgres_deployment: dict[str, str],
) -> None:
    import psycopg

    environment = postgres_deployment
    job_id = int(
        shell(
            environment,
            "import hashlib; from metrics.models import ImportBatch, Job, Metric; "
            "m = Metric.objects.get(name='Error rate (%)'); "
            "rows = ''.join(f'{i % 97},{i % 2},{i % 60}\\n' for i in range(1000000)); "
            "data = ('valor,decisao,tempo\\n' + rows).encode(); "
            "b = ImportBatch.objects.create(metric=m, uploaded_by=m.owner, file_name='big.csv', "
            "sha256=hashlib.sha256(data).hexdigest(), size=len(data), delimiter='detect', data=data); "
            "print(Job.objects.enqueue_import(b, m.owner).pk)",
        )
    )
    worker = start_worker(environment)
    try:
        deadline = time.monotonic() + 60
        while postgres_job_row(environment, job_id)[1] != "importing":  # storing, in one transaction
            assert time.monotonic() < deadline, postgres_job_row(environment, job_id)
            time.sleep(0.02)
        # The database restarts, or a network partition: the server ends the worker's session.
        with psycopg.connect(environment["DATABASE_URL"], autocommit=True) as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        deadline = time.monotonic() + 60
        while postgres_job_row(environment, job_id)[0] == "running":
            assert time.monotonic() < deadline, "the job was left running"
            time.sleep(0.1)

        # The worker itself says what happened (no sweep needed), and nothing of the file is stored.
        assert postgres_job_row(environment, job_id) == ("failed", "finished", "database"), shell(
            environment, f"from metrics.models import Job; print(repr(Job.objects.get(pk={job_id}).detail))"
        )
        counts = shell(
            environment,
            "from metrics.models import ImportBatch, Indicator, Metric; m = Metric.objects.get(name='Error rate (%)'); "
            "b = ImportBatch.objects.get(file_name='big.csv'); "
            "print(Indicator.objects.filter(batch=b).count(), m.indicators.count(), m.indicator_count, len(b.data))",
        )
        # The demo's 410 rows (see above) but none of the file, and the file itself dropped.
        assert counts == "0 410 410 0"
        # The worker opened a new connection: the next job runs.
        next_job = int(shell(environment, ENQUEUE.format(name="Requests per minute")))
        deadline = time.monotonic() + 90
        while postgres_job_row(environment, next_job)[0] not in ("done", "failed"):
            assert time.monotonic() < deadline, postgres_job_row(environment, next_job)
            time.sleep(0.2)
        assert postgres_job_row(environment, next_job) == ("done", "finished", "")
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
