"""What every benchmark shares: throw-away databases, the app's processes, data, and tables.

A benchmark runs as a script (`python bench/<name>.py`), so this module is imported as
`harness`. Nothing here imports Django at module level: a benchmark's parent process starts
children (with their own settings) and reads what they print after `RESULT_PREFIX`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# Marks a child's one line of results, so that anything else it prints is not parsed.
RESULT_PREFIX = "BENCH-RESULT "
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
CSV_HEADER = b"valor,decisao,tempo\n"
CSV_CHUNK_ROWS = 100_000
BACKENDS = ("sqlite", "postgres")
# The benchmarks run as scripts from bench/: the project's packages are importable once this is.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def log(message: str) -> None:
    """Progress, on stderr: the figures alone go to stdout."""
    print(message, file=sys.stderr, flush=True)


def setup_django(migrate: bool = False) -> None:
    """Django in this process, on the settings its environment names; its database migrated if asked."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mbreak.settings")
    import django
    from django.core.management import call_command

    django.setup()
    if migrate:
        call_command("migrate", verbosity=0, interactive=False)


# --- data ------------------------------------------------------------------------------------------


def indicators(rows: int, seed: int | Sequence[int] = 2024, noise: float | None = None) -> Any:
    """`rows` indicators of the demo's "Requests per minute" rule (`metrics.demo`)."""
    from metrics.demo import NOISE, requests_per_minute

    return requests_per_minute(rows, seed=seed, noise=NOISE if noise is None else noise)


def csv_file(rows: int, seed: int = 2024) -> bytes:
    """A CSV file as a team would upload it, of `indicators` rows. Drawn and encoded a chunk at a
    time, so that making the file costs little more memory than the file itself."""
    from metrics.csv_io import format_number

    parts = [CSV_HEADER]
    for chunk, start in enumerate(range(0, rows, CSV_CHUNK_ROWS)):
        data = indicators(min(CSV_CHUNK_ROWS, rows - start), seed=[seed, chunk])
        lines = [f"{format_number(v)},{d},{format_number(t)}\n" for v, t, d in data.rows()]
        parts.append("".join(lines).encode())
    return b"".join(parts)


# --- throw-away databases ----------------------------------------------------------------------------


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="mbreak-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"


def admin_url(url: str) -> str:
    """The `postgres` database of the server `url` names: where databases are made and dropped."""
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def database_url(server_url: str, name: str) -> str:
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def create_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url(url), autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(urlsplit(url).path.lstrip("/"))))


def drop_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url(url), autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def postgres_database(server_url: str, prefix: str = "mbreak_bench") -> Iterator[str]:
    """A fresh, empty database on the server of `server_url`, dropped on the way out. Our process
    id in its name: we only ever drop a database this run created."""
    url = database_url(server_url, f"{prefix}_{os.getpid()}")
    create_database(url)
    try:
        yield url
    finally:
        drop_database(url)


def throwaway_database(backend: str, postgres_url: str) -> contextlib.AbstractContextManager[str]:
    return sqlite_database() if backend == "sqlite" else postgres_database(postgres_url)


def database_state(url: str, owner: str) -> str:
    """Whether the PostgreSQL database `url` is "missing", "ours" (empty, or holding the user
    `owner` that only the benchmark creates) or "foreign"."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url(url), autocommit=True, connect_timeout=5) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            return "missing"
    with psycopg.connect(url, connect_timeout=5) as connection:
        tables = connection.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
        if tables is None or tables[0] == 0:
            return "ours"
        if connection.execute("SELECT to_regclass('public.auth_user')").fetchone() == (None,):
            return "foreign"
        found = connection.execute("SELECT 1 FROM auth_user WHERE username = %s", [owner]).fetchone()
        return "ours" if found is not None else "foreign"


def fresh_database(url: str, owner: str, keep_existing: bool = False) -> None:
    """Make `url` an empty database of this benchmark's (or keep the one an earlier run left, if
    asked); refuse one the benchmark did not make."""
    state = database_state(url, owner)
    if state == "foreign":
        raise SystemExit(
            f"{urlsplit(url).path.lstrip('/')} exists and was not made by this benchmark (no user {owner}): "
            "choose another --database-url"
        )
    if state == "ours" and not keep_existing:
        log("dropping the database left by an earlier run…")
        drop_database(url)
        state = "missing"
    if state == "missing":
        create_database(url)


@contextmanager
def benchmark_database(url: str | None, owner: str, reuse: bool = False, keep: bool = False) -> Iterator[None]:
    """The PostgreSQL database `url` made fresh for the run (`fresh_database`; with `reuse`, the one
    an earlier run left) and dropped at its end unless kept or reused; nothing without a `url`."""
    if not url:
        yield
        return
    fresh_database(url, owner, keep_existing=reuse)
    try:
        yield
    finally:
        if not (keep or reuse):
            drop_database(url)


def postgres_unreachable_reason(url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL is unreachable ({str(error).strip().splitlines()[0]})"
    return None


def redis_unreachable_reason(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"Redis is unreachable ({error})"
    return None


# --- each size on each database ------------------------------------------------------------------

Run = TypeVar("Run")


def add_size_options(parser: argparse.ArgumentParser, default_sizes: str) -> None:
    """--sizes on --backends, each run on a throw-away database (made on --postgres-url's server)."""
    parser.add_argument("--sizes", default=default_sizes, help=f"comma-separated row counts (default {default_sizes})")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help=f"comma-separated, of {', '.join(BACKENDS)} (default all)"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="a server where a throw-away database may be created and dropped "
        f"(default {DEFAULT_POSTGRES_URL}; only its server and credentials are used)",
    )
    # Internal: run one measurement in this process and print it as JSON.
    parser.add_argument("--child", nargs=2, metavar=("BACKEND", "ROWS"), help=argparse.SUPPRESS)


def parse_size_options(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The arguments, --sizes and --backends as lists; a usage error for what is not a size or a backend."""
    arguments = parser.parse_args(argv)
    try:
        arguments.sizes = parse_sizes(arguments.sizes)
    except ValueError:
        parser.error("--sizes takes positive whole numbers separated by commas, e.g. 100000,1000000")
    arguments.backends = [backend.strip() for backend in arguments.backends.split(",") if backend.strip()]
    if unknown := sorted(set(arguments.backends) - set(BACKENDS)):
        parser.error(f"unknown backend {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
    return arguments


def measure_each_size(
    arguments: argparse.Namespace,
    measure: Callable[[str, int, str], Run],
    size_name: Callable[[int], str] = lambda rows: f"{rows:,} rows",
) -> tuple[list[Run], list[str]]:
    """`measure(backend, rows, database_url)` for each size on each backend, each on a throw-away
    database; the runs, and what went wrong."""
    runs: list[Run] = []
    problems: list[str] = []
    for backend in arguments.backends:
        if backend == "postgres" and (reason := postgres_unreachable_reason(arguments.postgres_url)):
            # The figures asked for cannot be given: the run says so, and fails.
            problems.append(f"postgres: not measured, {reason}")
            continue
        for rows in arguments.sizes:
            log(f"running {backend}, {size_name(rows)}…")
            try:
                with throwaway_database(backend, arguments.postgres_url) as url:
                    runs.append(measure(backend, rows, url))
            except Exception as error:
                # One failed run should not hide the others' figures.
                problems.append(f"{backend}, {size_name(rows)}: failed: {error}")
    return runs, problems


def measure_in_child(script: str, backend: str, rows: int, env: dict[str, str], *options: str) -> dict[str, Any]:
    """One size measured by the benchmark `script` (its `__file__`) with `--child`, in a process of
    its own (its peak memory that run's alone) on the database `env` names; what it printed."""
    command = [sys.executable, str(Path(script).resolve()), "--child", backend, str(rows), *options]
    return child_result(command, env, f"the {backend} run of {rows:,} rows")


# --- child processes ---------------------------------------------------------------------------------


def print_result(result: dict[str, Any]) -> None:
    print(RESULT_PREFIX + json.dumps(result))


def child_result(command: list[str], env: dict[str, str], what: str) -> dict[str, Any]:
    """Run a benchmark's child process (Django set up there, not here) and read what it printed
    after `RESULT_PREFIX`; stderr passes through, so its progress shows as it goes."""
    completed = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=False)  # noqa: S603
    lines = [line for line in completed.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"{what} failed (exit status {completed.returncode}):\n{completed.stdout[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    return result


def prepare_in_child(script: str, size: int, env: dict[str, str], *options: str) -> dict[str, Any]:
    """The database that `env` names, prepared by the benchmark `script` (its `__file__`) run with
    `--prepare-child SIZE` in a process of its own; what it printed that the database holds."""
    command = [sys.executable, str(Path(script).resolve()), "--prepare-child", str(size), *options]
    return child_result(command, env, "preparing the database")


def prepare_or_run(
    arguments: argparse.Namespace,
    prepare: Callable[[argparse.Namespace], dict[str, Any]],
    run: Callable[[argparse.Namespace], int],
) -> int:
    """The benchmark's run; or, in the child it starts with --prepare-child, the database prepared
    and what it holds printed for the run to read."""
    if arguments.prepare_child is None:
        return run(arguments)
    print_result(prepare(arguments))
    return 0


def manage(env: dict[str, str], *arguments: str) -> str:
    completed = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "manage.py", *arguments], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(arguments)} failed:\n{completed.stdout}{completed.stderr}")
    return completed.stdout + completed.stderr


def production_environment(database_url: str, redis_url: str, folder: Path, queue: str) -> dict[str, str]:
    """Production settings (`mbreak.settings`, DEBUG=0, JSON logs), with the static files
    collected into `folder` (the checkout's `staticfiles/` is not touched) and jobs on `queue`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CELERY_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="mbreak.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,  # the cache, and the broker
        MBREAK_JOB_QUEUE=queue,
        STATIC_ROOT=str(folder / "static"),
        DEBUG="0",
        SECRET_KEY="bench-only-not-a-secret-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.pop("SECRET_KEY_FALLBACKS", None)
    return env


# --- the app's processes -----------------------------------------------------------------------------


@dataclass
class Service:
    """A process of the app (gunicorn, a Celery worker) in its own process group, its output in a log."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    is_ready: Callable[[], bool]  # what tells that it has started

    @classmethod
    def start(
        cls, name: str, command: list[str], env: dict[str, str], folder: Path, is_ready: Callable[[Service], bool]
    ) -> Service:
        log_path = folder / f"{name.replace(' ', '-')}.log"
        log_file = log_path.open("wb")
        process = subprocess.Popen(  # noqa: S603 - this interpreter, our own code
            command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        service = cls(name, process, log_path, log_file, lambda: False)
        service.is_ready = lambda: is_ready(service)
        return service

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 25) -> str:
        return "\n".join(f"    {line}" for line in self.log().splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to its process group (gunicorn's and celery's children too), then SIGKILL."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log_file.close()

    def wait_until_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
            if self.is_ready():
                return
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} was not ready in {seconds:.0f} s:\n{self.tail()}")


def answers_healthz(port: int) -> bool:
    with contextlib.suppress(OSError):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/healthz")
            answer = connection.getresponse()
            answer.read()
            return answer.status == 200
        finally:
            connection.close()
    return False


def procfile_command(process: str) -> list[str]:
    """A line of the production Procfile, its program this interpreter's."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(f"{process}:"))
    words = shlex.split(line.removeprefix(f"{process}:"))
    words[0] = str(Path(sys.executable).parent / words[0])
    return words


def replace_options(words: list[str], replacements: dict[str, object]) -> list[str]:
    for option, value in replacements.items():
        if value is None:
            continue
        if option in words:
            words[words.index(option) + 1] = str(value)
        else:
            words += [option, str(value)]
    return words


def web_command(port: int, folder: Path, workers: int | None = None, threads: int | None = None) -> list[str]:
    """The Procfile's `web` line, with our address (and workers or threads if asked). Unless the
    Procfile turns it off, gunicorn's control socket goes in `folder`: its default path is
    shared by every gunicorn of this account."""
    words = procfile_command("web")
    # A worker takes as many connections as it has threads (see the Procfile): both change together.
    replacements: dict[str, object] = {
        "--bind": f"127.0.0.1:{port}",
        "--workers": workers,
        "--threads": threads,
        "--worker-connections": threads,
    }
    if "--no-control-socket" not in words:
        replacements["--control-socket"] = str(folder / f"gunicorn-{port}.ctl")
    return replace_options(words, replacements)


def worker_command(
    queue: str, node: str | None = None, concurrency: int | None = None, solo: bool = False
) -> list[str]:
    """A Celery worker on `queue`: the Procfile's line, or one process (`solo`) whose memory is all its own."""
    command = [sys.executable, "-m", "celery", "-A", "mbreak", "worker", "-Q", queue, "--loglevel", "INFO"]
    command += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
    if node:
        command += ["-n", node]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    return command + (["--pool", "solo"] if solo else [])


def start_web(name: str, command: list[str], port: int, env: dict[str, str], folder: Path) -> Service:
    """gunicorn, ready when it answers /healthz with 200."""
    return Service.start(name, command, env, folder, lambda _service: answers_healthz(port))


@dataclass
class Server:
    host: str
    port: int
    command: list[str]
    log_path: Path  # gunicorn's output: its own lines and the application's JSON log


@contextmanager
def running_web(command: list[str], port: int, env: dict[str, str], folder: Path) -> Iterator[Server]:
    """gunicorn, started here and stopped whatever happens."""
    with running(lambda: start_web("gunicorn", command, port, env, folder)) as (service,):
        yield Server("127.0.0.1", port, command, service.log_path)


@contextmanager
def serving(arguments: argparse.Namespace, env: dict[str, str], temporary: str, folder: Path) -> Iterator[Server]:
    """gunicorn on --port (or a free one if taken), with --workers and --threads (`add_server_options`)."""
    port = free_port(arguments.port)
    with running_web(
        web_command(port, Path(temporary), arguments.workers, arguments.threads), port, env, folder
    ) as server:
        yield server


def log_folder(log_dir: str | None, temporary: str) -> Path:
    """Where the processes' logs go: --log-dir (made if missing), else the run's temporary folder."""
    folder = Path(log_dir) if log_dir else Path(temporary)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shown_command(command: list[str], temporary: str) -> str:
    """A command as the figures show it: its program by name, the temporary folder as $TMPDIR."""
    return shlex.join([Path(command[0]).name, *command[1:]]).replace(temporary, "$TMPDIR")


def start_worker(name: str, command: list[str], env: dict[str, str], folder: Path) -> Service:
    """A Celery worker, ready when it says so."""
    return Service.start(name, command, env, folder, lambda service: " ready." in service.log())


@contextmanager
def running(*starts: Callable[[], Service]) -> Iterator[list[Service]]:
    """Services started together, ready when this yields, and stopped whatever happens."""
    started: list[Service] = []
    try:
        for start in starts:
            started.append(start())
        for service in started:
            service.wait_until_ready()
        yield started
    finally:
        for service in started:
            service.stop()


def free_port(preferred: int = 0) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            # As gunicorn binds: a port left in TIME_WAIT by the previous run is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise RuntimeError("no free port")


def collect_static(env: dict[str, str]) -> None:
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")


class LogReader:
    """A JSON log (the request log, and gunicorn's own lines as text) from a byte offset on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size

    def read(self) -> list[dict[str, Any]]:
        with self.path.open("rb") as file:
            file.seek(self.offset)
            data = file.read()
        # A line still being written is left for the next read.
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        entries = []
        for line in complete.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                entry = {"text": line.decode(errors="replace")}
            entries.append(entry if isinstance(entry, dict) else {"text": str(entry)})
        return entries


def memory_mib(pid: int, field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return math.nan


def add_server_options(parser: argparse.ArgumentParser, default_port: int, size_metavar: str) -> None:
    """The options of a benchmark that serves the app: gunicorn's --port, --workers and --threads
    (the Procfile's unless given, see `serving`), and the internal --prepare-child SIZE that starts
    the child preparing its database (`prepare_in_child`, `prepare_or_run`)."""
    parser.add_argument(
        "--port", type=int, default=default_port, help=f"gunicorn's port, if free (default {default_port})"
    )
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: the Procfile's)")
    parser.add_argument("--threads", type=int, help="threads per gunicorn worker (default: the Procfile's)")
    parser.add_argument("--prepare-child", type=int, metavar=size_metavar, help=argparse.SUPPRESS)


def add_database_url_option(parser: argparse.ArgumentParser, default: str | None, help: str) -> None:
    """--database-url: the PostgreSQL database the benchmark creates (refusing one it did not make,
    see `fresh_database`), loads and drops."""
    parser.add_argument("--database-url", type=postgres_url, default=default, help=help)


def postgres_url(text: str) -> str:
    """--database-url's type: a PostgreSQL URL, or a usage error."""
    if not urlsplit(text).scheme.startswith("postgres"):
        raise argparse.ArgumentTypeError("must be a PostgreSQL URL")
    return text


# --- measuring and printing ----------------------------------------------------------------------------


def add_figures_only_option(parser: argparse.ArgumentParser, went_through: str) -> None:
    """--figures-only: the exit status says whether the run went through, not whether it met the
    targets, which a size small enough for the smoke runs (tests/bench) cannot be judged by."""
    parser.add_argument(
        "--figures-only",
        action="store_true",
        help=f"exit 0 when {went_through}, whatever the targets (a size too small to judge them)",
    )


def best_of(runs: int, work: Callable[[], object]) -> float:
    best = math.inf
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest rank: the smallest value that at least `share` of the values do not exceed."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def ratio_verdict(value: float | None, target: float, at_least: bool = False) -> str:
    """A ratio against its target, measured in the same run: "1.04 ok" or "1.27 MISSED"."""
    if value is None:
        return "—"
    holds = value >= target if at_least else value <= target
    return f"{value:.2f} {'ok' if holds else 'MISSED'}"


def parse_sizes(text: str) -> list[int]:
    """Comma-separated positive whole numbers ("100000,1_000_000"); ValueError otherwise."""
    sizes = [int(size.replace("_", "")) for size in text.split(",") if size.strip()]
    if not sizes or any(size <= 0 for size in sizes):
        raise ValueError(text)
    return sizes


WIDTH = re.compile(r"^[<>^]?(\d+)")


def cell(value: object, spec: str) -> str:
    """`value` formatted by `spec`; a missing value (None, NaN) as a dash of the same width."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        found = WIDTH.match(spec)
        return f"{'—':>{found.group(1) if found else ''}}"
    return format(value, spec)


def print_table(
    columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[object]], footer: Sequence[Sequence[object]] = ()
) -> None:
    """A header of (title, spec) columns, a rule, then a line per row, each value by its column's
    spec; then, under another rule, the `footer` rows (totals)."""
    titles = []
    for title, spec in columns:
        found = WIDTH.match(spec)
        width = found.group(1) if found else ""
        titles.append(f"{title:<{width}}" if spec.startswith("<") else f"{title:>{width}}")
    header = " ".join(titles)
    print(header)
    print("-" * len(header))
    print_table_rows(columns, rows)
    if footer:
        print("-" * len(header))
        print_table_rows(columns, footer)


# --- a browser behind the load balancer -----------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes
    path: str
    redirects: list[str] = field(default_factory=list)

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class Browser:
    """One person's browser speaking to a web process as the TLS-ending load balancer forwards
    it (`X-Forwarded-Proto: https`): its cookies (kept whatever their Secure flag: the browser
    spoke HTTPS to the balancer), one keep-alive connection, and the last page it showed,
    whose forms it posts with their CSRF token."""

    def __init__(self, port: int, timeout: float = 180, name: str = "") -> None:
        self.name = name
        self.port = port
        self.timeout = timeout
        self.origin = f"https://127.0.0.1:{port}"
        self.cookies: dict[str, str] = {}
        self.connection: http.client.HTTPConnection | None = None
        self.reconnects = 0
        self.page = Answer(0, {}, b"", "/")  # the last HTML page shown

    def send(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None) -> Answer:
        """One request, no redirect followed. A kept-alive connection the server closed meanwhile
        (a worker recycled by --max-requests, or idle too long) is opened again, as a browser does."""
        headers = self._headers(method, content_type)
        for attempt in (1, 2):
            reused = self.connection is not None
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.connection.request(method, path, body=body, headers=headers)
                answer = self.connection.getresponse()
                data = answer.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if reused and attempt == 1:
                    self.reconnects += 1
                    continue
                raise
            except BaseException:
                self.close()
                raise
            if answer.will_close:
                self.close()
            for header in answer.msg.get_all("Set-Cookie") or []:
                self._keep_cookie(header)
            return Answer(answer.status, {name.lower(): value for name, value in answer.getheaders()}, data, path)
        raise AssertionError("unreachable")

    def _headers(self, method: str, content_type: str | None) -> dict[str, str]:
        headers = {"Host": f"127.0.0.1:{self.port}", "X-Forwarded-Proto": "https", "Accept-Language": "en"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if method == "POST":
            headers["Origin"] = self.origin
            headers["Referer"] = self.origin + self.page.path
            headers["Content-Type"] = content_type or "application/x-www-form-urlencoded"
        return headers

    def _keep_cookie(self, header: str) -> None:
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            if morsel["max-age"] == "0" or not morsel.value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None) -> Answer:
        """Send, then follow redirects as a browser does (with GET)."""
        redirects: list[str] = []
        answer = self.send(method, path, body, content_type)
        while answer.status in (301, 302, 303) and len(redirects) < 10:
            location = urlsplit(answer.location)
            redirects.append(urlunsplit(("", "", location.path or "/", location.query, "")))
            answer = self.send("GET", redirects[-1])
        answer.redirects = redirects
        if answer.headers.get("content-type", "").startswith("text/html"):
            self.page = answer
        return answer

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def submit(
        self, action: str, fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]] | None = None
    ) -> Answer:
        """Post a form of the page last shown, with its CSRF token, as its submit button would."""
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.page.text)
        if token is None:
            raise RuntimeError(f"web {self.name}: no CSRF token on {self.page.path}")
        fields = [("csrfmiddlewaretoken", token.group(1)), *fields]
        if files is None:
            return self.request("POST", action, urlencode(fields).encode())
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields
        ]
        for name, file_name, data in files:
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{file_name}"\r\n'
                "Content-Type: text/csv\r\n\r\n"
            )
            parts.append(head.encode() + data + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request("POST", action, b"".join(parts), f"multipart/form-data; boundary={boundary}")

    def login(self, username: str, password: str) -> Answer:
        self.get("/accounts/login/")
        return self.submit("/accounts/login/", [("username", username), ("password", password), ("next", "")])

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def print_table_rows(columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[object]]) -> None:
    for row in rows:
        print(" ".join(cell(value, spec) for value, (_title, spec) in zip(row, columns, strict=True)))
