"""Jobs run by a real Celery worker process, through Redis, on a database of their own.

Everything runs in subprocesses (`manage.py`, `celery worker`) against a throw-away SQLite
file, so these tests need neither the suite's database nor its transaction: they do what a
deployment does. `make test` starts a throw-away Redis when none answers on 127.0.0.1:6379.
"""

from __future__ import annotations

import os
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


@pytest.fixture
def worker(deployment: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(  # noqa: S603
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
            deployment["MBREAK_JOB_QUEUE"],
            "--loglevel",
            "INFO",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=deployment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: killed whole, children included
    )
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


def test_a_worker_killed_mid_training_leaves_the_previous_version_answering_and_the_job_failed(
    deployment: dict[str, str], worker: subprocess.Popen[str]
) -> None:
    # A metric big enough for a training to last a few seconds.
    shell(
        deployment,
        "import numpy as np; from metrics.models import Metric; from predictor.columns import IndicatorColumns; "
        "m = Metric.objects.get(name='p95 latency (ms)'); rng = np.random.default_rng(1); "
        "v = rng.uniform(80, 2000, 60000); "
        "m.import_indicators(IndicatorColumns(values=v.tolist(), times=rng.uniform(1, 60, 60000).tolist(), "
        "decisions=(v > 750).astype(int).tolist()), m.owner); print('ok')",
    )
    job_id = int(shell(deployment, ENQUEUE.format(name="p95 latency (ms)")))
    wait_for(deployment, job_id, {"running"})

    os.killpg(worker.pid, signal.SIGKILL)  # the machine lost, the deploy that kills -9
    worker.wait(timeout=10)
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
    assert counts == "0 402 402"  # the demo's 400 and its 2 feedback rows; none of the file
