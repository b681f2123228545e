"""`manage.py announce_when_ready URL`: for `make run`, the address and the demo login printed
once the web server answers and a worker reads the job queue, so that they come after the
server's and the worker's own start-up messages, where a newcomer looks, not above them."""

from __future__ import annotations

import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext
from kombu.exceptions import KombuError

from mbreak.celery import app as celery_app
from metrics.management.commands.load_demo import DEMO_PASSWORD, DEMO_USERNAME

POLL_SECONDS = 0.5


def web_answers(url: str) -> bool:
    """Whether a server answers at `url` (its /healthz: any answer, even an error, is one)."""
    try:
        with urllib.request.urlopen(urljoin(url, "/healthz"), timeout=2):  # noqa: S310 - our own http URL
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):  # nothing listens yet (URLError is an OSError)
        return False


def workers_read_the_queues() -> bool:
    """Whether Celery workers are up and read the queue jobs are sent to and the pulls' own."""
    try:
        replies = celery_app.control.inspect(timeout=1.0).active_queues() or {}
    except (OSError, KombuError):  # the broker does not answer
        return False
    read = {queue["name"] for queues in replies.values() for queue in queues or []}
    return {settings.CELERY_TASK_DEFAULT_QUEUE, settings.MBREAK_PULL_QUEUE} <= read


def wait_until(ready: Callable[[], bool], deadline: float) -> bool:
    while not ready():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


class Command(BaseCommand):
    help = (
        "For make run: wait until the web server at URL answers and a worker reads the job queue, then print "
        "the address and the demo login (after their start-up messages), and stay until stopped: honcho stops "
        "every process of the Procfile when one ends."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url", help="the web server's address (http://127.0.0.1:8000/)")
        parser.add_argument(
            "--timeout", type=float, default=120, help="seconds to wait for both before printing anyway (120)"
        )
        parser.add_argument("--exit", action="store_true", help="end once printed, rather than stay until stopped")

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"]
        deadline = time.monotonic() + options["timeout"]
        web = wait_until(lambda: web_answers(url), deadline)
        worker = wait_until(workers_read_the_queues, deadline)
        paragraphs = [
            gettext("Make or Break is running on %(url)s") % {"url": url},
            gettext(
                "Log in as %(username)s / %(password)s (or sign up). Background workers run trainings, "
                "imports, pulls from data sources and webhooks; Ctrl+C stops them all."
            )
            % {"username": DEMO_USERNAME, "password": DEMO_PASSWORD},
        ]
        if not web:
            paragraphs.append(gettext("The web server has not answered yet: see its messages above."))
        if not worker:
            paragraphs.append(gettext("The worker has not answered yet: trainings and imports wait for it."))
        lines = [line for paragraph in paragraphs for line in textwrap.wrap(paragraph, 88)]
        self.stdout.write("\n".join(["", *(f"  {line}" for line in lines), ""]))
        self.stdout.flush()
        if not options["exit"]:
            threading.Event().wait()  # until honcho stops it, with the others
