"""Does a verdict through the API cost little more than logging one must? Against its floor, as ratios.

The floor (`bench/floor.py`) is an endpoint of the same app doing only what any endpoint that
logs a verdict must: the token checked and the request counted, the observation read, the
metric read through its access check, one verdict-sized row stored, a small JSON answer.
Targets: the verdict at 0.85 or more of the floor's requests/s (wrk, interleaved), and its
server time in-process within 0.8 ms of the floor's.

    .venv/bin/python bench/api_verdicts.py                 # SQLite in a temporary folder, 20 s per endpoint
    .venv/bin/python bench/api_verdicts.py --database-url postgres://postgres@127.0.0.1:5432/mbreak_api_bench
    .venv/bin/python bench/api_verdicts.py --profile 300   # also: where 300 verdicts spend their time, in-process

The load generator is `wrk` (`apt-get install wrk` on Debian and Ubuntu, `brew install wrk`
on macOS); without it the benchmark says so and exits with status 2.

What runs:

- **Database**: SQLite in a temporary folder, or the PostgreSQL database `--database-url`
  names, created here and dropped at the end (one that exists already is refused, unless an
  earlier run of this benchmark left it: it holds the user `api-bench-owner`). A child
  process migrates it and stores one user, one metric of `--indicators` (5,000) indicators
  (the demo's "Requests per minute" rule, with 8% of decisions flipped) through
  `Metric.import_indicators`, trains it in-process (`TrainedModel.objects.train`, as
  `manage.py train --metric` does), issues a read-and-write API token
  (`ApiToken.objects.issue`, as `manage.py create_token --write` does), and sets up a gate
  over the metric with a release of half an hour ago and three observations.
- **Server**: the `web` line of the production `Procfile` (3 workers of 2 threads,
  `--max-requests 1000`: workers are recycled during the run, and each new one reads its
  model again on its first verdict) with the production settings of `bench/load.py`
  (DEBUG=0, a SECRET_KEY, ALLOWED_HOSTS, JSON request log, REDIS_URL
  `redis://127.0.0.1:6379/7` for the cache and the throttle counts, STATIC_ROOT a temporary
  folder that `collectstatic` fills). Two changes: the per-token throttle is raised to
  `MBREAK_API_RATE=1000000/minute`, or wrk would measure 429s after 600 requests (it
  counts every request all the same: one round trip to Redis); and the settings are
  `bench.settings`, production's with the URLconf `bench/floor.py`, which adds the floor to
  the app's URLs (production's URLs and API schema do not have it).
- **Load**: wrk (`--threads` 2, `--connections` 16, keep-alive) on each endpoint in turn for
  `--warmup` seconds (5), not counted; then `--seconds` (20) per endpoint, split in
  `--rounds` (10) turns that alternate between the endpoints, so that what drifts during a
  run falls on each alike (one endpoint after the other, the ratio moved by ±15% between
  runs). Requests/s is over each endpoint's whole measured time; p50 is the median round's,
  p99 the worst round's. Every request carries
  `Authorization: Bearer <token>` and `X-Forwarded-Proto: https` (as the load balancer
  adds); the requests are formatted once by a Lua script and cycled. The endpoints:
  - constant: `GET /api/v1/`, the API root: a constant JSON body behind the same middleware,
    token authentication, permission and throttle as every API view;
  - verdict: `POST /api/v1/metrics/<id>/verdicts/` with `{"value": ..., "minutes": ...}`
    (100 observations across the metric's range, cycled): 201 with the verdict, which is
    also stored in the verdict log; the model is cached in each worker after its first one;
  - floor: `POST /api/bench/metrics/<id>/floor/` with the same bodies: 201 with the id of
    the row it stored, a copy of one of the metric's verdicts (read once per worker);
  - release verdict: `GET /api/v1/releases/<id>/verdict`, the URL Argo Rollouts polls: the
    gate's verdict from the release's observations; shown, not judged.

Measured: wrk's requests per second and latency percentiles (`--latency`: client time, from
sending to the last byte); the server time of each request from the request log
(`duration_ms`); errors are wrk's socket errors and non-2xx/3xx answers, and any request
the log shows with another status than expected (200, or 201 for the verdict); "boots",
the workers gunicorn started during the run. The faster an endpoint, the more often its
workers are recycled (every few seconds at 400 requests/s), and its p99 carries those
restarts: the p99 ratio is shown, not judged. Before the
load, each endpoint's SQL queries per request are counted in the child process (Django's
test client, the same settings, the second request), and the verdict's and the floor's
server time measured there, one request at a time: the median of `--in-process` (500)
requests of each, the two taking turns (the whole Django stack and its database and Redis
round trips; no network, no request at the same time). wrk, gunicorn, Redis and the database
share the machine's cores (2 on the development machine): the figures are those of the
whole box, and the ratios compare endpoints under the same handicap.

Exit status 1 if any request failed, or the verdict endpoint answers fewer than 0.85 times
as many requests per second as the floor, or its server time in-process is more than 0.8 ms
above the floor's (unless --figures-only); 2 if wrk is missing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from harness import (
    LogReader,
    Server,
    add_database_url_option,
    add_figures_only_option,
    add_server_options,
    benchmark_database,
    collect_static,
    indicators,
    log,
    log_folder,
    percentile,
    prepare_in_child,
    prepare_or_run,
    print_table,
    production_environment,
    serving,
    setup_django,
    shown_command,
)

DEFAULT_PORT = 8200
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
DEFAULT_INDICATORS = 5_000
# A database holding this user was made by this benchmark: only such a database is dropped.
OWNER = "api-bench-owner"
API_RATE = "1000000/minute"
# The verdict against its floor (`bench/floor.py`): requests/s, and server time in-process.
RATIO_TARGET = 0.85
EXTRA_SERVER_TIME_TARGET = 0.0008  # seconds
FLOOR = "floor"
SETTINGS = "bench.settings"  # production's, with the floor's URL (bench/floor.py)
OBSERVATIONS = 100
# The demo's first metric: traffic that stays low for a while after a deployment.
VALUE_RANGE, MINUTES_RANGE = (150.0, 1200.0), (1.0, 120.0)
RELEASE_OBSERVATIONS = [(820.0, 10.0), (760.0, 20.0), (300.0, 25.0)]


@dataclass(frozen=True)
class Endpoint:
    key: str
    method: str
    template: str  # the request as the table shows it
    path: str
    bodies: tuple[str, ...]  # JSON bodies, cycled; none for a GET
    status: int  # the answer every request must get
    gated: bool  # compared with the floor against the targets


def endpoints(metric_id: int, release_id: int) -> list[Endpoint]:
    rng = random.Random(7)
    observations = tuple(
        json.dumps({"value": round(rng.uniform(*VALUE_RANGE), 1), "minutes": round(rng.uniform(*MINUTES_RANGE))})
        for _ in range(OBSERVATIONS)
    )
    return [
        Endpoint("constant", "GET", "GET /api/v1/", "/api/v1/", (), 200, False),
        Endpoint(
            "verdict",
            "POST",
            "POST /api/v1/metrics/<id>/verdicts/",
            f"/api/v1/metrics/{metric_id}/verdicts/",
            observations,
            201,
            True,
        ),
        Endpoint(
            FLOOR,
            "POST",
            "POST /api/bench/metrics/<id>/floor/",
            f"/api/bench/metrics/{metric_id}/floor/",
            observations,
            201,
            False,
        ),
        Endpoint(
            "release verdict",
            "GET",
            "GET /api/v1/releases/<id>/verdict",
            f"/api/v1/releases/{release_id}/verdict",
            (),
            200,
            False,
        ),
    ]


# --- the database (prepared in a child process running Django) ---------------------------------


def prepare_child(arguments: argparse.Namespace) -> dict[str, Any]:
    """Store the user, metric, model, token, gate and release; count each endpoint's queries."""
    rows = arguments.prepare_child
    setup_django(migrate=True)
    # Only importable once Django is set up.
    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone

    from accounts.models import ApiToken, TokenScope
    from metrics.models import Gate, GateMetric, Metric, Release, TrainedModel

    owner = User.objects.create_user(OWNER)
    metric = Metric.objects.create(name="Requests per minute", category="API bench", owner=owner)
    metric.import_indicators(indicators(rows), owner)
    model = TrainedModel.objects.train(metric, owner)
    _token, secret = ApiToken.objects.issue(owner, "API bench", TokenScope.WRITE)
    gate = Gate.objects.create(name="API bench deploys", owner=owner)
    GateMetric.objects.create(gate=gate, metric=metric, weight=1.0, critical=True)
    release = Release.objects.create(
        gate=gate, name="bench-web", version="v1", started_at=timezone.now() - timedelta(minutes=30), created_by=owner
    )
    for value, after in RELEASE_OBSERVATIONS:
        release.observe(metric, value, owner, after)
    result: dict[str, Any] = {
        "metric_id": metric.pk,
        "release_id": release.pk,
        "token": secret,
        "model_version": model.version,
        "trained_on": model.n_trained_on,
        "sample_rows": len(model.sample().ids),
        "database": f"{connection.display_name} {'.'.join(map(str, connection.get_database_version()))}",
    }
    result.update(in_process(endpoints(metric.pk, release.pk), secret, arguments))
    return result


def in_process(chosen: list[Endpoint], token: str, arguments: argparse.Namespace) -> dict[str, Any]:
    """Each endpoint through Django's test client in this process (no network, no other request
    at the same time): its SQL queries on its second request; the server time of the verdict
    and of its floor, median of `--in-process` requests each, the two taking turns; with
    `--profile`, where that many requests of each spend their time (cProfile)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(headers={"authorization": f"Bearer {token}", "x-forwarded-proto": "https"}, HTTP_HOST="127.0.0.1")

    def ask(endpoint: Endpoint, index: int = 0) -> None:
        if endpoint.bodies:
            body = endpoint.bodies[index % len(endpoint.bodies)]
            response = client.generic(endpoint.method, endpoint.path, body, content_type="application/json")
        else:
            response = client.generic(endpoint.method, endpoint.path)
        if response.status_code != endpoint.status:
            raise RuntimeError(f"{endpoint.template}: HTTP {response.status_code}: {response.content[:300]!r}")

    queries: dict[str, int] = {}
    verdict_sql: list[str] = []
    for endpoint in chosen:
        ask(endpoint)  # the first one reads and compiles the model (and the floor copies a verdict)
        with CaptureQueriesContext(connection) as captured:
            ask(endpoint, 1)
        queries[endpoint.key] = len(captured.captured_queries)
        if endpoint.gated:
            verdict_sql = [query["sql"] for query in captured.captured_queries]
    compared = [endpoint for endpoint in chosen if endpoint.gated or endpoint.key == FLOOR]
    times: dict[str, list[float]] = {endpoint.key: [] for endpoint in compared}
    for index in range(arguments.in_process):
        for endpoint in compared:
            started = time.perf_counter()
            ask(endpoint, index)
            times[endpoint.key].append(time.perf_counter() - started)
    result: dict[str, Any] = {
        "queries": queries,
        "verdict_sql": verdict_sql,
        "server_time": {key: statistics.median(values) for key, values in times.items()},
    }
    if arguments.profile:
        result["profiles"] = {endpoint.key: profiled(ask, endpoint, arguments.profile) for endpoint in compared}
    return result


def profiled(ask: Callable[[Endpoint, int], None], endpoint: Endpoint, requests: int) -> str:
    """Where `requests` requests of `endpoint` spend their time: cProfile's functions by
    cumulative time, then by their own."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for index in range(requests):
        ask(endpoint, index)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(20)
    return text.getvalue()


def prepare_database(arguments: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    # Warnings and errors only: not the request log of the test client's requests.
    env = {**env, "LOG_LEVEL": "WARNING"}
    options = ("--profile", str(arguments.profile), "--in-process", str(arguments.in_process))
    return prepare_in_child(__file__, arguments.indicators, env, *options)


# --- the load: wrk --------------------------------------------------------------------------------


def lua_script(endpoint: Endpoint, token: str) -> str:
    """Requests formatted once, in `init`, then cycled: each costs wrk the same, whatever the endpoint."""
    bodies = endpoint.bodies or ("",)
    # A JSON string of ASCII text is a valid Lua string literal.
    quoted = ",\n  ".join(json.dumps(body) for body in bodies)
    content_type = '\n  headers["Content-Type"] = "application/json"' if endpoint.bodies else ""
    return f"""-- written by bench/api_verdicts.py
local bodies = {{
  {quoted}
}}
local requests = {{}}
local position = 0

function init(args)
  local headers = {{}}
  headers["Authorization"] = "Bearer " .. {json.dumps(token)}
  headers["X-Forwarded-Proto"] = "https"
  headers["Accept"] = "application/json"{content_type}
  for index, body in ipairs(bodies) do
    if body == "" then body = nil end
    requests[index] = wrk.format({json.dumps(endpoint.method)}, {json.dumps(endpoint.path)}, headers, body)
  end
end

function request()
  position = position % #requests + 1
  return requests[position]
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    requests_per_second: float
    p50: float  # seconds
    p99: float
    socket_errors: int
    bad_statuses: int
    output: str


TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def wrk_seconds(number: str, unit: str) -> float:
    return float(number) * TIME_UNITS[unit]


def parse_wrk(output: str) -> WrkResult:
    """wrk's summary: requests, requests/s, the 50% and 99% lines of `--latency`, and its errors."""
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    spread = {
        share: wrk_seconds(number, unit)
        for share, number, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
    }
    if total is None or rate is None or set(spread) != {"50", "99"}:
        raise RuntimeError(f"wrk's output is not what this benchmark reads:\n{output}")
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    statuses = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests=int(total.group(1)),
        seconds=wrk_seconds(total.group(2), total.group(3)),
        requests_per_second=float(rate.group(1)),
        p50=spread["50"],
        p99=spread["99"],
        socket_errors=sum(int(count) for count in sockets.groups()) if sockets else 0,
        bad_statuses=int(statuses.group(1)) if statuses else 0,
        output=output,
    )


def run_wrk(
    wrk: str, server: Server, script: Path, seconds: float, connections: int, threads: int, timeout: float
) -> WrkResult:
    command = [wrk, "--threads", str(threads), "--connections", str(connections), "--duration", f"{seconds:g}s"]
    command += ["--timeout", f"{timeout:g}s", "--latency", "--script", str(script)]
    command.append(f"http://{server.host}:{server.port}/")
    completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed (exit status {completed.returncode}):\n{completed.stderr}{completed.stdout}")
    return parse_wrk(completed.stdout)


def wrk_version(wrk: str) -> str:
    # `wrk -v` prints its version and usage, and exits with status 1.
    completed = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)  # noqa: S603
    found = re.search(r"wrk (\S+)", completed.stdout + completed.stderr)
    return found.group(1) if found else "?"


# --- measuring ------------------------------------------------------------------------------------


@dataclass
class Measurement:
    endpoint: Endpoint
    wrk: WrkResult
    server: list[float]  # seconds, from the request log
    statuses: Counter[int]
    worker_boots: int

    @property
    def unexpected_statuses(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != self.endpoint.status)

    @property
    def errors(self) -> int:
        return self.wrk.socket_errors + self.wrk.bad_statuses + self.unexpected_statuses


def check_once(server: Server, endpoint: Endpoint, token: str) -> None:
    """One request before the load: a 401, 429 or redirect at full speed would measure nothing."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https", "Accept": "application/json"}
    body = endpoint.bodies[0] if endpoint.bodies else None
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        connection.request(endpoint.method, endpoint.path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
    finally:
        connection.close()
    if answer.status != endpoint.status or not answer.getheader("Content-Type", "").startswith("application/json"):
        raise RuntimeError(f"{endpoint.template}: HTTP {answer.status}, expected {endpoint.status}: {data[:300]!r}")


def measure(wrk: str, server: Server, endpoint: Endpoint, script: Path, arguments: argparse.Namespace) -> Measurement:
    """One round of load on one endpoint, with what the request log says of it."""
    common = (arguments.connections, arguments.wrk_threads, arguments.timeout)
    reader = LogReader(server.log_path)
    result = run_wrk(wrk, server, script, arguments.seconds / arguments.rounds, *common)
    entries = reader.read()
    server_times: list[float] = []
    statuses: Counter[int] = Counter()
    for entry in entries:
        if entry.get("logger") == "mbreak.requests" and entry.get("path") == endpoint.path:
            server_times.append(float(entry["duration_ms"]) / 1000)
            statuses[int(entry["status"])] += 1
    boots = sum("Booting worker" in str(entry.get("text", "")) for entry in entries)
    return Measurement(endpoint, result, server_times, statuses, boots)


def combined(rounds: list[Measurement]) -> Measurement:
    """An endpoint's rounds as one measurement: requests and seconds added up (so requests/s is
    over the whole measured time), the median round's p50, the worst round's p99, every server
    time and status."""
    first = rounds[0]
    results = [each.wrk for each in rounds]
    requests, seconds = sum(each.requests for each in results), sum(each.seconds for each in results)
    whole = WrkResult(
        requests=requests,
        seconds=seconds,
        requests_per_second=requests / seconds,
        p50=sorted(each.p50 for each in results)[len(results) // 2],
        p99=max(each.p99 for each in results),
        socket_errors=sum(each.socket_errors for each in results),
        bad_statuses=sum(each.bad_statuses for each in results),
        output="\n".join(each.output for each in results),
    )
    statuses: Counter[int] = Counter()
    for each in rounds:
        statuses.update(each.statuses)
    server_times = [time for each in rounds for time in each.server]
    return Measurement(first.endpoint, whole, server_times, statuses, sum(each.worker_boots for each in rounds))


def measure_interleaved(
    wrk: str, server: Server, chosen: list[Endpoint], token: str, arguments: argparse.Namespace, folder: Path
) -> list[Measurement]:
    """Each endpoint warmed up, then measured in `--rounds` turns that alternate between the
    endpoints: whatever drifts during a run (the machine's other work, workers recycled, the
    database growing) falls on every endpoint alike, instead of on whichever ran at the time."""
    scripts = {}
    for endpoint in chosen:
        script = folder / f"{endpoint.key.replace(' ', '-')}.lua"
        script.write_text(lua_script(endpoint, token))
        scripts[endpoint.key] = script
        check_once(server, endpoint, token)
        if arguments.warmup > 0:
            log(f"{endpoint.template}: {arguments.warmup:g} s of warm-up…")
            common = (arguments.connections, arguments.wrk_threads, arguments.timeout)
            run_wrk(wrk, server, script, arguments.warmup, *common)
    rounds: dict[str, list[Measurement]] = {endpoint.key: [] for endpoint in chosen}
    for number in range(1, arguments.rounds + 1):
        log(f"round {number} of {arguments.rounds}: {arguments.seconds / arguments.rounds:g} s per endpoint…")
        for endpoint in chosen:
            rounds[endpoint.key].append(measure(wrk, server, endpoint, scripts[endpoint.key], arguments))
    return [combined(rounds[endpoint.key]) for endpoint in chosen]


# --- reporting ------------------------------------------------------------------------------------


def milliseconds(value: float, width: int = 7) -> str:
    return f"{'—':>{width}}" if math.isnan(value) else f"{value * 1000:>{width}.1f}"


def print_measurements(measurements: list[Measurement]) -> None:
    columns = [("endpoint", "<16"), ("request", "<37"), ("requests", ">8"), ("req/s", ">8.1f"), ("p50 ms", ">7.1f")]
    columns += [("p99 ms", ">7.1f"), ("errors", ">6"), ("srv p50", ">7.1f"), ("srv p99", ">7.1f"), ("boots", ">5")]
    rows = [
        (
            each.endpoint.key,
            each.endpoint.template,
            each.wrk.requests,
            each.wrk.requests_per_second,
            each.wrk.p50 * 1000,
            each.wrk.p99 * 1000,
            each.errors,
            percentile(each.server, 0.5) * 1000,
            percentile(each.server, 0.99) * 1000,
            each.worker_boots,
        )
        for each in measurements
    ]
    print_table(columns, rows)
    for each in measurements:
        if each.errors:
            statuses = ", ".join(
                f"HTTP {status} ×{count}"
                for status, count in sorted(each.statuses.items())
                if status != each.endpoint.status
            )
            print(
                f"  errors on {each.endpoint.key}: {each.wrk.socket_errors} socket errors, "
                f"{each.wrk.bad_statuses} non-2xx/3xx (wrk)" + (f"; the log shows {statuses}" if statuses else "")
            )


def print_ratios(measurements: list[Measurement]) -> bool:
    """Each endpoint against the floor; True when the gated one meets the target."""
    floor = next(each for each in measurements if each.endpoint.key == FLOOR)
    ok = True
    for each in measurements:
        if each is floor:
            continue
        ratio = each.wrk.requests_per_second / floor.wrk.requests_per_second
        slower = each.wrk.p99 / floor.wrk.p99
        if each.endpoint.gated:
            met = ratio >= RATIO_TARGET
            ok = ok and met
            verdict = f"target ≥ {RATIO_TARGET:g}: {'ok' if met else 'MISSED'}"
        else:
            verdict = "not gated"
        print(
            f"{each.endpoint.key} ÷ floor: requests/s {ratio:.2f} ({verdict}); "
            f"p99 {slower:.2f}× ({milliseconds(each.wrk.p99, 0)} ms against {milliseconds(floor.wrk.p99, 0)} ms)"
        )
    return ok


def print_server_times(info: dict[str, Any], requests: int) -> bool:
    """The verdict's server time in-process against its floor's; True when within the target."""
    times = info["server_time"]
    extra = float(times["verdict"] - times[FLOOR])
    met = extra <= EXTRA_SERVER_TIME_TARGET
    print(
        f"verdict − floor: server time in-process {extra * 1000:+.2f} ms "
        f"(target ≤ {EXTRA_SERVER_TIME_TARGET * 1000:g} ms: {'ok' if met else 'MISSED'}); "
        f"verdict {times['verdict'] * 1000:.2f} ms, floor {times[FLOOR] * 1000:.2f} ms "
        f"(Django's test client, median of {requests} each, taking turns)"
    )
    return met


# --- the run --------------------------------------------------------------------------------------


def run(arguments: argparse.Namespace) -> int:
    wrk = shutil.which("wrk")
    if wrk is None:
        print(
            "This benchmark needs the load generator wrk: `apt-get install wrk` (Debian, Ubuntu) or "
            "`brew install wrk` (macOS), or build it from https://github.com/wg/wrk.",
            file=sys.stderr,
        )
        return 2
    # Anything else busy on the machine (tests, a build) takes cores from the figures.
    load_before = os.getloadavg()[0]
    with (
        benchmark_database(arguments.database_url, OWNER),
        tempfile.TemporaryDirectory(prefix="mbreak-api-") as temporary,
    ):
        folder = log_folder(arguments.log_dir, temporary)
        url = arguments.database_url or f"sqlite:///{Path(temporary) / 'api-bench.sqlite3'}"
        env = production_environment(url, arguments.redis_url, Path(temporary), "bench-api")
        env["MBREAK_API_RATE"] = API_RATE
        env["DJANGO_SETTINGS_MODULE"] = SETTINGS
        collect_static(env)
        log(f"preparing the database ({arguments.indicators:,} indicators, training)…")
        info = prepare_database(arguments, env)
        with serving(arguments, env, temporary, folder) as server:
            machine = f"load average {load_before:.1f}, wrk {wrk_version(wrk)}"
            print_setting(arguments, info, server.command, temporary, machine)
            chosen = endpoints(info["metric_id"], info["release_id"])
            measurements = measure_interleaved(wrk, server, chosen, info["token"], arguments, folder)
        return report(arguments, info, measurements)


def print_setting(
    arguments: argparse.Namespace, info: dict[str, Any], command: list[str], temporary: str, machine: str
) -> None:
    shown = shown_command(command, temporary)
    print(
        f"Python {sys.version.split()[0]}, {info['database']}, {os.cpu_count()} cores ({machine}; "
        f"MBREAK_API_RATE={API_RATE}"
    )
    print(f"Server: {shown} (DJANGO_SETTINGS_MODULE={SETTINGS})")
    print(
        f"Metric: {arguments.indicators:,} indicators, model v{info['model_version']} trained on "
        f"{info['trained_on']:,}, {info['sample_rows']:,} rows kept for the nearest cases"
    )
    counts = ", ".join(f"{key} {count}" for key, count in info["queries"].items())
    print(f"SQL queries per request (in-process, second request): {counts}")
    print(
        f"Load: wrk, {arguments.wrk_threads} threads, {arguments.connections} connections, "
        f"{arguments.seconds:g} s per endpoint in {arguments.rounds} alternating rounds, "
        f"after {arguments.warmup:g} s of warm-up"
    )
    print()


def report(arguments: argparse.Namespace, info: dict[str, Any], measurements: list[Measurement]) -> int:
    """The tables, and the profiles if asked; 1 when a request failed or (unless --figures-only) a target is missed."""
    print_measurements(measurements)
    print()
    fast_enough = print_ratios(measurements)
    close_enough = print_server_times(info, arguments.in_process)
    if arguments.profile:
        print()
        print("SQL of one verdict request:")
        for number, sql in enumerate(info["verdict_sql"], 1):
            print(f"  {number:>2}. {sql[:160]}")
        for key, profile in info["profiles"].items():
            print()
            print(f"Profile of {arguments.profile} {key} requests in-process (Django's test client):")
            print(profile)
    met = fast_enough and close_enough
    failed = any(each.errors for each in measurements) or not (met or arguments.figures_only)
    return 1 if failed else 0


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20, help="measured length of each endpoint's load (20)")
    parser.add_argument("--warmup", type=float, default=5, help="uncounted load on each endpoint first, s (5)")
    parser.add_argument(
        "--rounds", type=int, default=10, help="turns the measured time is split in, alternating the endpoints (10)"
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk's open connections (16)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk's threads (2)")
    parser.add_argument("--timeout", type=float, default=5, help="seconds before wrk counts a request as failed (5)")
    parser.add_argument(
        "--indicators", type=int, default=DEFAULT_INDICATORS, help=f"the metric's indicators ({DEFAULT_INDICATORS:,})"
    )
    add_database_url_option(
        parser, None, "a PostgreSQL database to create, use and drop (default: SQLite in a temporary folder)"
    )
    parser.add_argument(
        "--redis-url", default=DEFAULT_REDIS_URL, help=f"the server's cache and throttle counts ({DEFAULT_REDIS_URL})"
    )
    add_server_options(parser, DEFAULT_PORT, "INDICATORS")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="REQUESTS",
        help="also profile this many verdict requests in-process and print the SQL of one",
    )
    parser.add_argument(
        "--in-process",
        type=int,
        default=500,
        metavar="REQUESTS",
        help="verdicts and floors timed in-process, for the median server time of each (500)",
    )
    parser.add_argument("--log-dir", help="keep gunicorn's log and the Lua scripts in this folder")
    add_figures_only_option(parser, "no request failed")
    arguments = parser.parse_args(argv)
    if (
        arguments.seconds <= 0
        or arguments.warmup < 0
        or arguments.connections < 1
        or arguments.rounds < 1
        or arguments.indicators < 100
        or arguments.in_process < 1
    ):
        parser.error(
            "--seconds, --rounds, --connections and --in-process must be positive, --warmup not negative, "
            "--indicators 100 or more"
        )
    # wrk takes whole seconds: each round must last a whole number of them.
    if not float(arguments.seconds / arguments.rounds).is_integer() or not float(arguments.warmup).is_integer():
        parser.error("--seconds must be a whole multiple of --rounds, and --warmup whole seconds")
    return arguments


def main(argv: list[str] | None = None) -> int:
    return prepare_or_run(parse_arguments(argv), prepare_child, run)


if __name__ == "__main__":
    sys.exit(main())
