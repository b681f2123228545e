"""Schemathesis against the live schema: every operation, every check, a bounded number of
examples each; no server error, and every answer as the schema says.

Schemathesis runs as its command (`st run`), against this test's live server, holding a
read-write token of an account with two trained metrics, a gate of both, a release with an
observation and a verdict in the log. Its settings are in `schemathesis.toml` beside this
file. The seed is fixed so that a run is repeatable; `MBREAK_SCHEMATHESIS_SEED` tries
another, `MBREAK_SCHEMATHESIS_EXAMPLES` more examples.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from accounts.models import ApiToken, TokenScope
from api.throttling import PerTokenThrottle
from metrics.models import DataSource, Gate, GateMetric, Metric, Release
from tests.data import rule_data
from tests.factories import MetricFactory, TrainedModelFactory

pytestmark = [
    pytest.mark.skipif(sys.version_info < (3, 11), reason="Schemathesis needs Python 3.11 or newer"),
    pytest.mark.skipif(
        not Path(sys.executable).with_name("st").exists(), reason="Schemathesis is not installed: make install-dev"
    ),
    pytest.mark.django_db(transaction=True),
]

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("st")


def trained(owner: User, name: str) -> Metric:
    metric = MetricFactory.create(owner=owner, name=name, category="Checkout")
    metric.import_indicators(rule_data(200), owner)
    TrainedModelFactory.create(metric=metric, trained_by=owner)
    return metric


def test_every_operation_answers_as_the_schema_says(
    live_server, owner: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PerTokenThrottle, "THROTTLE_RATES", {"token": "1000000/minute"})
    errors, latency = trained(owner, "error rate"), trained(owner, "p95 latency")
    gate = Gate.objects.create(name="Checkout", owner=owner)
    GateMetric.objects.create(gate=gate, metric=errors, critical=True)
    GateMetric.objects.create(gate=gate, metric=latency)
    release = Release.objects.create(gate=gate, name="checkout-web", version="v42", created_by=owner)
    release.observe(errors, 900, owner, minutes=30)
    # A metric bound to a data source that answers nothing (its previews say so).
    down = DataSource.objects.create(owner=owner, name="Down", url="http://127.0.0.1:9", timeout_seconds=1)
    errors.bind(down, owner, query='rate(http_errors_total{pod="{{ key }}"}[{{ window }}m])')
    _token, secret = ApiToken.objects.issue(owner, "schemathesis", TokenScope.WRITE)

    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{live_server.url}/api/schema/",
        "--header",
        f"Authorization: Bearer {secret}",
        "--checks",
        "all",
        "--max-examples",
        os.environ.get("MBREAK_SCHEMATHESIS_EXAMPLES", "10"),
        "--seed",
        os.environ.get("MBREAK_SCHEMATHESIS_SEED", "20261129"),
        "--generation-database",
        "none",
        "--no-color",
    ]
    run = subprocess.run(  # noqa: S603 - the venv's own schemathesis, our arguments
        command, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False
    )

    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", run.stdout)
    tested = re.search(r"Tested: (\d+)", run.stdout)
    assert selected, run.stdout[-5_000:]
    assert tested, run.stdout[-5_000:]
    assert int(tested[1]) == int(selected[1]) == int(selected[2]) >= 30  # every operation of the schema
