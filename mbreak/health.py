"""What /healthz checks: can this instance reach what its pages and jobs need?"""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache
from django.db import connection

logger = logging.getLogger(__name__)


def check_database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return bool(cursor.fetchone() == (1,))
    except Exception:  # any failure means unhealthy; the log says which
        logger.exception("health check: database unreachable")
        return False


def check_cache() -> bool:
    key, token = "healthz", uuid.uuid4().hex
    try:
        cache.set(key, token, 10)
        return bool(cache.get(key) == token)
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


def report() -> dict[str, bool]:
    return {"database": check_database(), "cache": check_cache(), "broker": check_broker()}
