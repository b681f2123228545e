"""`make run` ends with the address and the demo login, after the web server's and the
worker's start-up messages: printed before `honcho start`, they scrolled away under them.

The processes of Procfile.dev run for real (honcho, runserver, a Celery worker through Redis
on a queue of its own), in a throw-away folder with a database file of its own.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command

from mbreak.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("MBREAK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
LOGIN = "Log in as demo / make-or-break"
STARTED = ("celery@", "Quit the server with")  # the worker's and runserver's start-up messages


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment_of(tmp_path: Path, port: int) -> dict[str, str]:
    """This run's environment, as `make run` sets it, with a database and job queue of its own."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "CELERY_"))}
    environment.update(
        DJANGO_SETTINGS_MODULE="mbreak.settings",
        PYTHONPATH=str(ROOT),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CELERY_BROKER_URL=REDIS_URL,
        MBREAK_JOB_QUEUE=f"test-{uuid.uuid4().hex}",
        MBREAK_PULL_QUEUE=f"test-pulls-{uuid.uuid4().hex}",
        HOST="127.0.0.1",
        WEB_PORT=str(port),  # as make run sets them
        LOG_FORMAT="text",
    )
    return environment


def has_printed_the_login(lines: list[str]) -> bool:
    return any(LOGIN in line for line in list(lines))


def have_both_started(lines: list[str]) -> bool:
    return all(any(sign in line for line in list(lines)) for sign in STARTED)


def honcho_output_until_the_login(tmp_path: Path, environment: dict[str, str], port: int) -> list[str]:
    """The lines `honcho start` prints until the login (or 180 s, or 30 s after both started), then Ctrl+C."""
    honcho = subprocess.Popen(  # noqa: S603 - the venv's honcho, the project's Procfile.dev
        [str(Path(sys.executable).with_name("honcho")), "-f", str(ROOT / "Procfile.dev"), "start", "--port", str(port)],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: stopped whole
    )
    lines: list[str] = []
    assert honcho.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(honcho.stdout or []), daemon=True)  # line by line
    reader.start()
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and reader.is_alive() and not has_printed_the_login(lines):
            if have_both_started(lines):
                deadline = min(deadline, time.monotonic() + 30)  # both started: the login follows at once
            time.sleep(0.5)
    finally:
        os.killpg(honcho.pid, signal.SIGINT)  # Ctrl+C
        try:
            honcho.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
        reader.join(timeout=10)
    return lines


def first_line_with(lines: list[str], *texts: str) -> int | None:
    """The index of the first line holding each of `texts`; None if none does."""
    return next((index for index, line in enumerate(lines) if all(text in line for text in texts)), None)


def test_make_run_prints_the_address_and_the_demo_login_after_the_server_and_the_worker_start(
    tmp_path: Path,
) -> None:
    port = free_port()
    for shared in (".venv", "manage.py"):  # the checkout's, run from a folder of this run's own
        (tmp_path / shared).symlink_to(ROOT / shared)
    (tmp_path / ".broker").mkdir()  # the worker's beat schedule: this run's own
    environment = environment_of(tmp_path, port)
    subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        env=environment,
        check=True,
        timeout=120,
    )
    lines = honcho_output_until_the_login(tmp_path, environment, port)
    output = "".join(lines)

    login = first_line_with(lines, LOGIN)
    assert login is not None, output[-5_000:]
    worker_ready = first_line_with(lines, "worker", " ready.")
    pulls_ready = first_line_with(lines, "pulls", "pulls@", " ready.")
    web_ready = first_line_with(lines, "Quit the server with")
    assert worker_ready is not None
    assert pulls_ready is not None, output[-5_000:]
    assert web_ready is not None
    assert worker_ready < login
    assert pulls_ready < login
    assert web_ready < login
    assert f"Make or Break is running on http://127.0.0.1:{port}/" in lines[login - 1]
    assert "has not answered yet" not in output


def test_the_announcement_says_what_has_not_answered_rather_than_wait_for_ever(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")  # no broker there
    started = time.monotonic()

    call_command("announce_when_ready", f"http://127.0.0.1:{free_port()}/", "--timeout", "1", "--exit")

    printed = capsys.readouterr().out
    assert time.monotonic() - started < 30
    assert LOGIN in printed
    assert "The web server has not answered yet" in printed
    assert "The worker has not answered yet" in printed
