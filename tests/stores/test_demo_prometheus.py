"""The worked example (`make demo-prometheus`, i.e. `manage.py demo_prometheus` beside a worker
with its beat) reaches its answer, and says so and exits non-zero when it cannot: it starts its
own real Prometheus, fills the demo metrics' history from it, and the worker pulls its canaries."""

from __future__ import annotations

import subprocess
import sys

from tests.jobs.test_worker import ROOT, deployment  # noqa: F401 - the `deployment` fixture
from tests.stores.test_pulling_worker import worker_with_beat  # noqa: F401 - the worker fixture


def demo(environment: dict[str, str], deadline: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "manage.py", "demo_prometheus", "--exit-when-decided", "--deadline", str(deadline)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=deadline + 180,
        check=False,
    )


def test_the_worked_example_rolls_the_healthy_canary_out_and_the_climbing_one_back(
    worker_with_beat: dict[str, str],  # noqa: F811
) -> None:
    result = demo(worker_with_beat, deadline=150)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Filled 2,400 indicators into “Error rate (%)” from its data source." in result.stdout
    assert "healthy canary: rollout — Roll out" in result.stdout
    assert "canary whose errors climb: rollback — Roll back" in result.stdout
    assert "/api/v1/gates/" in result.stdout


def test_without_a_worker_to_pull_the_canaries_the_example_says_so_and_fails(
    deployment: dict[str, str],  # noqa: F811
) -> None:
    result = demo(deployment, deadline=5)

    assert result.returncode == 1
    assert "were not decided as expected" in result.stderr
    assert "healthy canary: no verdict" not in result.stderr  # each canary's verdict so far is named
    assert "healthy canary: inconclusive by waiting" in result.stderr
