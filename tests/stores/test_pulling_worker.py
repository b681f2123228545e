"""Real Celery workers started as the Procfiles start them (the job worker with --beat, and the
pulls' worker of threads on the pull queue) pull a release's bound metric from a real Prometheus
by themselves: the pipeline only starts the release and asks for its verdict. Their own database
and broker queues, as tests/jobs/test_worker.py's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.jobs.test_worker import ROOT, deployment, shell  # noqa: F401 - the `deployment` fixture
from tests.stores.conftest import PrometheusServer

START = (
    "from metrics.models import DataSource, Gate, GateMetric, Metric, MetricQuery; "
    "from django.contrib.auth.models import User; "
    "user = User.objects.get(username='demo'); "
    "metric = Metric.objects.get(name='Requests per minute', owner=user); "
    "gate = Gate.objects.create(name='Pulled', owner=user, pull_interval_seconds=10); "
    "GateMetric.objects.create(gate=gate, metric=metric); "
    "source = DataSource.objects.create(owner=user, name='prod', url={url!r}, timeout_seconds=2); "
    "MetricQuery.objects.create(metric=metric, source=source, "
    "query='mb_worker_requests{{release=\"{{{{ version }}}}\"}}'); "
    "print(gate.release_by_key('abc123', user, version='v7').pk)"
)
PULLED = (
    "from metrics.models import Release; release = Release.objects.get(pk={pk}); "
    "pulls = list(release.pulls.order_by('pulled_at')); "
    "print(len(pulls), sum(pull.observation_id is not None for pull in pulls), "
    "release.verdict().decided_by)"
)


def celery_worker(environment: dict[str, str], *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - this interpreter, our own code
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "mbreak",
            "worker",
            *options,
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.fixture
def worker_with_beat(deployment: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:  # noqa: F811
    environment = {**deployment, "MBREAK_PULL_TICK_SECONDS": "1"}
    beat = ("--beat", "--schedule", str(tmp_path / "beat-schedule"))
    processes = [
        celery_worker(environment, *beat, "--concurrency", "2", "-Q", environment["MBREAK_JOB_QUEUE"]),
        celery_worker(
            environment,
            "-Q",
            environment["MBREAK_PULL_QUEUE"],
            "-n",
            "pulls@",
            "--pool",
            "threads",
            "--concurrency",
            "4",
        ),
    ]
    yield environment
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        process.wait(timeout=30)


def test_a_worker_with_its_beat_pulls_a_started_release_by_itself(
    worker_with_beat: dict[str, str], prometheus: PrometheusServer
) -> None:
    prometheus.set('mb_worker_requests{release="v7"}', "900")
    prometheus.wait_for('mb_worker_requests{release="v7"}', "900")

    release_id = int(shell(worker_with_beat, START.format(url=prometheus.url)))

    deadline = time.monotonic() + 60
    counts = ""
    while time.monotonic() < deadline:
        counts = shell(worker_with_beat, PULLED.format(pk=release_id))
        if int(counts.split()[0]) >= 2:
            break
        time.sleep(1)
    pulls, observed, decided_by = counts.split()
    assert int(pulls) >= 2, counts  # from its start, then again an interval later
    assert observed == pulls
    assert decided_by != "waiting"  # the verdict has its observations without any pushed
