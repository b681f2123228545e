"""What a process measures itself (how long its verdict answers took) reaches /metrics: from
this process alone without `PROMETHEUS_MULTIPROC_DIR`, and added up over every process that
wrote to that folder with it, as gunicorn's workers do (gunicorn.conf.py sets one per run)."""

from __future__ import annotations

import concurrent.futures
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from metrics.models import Gate, GateMetric, Release
from tests.api.test_gates import bearer, trained
from tests.prometheus.scenario import family, figures, metrics_token

ROOT = Path(__file__).resolve().parents[2]

OBSERVE = """
import sys
import django

django.setup()
from metrics.prometheus import VERDICT_ANSWER_SECONDS

for seconds in sys.argv[1:]:
    VERDICT_ANSWER_SECONDS.observe(float(seconds))
"""


def environment(**changes: str) -> dict[str, str]:
    base = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    return {**base, "DJANGO_SETTINGS_MODULE": "mbreak.settings", "PYTHONPATH": str(ROOT), **changes}


def answer_times(client: Client, token: str) -> dict[str, float]:
    """mbreak_verdict_answer_seconds as /metrics reads it: its count, sum and buckets (by `le`)."""
    found = figures(client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).content.decode())
    times = {
        dict(labels)["le"]: value for labels, value in family(found, "mbreak_verdict_answer_seconds_bucket").items()
    }
    times["count"] = sum(family(found, "mbreak_verdict_answer_seconds_count").values())
    times["sum"] = sum(family(found, "mbreak_verdict_answer_seconds_sum").values())
    return times


def test_two_processes_answer_times_are_added_up_by_the_scrape(
    client: Client, owner: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environment(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    observers = [
        subprocess.Popen([sys.executable, "-c", OBSERVE, *seconds], cwd=ROOT, env=env)  # noqa: S603 - our code
        for seconds in (["0.02", "0.3"], ["4"])
    ]
    assert [observer.wait(timeout=60) for observer in observers] == [0, 0]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    times = answer_times(client, metrics_token(owner))

    assert times["count"] == 3
    assert times["sum"] == pytest.approx(4.32)
    assert (times["0.025"], times["0.5"], times["2.5"], times["5.0"], times["+Inf"]) == (1, 2, 2, 3, 3)
    assert len(list(tmp_path.glob("histogram_*.db"))) == 2  # one file per process


def test_a_release_verdict_answered_through_the_api_is_timed(client: Client, owner: User) -> None:
    gate = Gate.objects.create(name="Checkout", owner=owner, pass_score=80, marginal_score=50)
    metric = trained(owner, "Error rate")
    GateMetric.objects.create(gate=gate, metric=metric, weight=1)
    release = Release.objects.create(gate=gate, name="checkout-web", created_by=owner, started_at=timezone.now())
    token, pipeline = metrics_token(owner), bearer(owner)
    before = answer_times(client, token)["count"]

    client.get(f"/api/v1/releases/{release.pk}/verdict", headers=pipeline)
    client.post(
        f"/api/v1/releases/{release.pk}/observations/",
        {"metric": metric.pk, "value": 900, "minutes": 12},
        content_type="application/json",
        headers=pipeline,
    )
    client.get(f"/api/v1/gates/{gate.pk}/keys/checkout-web@1/verdict", headers=pipeline)

    assert answer_times(client, token)["count"] == before + 3


GUNICORN_CONFIG_CHECK = """
import json, os, runpy, sys
from pathlib import Path

config = runpy.run_path("gunicorn.conf.py")
import prometheus_client.values  # what the application imports, after the config, as gunicorn preloads it

folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
left_after_start = sorted(path.name for path in folder.iterdir())
(folder / "gauge_livesum_4242.db").write_bytes(b"")
(folder / "histogram_4242.db").write_bytes(b"")
config["child_exit"](None, type("Worker", (), {"pid": 4242})())
left_after_exit = sorted(path.name for path in folder.iterdir())
config["on_exit"](None)
print(json.dumps({
    "folder": str(folder),
    "multiprocess": prometheus_client.values.ValueClass.__name__ == "MmapedValue",
    "left_after_start": left_after_start,
    "left_after_exit": left_after_exit,
    "kept_after_gunicorn_stops": folder.exists(),
    "own_folder": str(config["own_prometheus_folder"]()),
}))
"""


def check_gunicorn_config(env: dict[str, str]) -> dict:
    result = subprocess.run(  # noqa: S603 - this interpreter, our own file
        [sys.executable, "-c", GUNICORN_CONFIG_CHECK], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.splitlines()[-1])


def test_gunicorn_empties_the_folder_it_is_given_before_the_app_loads_and_keeps_it(tmp_path: Path) -> None:
    (tmp_path / "histogram_1.db").write_bytes(b"an earlier run's")
    (tmp_path / "notes.txt").write_text("not ours")

    checked = check_gunicorn_config(environment(PROMETHEUS_MULTIPROC_DIR=str(tmp_path)))

    assert checked["multiprocess"] is True
    assert checked["left_after_start"] == ["notes.txt"]
    # A dead worker's live gauges go; what it counted stays counted.
    assert checked["left_after_exit"] == ["histogram_4242.db", "notes.txt"]
    assert checked["kept_after_gunicorn_stops"] is True


def test_without_a_folder_gunicorn_makes_one_for_its_run_and_removes_it_when_it_stops() -> None:
    checked = check_gunicorn_config(environment())

    assert checked["multiprocess"] is True
    assert checked["folder"] == checked["own_folder"]
    assert checked["left_after_start"] == []
    assert checked["kept_after_gunicorn_stops"] is False
    assert not Path(checked["folder"]).exists()


SMALL_DEPLOYMENT = """
import json
import django

django.setup()
from django.core.management import call_command

call_command("migrate", verbosity=0)
from accounts.models import ApiToken, TokenScope
from metrics.models import Gate, GateMetric, Release
from tests.api.test_gates import trained
from tests.factories import UserFactory

owner = UserFactory.create(username="owner")
gate = Gate.objects.create(name="Checkout", owner=owner, pass_score=80, marginal_score=50)
GateMetric.objects.create(gate=gate, metric=trained(owner, "Error rate"), weight=1)
release = Release.objects.create(gate=gate, name="checkout-web", created_by=owner)
print(json.dumps({
    "release": release.pk,
    "pipeline": ApiToken.objects.issue(owner, "pipeline", TokenScope.WRITE)[1],
    "prometheus": ApiToken.objects.issue(owner, "prometheus", TokenScope.METRICS)[1],
}))
"""


def get(url: str, token: str = "") -> str:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 - our server
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return str(answer.read().decode())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def gunicorn(env: dict[str, str], log: Path, workers: int) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The Procfile's web line (its program this virtualenv's) with `workers` workers, on a free
    port, from the project's folder (where gunicorn reads gunicorn.conf.py); its master and URL
    once /healthz answers; stopped as a deployment stops it (SIGTERM), whatever happens."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    command = shlex.split(line.removeprefix("web:"))
    command[0] = str(Path(sys.executable).parent / command[0])
    port = free_port()
    for option, value in {"--bind": f"127.0.0.1:{port}", "--workers": str(workers)}.items():
        command[command.index(option) + 1] = value
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        master = subprocess.Popen(  # noqa: S603 - this virtualenv's gunicorn, our Procfile
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    get(f"{url}/healthz")
                    break
                except (urllib.error.URLError, ConnectionError):
                    assert master.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.25)
            yield master, url
        finally:
            os.killpg(master.pid, signal.SIGTERM)
            master.wait(timeout=60)


def test_under_gunicorn_any_worker_answers_the_scrape_with_every_worker_s_answer_times(tmp_path: Path) -> None:
    env = environment(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", LOG_FORMAT="json", DEBUG="1")
    made = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", SMALL_DEPLOYMENT], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    deployment = json.loads(made.stdout.splitlines()[-1])
    log = tmp_path / "gunicorn.log"

    with gunicorn(env, log, workers=2) as (master, url):
        verdict = f"{url}/api/v1/releases/{deployment['release']}/verdict"
        # Eight at once: more than one worker's connections, so both workers answer some.
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda _: get(verdict, deployment["pipeline"]), range(24)))
        scrapes = [figures(get(f"{url}/metrics", deployment["prometheus"])) for _ in range(6)]
        folder = Path(tempfile.gettempdir()) / f"mbreak-prometheus-{master.pid}"
        assert folder.is_dir()

    requests = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    answered_by = {request["pid"] for request in requests if request.get("path", "").endswith("/verdict")}
    assert len(answered_by) == 2, log.read_text()[-3000:]
    for scraped in scrapes:
        assert sum(family(scraped, "mbreak_verdict_answer_seconds_count").values()) == 24
        assert family(scraped, "mbreak_releases") == {
            frozenset({("gate_id", "1"), ("gate", "Checkout"), ("verdict", "inconclusive")}): 1
        }
    assert not folder.exists()  # removed when gunicorn stopped
