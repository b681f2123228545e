"""What /healthz checks: can this instance reach what its pages and jobs need?"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from django.core.cache import DEFAULT_CACHE_ALIAS, BaseCache, cache, caches
from django.db import connection

logger = logging.getLogger(__name__)

# /healthz answers within this many seconds whatever Redis does; a check still waiting then
# has failed. (The load balancer gives a check 5 s; one that never answered held a thread
# of the instance for each probe, until no thread was left to serve pages.)
DEADLINE_SECONDS = 3.0


def check_database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return bool(cursor.fetchone() == (1,))
    except Exception:  # any failure means unhealthy; the log says which
        logger.exception("health check: database unreachable")
        return False


def check_cache(shared: BaseCache = cache) -> bool:
    key, token = "healthz", uuid.uuid4().hex
    try:
        shared.set(key, token, 10)
        return bool(shared.get(key) == token)
    except Exception:
        logger.exception("health check: cache unreachable")
        return False


def check_broker() -> bool:
    """Can jobs be queued? (Redis in production; always, for the local folder of `make run`.)"""
    from mbreak.celery import app

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        logger.exception("health check: job broker unreachable")
        return False


def report(deadline: float = DEADLINE_SECONDS) -> dict[str, bool]:
    """Each part's check, run at once; the database's in this thread (its connection is this
    thread's), Redis's beside it, and any not answered by the deadline counted as failed.
    A check left behind ends at Redis's own timeouts (`MBREAK_REDIS_TIMEOUT`)."""
    shared = caches[DEFAULT_CACHE_ALIAS]  # this thread's, whose connections are reused
    started = time.monotonic()
    redis_checks = {"cache": lambda: check_cache(shared), "broker": check_broker}
    threads, answers = _started(redis_checks)
    answered = {"database": check_database()}
    for name, thread in threads.items():
        thread.join(max(0.0, deadline - (time.monotonic() - started)))
        answered[name] = answers.get(name, False)
        if thread.is_alive():
            logger.error("health check: %s did not answer within %s s", name, deadline)
    return answered


def _started(checks: dict[str, Callable[[], bool]]) -> tuple[dict[str, threading.Thread], dict[str, bool]]:
    answers: dict[str, bool] = {}

    def run(name: str, check: Callable[[], bool]) -> None:
        answers[name] = check()

    threads = {
        name: threading.Thread(target=run, args=(name, check), name=f"healthz-{name}", daemon=True)
        for name, check in checks.items()
    }
    for thread in threads.values():
        thread.start()
    return threads, answers
