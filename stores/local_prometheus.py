"""A Prometheus server on this machine, for the worked example, the benchmarks and the tests:
Debian's `prometheus` on a free port, its history backfilled with `promtool tsdb
create-blocks-from openmetrics`, scraping an `Exporter` whose values the caller sets.

Nothing here is used by the application when it serves: it asks the stores its owners
connect (`stores.prometheus`).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests


class NotInstalled(RuntimeError):
    """Debian's prometheus package is not installed."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def binary(tool: str = "prometheus") -> str:
    found = shutil.which(tool)
    if found is None:
        raise NotInstalled(f"{tool} is not installed: `make prometheus` installs Debian's prometheus package.")
    return found


@dataclass(frozen=True)
class Point:
    """One backfilled sample: a series as the exposition format writes it (`name{label="x"}`),
    its value and its time."""

    series: str
    value: float
    at: datetime


def openmetrics(points: Iterable[Point], gauges: Iterable[str]) -> str:
    """`points` in the OpenMetrics text `promtool` backfills from, each metric in `gauges`
    declared a gauge. OpenMetrics wants each metric's samples together and in time order."""
    ordered = sorted(points, key=lambda point: (point.series.split("{", 1)[0], point.series, point.at))
    lines = [f"# TYPE {name} gauge" for name in gauges]
    lines += [f"{point.series} {point.value!r} {point.at.timestamp():.3f}" for point in ordered]
    return "\n".join([*lines, "# EOF"]) + "\n"


def backfill(data: Path, history: str) -> None:
    """Write `history` (OpenMetrics text) as TSDB blocks into the data folder `data`."""
    source = data.parent / "history.om"
    source.write_text(history)
    subprocess.run(  # noqa: S603 - Debian's promtool, our arguments
        [binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        check=True,
        capture_output=True,
    )
    source.unlink()


@contextmanager
def running_prometheus(
    folder: Path, config: str, *flags: str, scheme: str = "http", port: int = 0, asked: dict[str, Any] | None = None
) -> Iterator[str]:
    """Debian's Prometheus on `port` (a free one by default), its data in `folder / "data"`,
    with `config` as its configuration and `flags`; its URL once it says it is ready (asked
    with `asked`, the `requests` options its web configuration needs), stopped afterwards."""
    asked = asked or {}
    (folder / "prometheus.yml").write_text(config)
    port = port or free_port()
    log_path = folder / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - Debian's prometheus, our arguments
            [
                binary(),
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
                *flags,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"{scheme}://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if requests.get(f"{url}/-/ready", timeout=1, **asked).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Prometheus did not start:\n{log_path.read_text()}")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


@dataclass
class Exporter:
    """A page Prometheus scrapes: `values` maps a series as written in the exposition format
    (`name{label="x"}`) to its value, set by the caller."""

    port: int = field(default_factory=free_port)
    values: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, series: str, value: float | str) -> None:
        with self.lock:
            self.values[series] = value if isinstance(value, str) else repr(value)

    def forget(self, series: str) -> None:
        with self.lock:
            self.values.pop(series, None)

    def page(self) -> bytes:
        with self.lock:
            return "".join(f"{series} {value}\n" for series, value in self.values.items()).encode()

    @contextmanager
    def serving(self) -> Iterator[Exporter]:
        """Serve the page on 127.0.0.1:`port` in a thread, until the block ends."""
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.page()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET  # noqa: N815 - a page that answers whatever is asked

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


def scrape_config(exporter: Exporter, interval_seconds: float = 1) -> str:
    """A configuration that scrapes `exporter` every `interval_seconds`."""
    return (
        f"global:\n  scrape_interval: {interval_seconds:g}s\n  evaluation_interval: {interval_seconds:g}s\n"
        "scrape_configs:\n  - job_name: exporter\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{exporter.port}']\n"
    )
