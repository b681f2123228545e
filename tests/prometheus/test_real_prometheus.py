"""The real Prometheus (Debian's) scrapes a live test server with the README's scrape job, its
scheme, host and token file replaced: the target is up, and the figures Prometheus stores are
the database's. The same job with a pipeline's token is refused, and Prometheus says so."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from django.contrib.auth.models import User

from accounts.models import ApiToken, TokenScope
from metrics.models import Verdict
from stores import local_prometheus
from stores.local_prometheus import running_prometheus
from tests.prometheus.scenario import metrics_token, scripted

README = Path(__file__).resolve().parents[2] / "README.md"
SCRAPE_CONFIG = re.compile(r"<!-- prometheus-scrape-config -->\n```yaml\n(?P<config>.*?)```", re.S)


def readme_scrape_config() -> dict[str, Any]:
    found = SCRAPE_CONFIG.search(README.read_text(encoding="utf-8"))
    assert found, "the README has no Prometheus scrape configuration block"
    return dict(yaml.safe_load(found["config"]))


def job_for(readme_job: dict[str, Any], name: str, target: str, token_file: Path) -> dict[str, Any]:
    """The README's job, scraping `target` over plain HTTP with the token in `token_file`."""
    job = {**readme_job, "job_name": name, "scheme": "http", "scrape_interval": "1s"}
    job["authorization"] = {**readme_job["authorization"], "credentials_file": str(token_file)}
    job["static_configs"] = [{"targets": [target]}]
    return job


def query(prometheus: str, expression: str) -> list[dict[str, Any]]:
    answer = requests.post(f"{prometheus}/api/v1/query", data={"query": expression}, timeout=5).json()
    return list(answer["data"]["result"])


def wait_for(prometheus: str, expression: str, expected: str, seconds: float = 30) -> None:
    """Until the instant query `expression` gives `expected` (one series)."""
    deadline = time.monotonic() + seconds
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = query(prometheus, expression)
        if len(found) == 1 and found[0]["value"][1] == expected:
            return
        time.sleep(0.25)
    raise AssertionError(f"{expression} is {found}, not {expected}, after {seconds} s")


@pytest.mark.django_db(transaction=True)
def test_prometheus_scrapes_make_or_break_with_the_readme_s_job(live_server, owner: User, tmp_path: Path) -> None:
    try:
        local_prometheus.binary()
    except local_prometheus.NotInstalled as error:
        pytest.fail(str(error))
    scripted(owner)
    readme = readme_scrape_config()
    [readme_job] = readme["scrape_configs"]
    assert readme_job["metrics_path"] == "/metrics"
    assert readme_job["authorization"]["type"] == "Bearer"
    tokens = {"make-or-break": metrics_token(owner)}
    tokens["pipeline-token"] = ApiToken.objects.issue(owner, "pipeline", TokenScope.READ)[1]
    for name, token in tokens.items():
        (tmp_path / f"{name}.token").write_text(token)
    target = urlsplit(live_server.url).netloc
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [job_for(readme_job, name, target, tmp_path / f"{name}.token") for name in tokens],
    }

    with running_prometheus(tmp_path, yaml.safe_dump(config)) as prometheus:
        wait_for(prometheus, 'up{job="make-or-break"}', "1")
        rollbacks = Verdict.objects.filter(metric__name="Error rate", state="rollback").count()
        wait_for(prometheus, 'mbreak_verdicts{metric="Error rate",state="rollback"}', str(rollbacks))
        wait_for(prometheus, 'mbreak_gate_judgements{gate="Checkout deploys",judgement="wrong"}', "1")
        wait_for(prometheus, 'up{job="pipeline-token"}', "0")
        targets = requests.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        refused = next(target for target in targets if target["labels"]["job"] == "pipeline-token")

    assert rollbacks == 3
    assert "403" in refused["lastError"]
