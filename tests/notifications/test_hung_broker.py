"""A broker that hangs delays a verdict by one broker timeout at most, however many webhooks hear
about it: the first message that cannot be queued stops the queuing, and the sweep sends them all."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mbreak.celery import app as celery_app
from metrics.models import Delivery, Gate, Release, Webhook
from tests.api.test_gates import bearer
from tests.notifications.conftest import BAD_VALUE, metric_named
from tests.notifications.receiver import Receiver
from tests.test_hung_redis import hung_redis, production_redis_settings  # noqa: F401 - fixtures


def forget_broker_connections() -> None:
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextmanager
def sending_to(redis_settings: list[Any]) -> Iterator[float]:
    """Tasks sent, as in production, to the broker of `redis_settings`, a Redis that
    accepts connections and never answers (the cache stays this process's own: only the broker
    hangs). Yields how long one task takes to fail to be queued: each try waits the socket's
    timeout, and a task is tried again as the retry policy says."""
    _caches, broker_url, transport_options, retry_policy = redis_settings
    changed = {
        "broker_url": broker_url,
        "broker_transport_options": transport_options,
        "task_publish_retry_policy": retry_policy,
        "task_always_eager": False,
    }
    before = {key: celery_app.conf[key] for key in changed}
    celery_app.conf.update(changed)
    forget_broker_connections()
    try:
        yield (retry_policy["max_retries"] + 1) * transport_options["socket_timeout"]
    finally:
        forget_broker_connections()
        celery_app.conf.update(before)


def test_a_hung_broker_delays_the_verdict_by_one_timeout_whatever_the_number_of_webhooks(
    client: Client,
    owner: User,
    gate: Gate,
    release: Release,
    receiver: Receiver,
    production_redis_settings: list[Any],  # noqa: F811 - a fixture
) -> None:
    for name in ("Deploy bot", "Chat", "Pager"):
        Webhook.objects.create(gate=gate, name=name, url=receiver.url)
    headers = bearer(owner)
    url = reverse("api:release_observations", args=[release.pk])

    def observe(name: str) -> Any:
        body = {"metric": metric_named(release, name).pk, "value": BAD_VALUE, "minutes": 12}
        return client.post(url, body, content_type="application/json", headers=headers)

    with sending_to(production_redis_settings) as one_timeout:
        assert observe("Error rate").status_code == 201  # waits for the other metric: no verdict yet
        started = time.monotonic()
        response = observe("Latency")  # the verdict turns rollback: three messages to queue
        answered_in = time.monotonic() - started

    assert response.status_code == 201
    assert response.json()["verdict"] == "rollback"
    assert one_timeout >= 2  # as production's settings make it
    assert answered_in < one_timeout * 1.5  # two would take twice one_timeout
    deliveries = list(Delivery.objects.order_by("pk"))
    assert [(d.status, d.attempts) for d in deliveries] == [("pending", 0)] * 3
    assert receiver.received == []

    # Each waits for the sweep, which sends again what was due LOST_AFTER ago and not tried.
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=6))
    assert Delivery.objects.send_lost_again() == 3
    assert [d.status for d in Delivery.objects.order_by("pk")] == ["delivered"] * 3
    assert len(receiver.wait_for(3)) == 3
