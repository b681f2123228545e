"""A Redis that accepts connections and never answers slows requests by seconds; it never
holds one for ever. /healthz answers within its deadline, naming what failed, and the log-in
page and the API (the lockout and the rate limits are counted in Redis) still answer."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, TokenScope
from mbreak.celery import app
from metrics.models import Failure, Job, Metric
from tests.concurrency import run_concurrently
from tests.data import rule_data
from tests.factories import PASSWORD
from tests.test_production import run

# Redis gets MBREAK_REDIS_TIMEOUT (1 s) to connect and to answer each command; a page makes
# a few such calls at most.
BOUND_SECONDS = 6.0
# What /healthz promises, whatever Redis does (the load balancer waits 5 s).
HEALTHZ_DEADLINE_SECONDS = 3.0


@pytest.fixture(scope="module")
def hung_redis() -> Iterator[str]:
    """A TCP listener that accepts every connection and never sends a byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


@pytest.fixture(scope="module")
def production_redis_settings(hung_redis: str) -> list[Any]:
    """The cache and job queue settings with REDIS_URL set to the hung Redis, as the settings
    make them (loaded in a process of their own)."""
    code = (
        "import json, mbreak.settings as s; print(json.dumps([s.CACHES, s.CELERY_BROKER_URL, "
        "getattr(s, 'CELERY_BROKER_TRANSPORT_OPTIONS', {}), getattr(s, 'CELERY_TASK_PUBLISH_RETRY_POLICY', None)]))"
    )
    loaded = run(["-c", code], REDIS_URL=hung_redis, DEBUG="1", DATABASE_URL="sqlite:////tmp/unused.sqlite3")
    assert loaded.returncode == 0, loaded.stderr
    return list(json.loads(loaded.stdout))


@pytest.fixture
def redis_settings_of_production(production_redis_settings: list[Any], settings: Any) -> Iterator[None]:
    """This process's cache and job queue pointed at the hung Redis, set as in production."""
    caches, broker_url, transport_options, retry_policy = production_redis_settings
    settings.CACHES = caches
    changed = {"broker_url": broker_url, "broker_transport_options": transport_options}
    if retry_policy is not None:
        changed["task_publish_retry_policy"] = retry_policy
    before = {key: app.conf[key] for key in changed}
    app.conf.update(changed)
    yield
    app.conf.update(before)


Answer = TypeVar("Answer")


def answered_within(seconds: float, request: Callable[[], Answer]) -> tuple[Answer, float]:
    """The response and how long it took; a failure, not a hung test, when none comes in time."""
    started = time.monotonic()
    [answer] = run_concurrently(request, timeout=seconds)
    return answer, time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_healthz_answers_within_its_deadline_naming_the_hung_parts(redis_settings_of_production: None) -> None:
    client = Client()
    # Six probes in a row: each one ends, so none holds a thread of the instance.
    for _probe in range(6):
        response, took = answered_within(HEALTHZ_DEADLINE_SECONDS + 2, lambda: client.get("/healthz"))

        assert response.status_code == 200  # Redis is shared: a new instance would not reach it either
        assert response.json() == {"database": True, "cache": False, "broker": False}
        assert took < HEALTHZ_DEADLINE_SECONDS + 1


@pytest.mark.django_db(transaction=True)
def test_the_log_in_page_still_logs_in_and_refuses_a_wrong_password(
    owner: User, redis_settings_of_production: None
) -> None:
    client = Client()
    page, _took = answered_within(BOUND_SECONDS, lambda: client.get(reverse("accounts:login")))
    wrong, _took = answered_within(
        BOUND_SECONDS, lambda: client.post(reverse("accounts:login"), {"username": "owner", "password": "nope"})
    )
    right, _took = answered_within(
        BOUND_SECONDS, lambda: client.post(reverse("accounts:login"), {"username": "owner", "password": PASSWORD})
    )

    assert page.status_code == 200
    assert wrong.status_code == 200
    assert "Please enter a correct username and password." in wrong.content.decode()
    assert right.status_code == 302


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_a_token_and_refuses_a_wrong_one(owner: User, redis_settings_of_production: None) -> None:
    _token, secret = ApiToken.objects.issue(owner, "pipeline", TokenScope.READ)
    client = Client()

    known, _took = answered_within(
        BOUND_SECONDS, lambda: client.get(reverse("api:metrics"), headers={"Authorization": f"Bearer {secret}"})
    )
    wrong, _took = answered_within(
        BOUND_SECONDS, lambda: client.get(reverse("api:metrics"), headers={"Authorization": "Bearer wrong"})
    )

    assert known.status_code == 200
    assert wrong.status_code == 401


def forget_broker_connections() -> None:
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)
def test_a_training_asked_while_the_queue_hangs_is_refused_in_bounded_time(
    owner: User, metric: Metric, redis_settings_of_production: None
) -> None:
    metric.import_indicators(rule_data(40), owner)
    _token, secret = ApiToken.objects.issue(owner, "pipeline", TokenScope.WRITE)
    client = Client()
    app.conf.task_always_eager = False  # sent to the (hung) broker, as in production
    forget_broker_connections()  # made again for this broker
    try:
        refused, _took = answered_within(
            BOUND_SECONDS * 2,
            lambda: client.post(reverse("api:train", args=[metric.pk]), headers={"Authorization": f"Bearer {secret}"}),
        )
    finally:
        forget_broker_connections()

    assert refused.status_code == 503
    assert refused.json()["code"] == "unqueued"
    assert Job.objects.get().failure == Failure.UNQUEUED
