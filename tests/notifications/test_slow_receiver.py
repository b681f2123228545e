"""A receiver that hangs never slows a verdict: the pipeline is answered at once, the message
waits for a worker in the broker, and the worker delivers it, however long the receiver takes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from celery import Celery
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from mbreak.celery import app as celery_app
from metrics import tasks
from metrics.models import Delivery, Release, Webhook
from tests.api.test_gates import bearer
from tests.notifications.conftest import BAD_VALUE, metric_named
from tests.notifications.receiver import Receiver, Reply

RECEIVER_DELAY = 5.0


def send_to_broker(app: Celery, url: str) -> None:
    """Make `app` send its tasks to the broker at `url`. Celery keeps the pools of connections to
    the broker it first sent to: it forgets them, as it does after a fork (kombu keeps each pool,
    open, for the next app that sends to that broker)."""
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url = url


@pytest.fixture
def broker() -> Iterator[Callable[[], list[tuple[str, list]]]]:
    """Celery as in production, but for its broker (kombu's in-memory one): a task sent waits there
    for a worker, instead of running in the test's process as it is sent. Yields what reads the
    messages waiting in the queue the `pulls` worker reads: (task name, arguments) each."""
    before = celery_app.conf.broker_url
    celery_app.conf.task_always_eager = False
    send_to_broker(celery_app, "memory://")

    def waiting() -> list[tuple[str, list]]:
        found = []
        with celery_app.connection_for_read() as connection:
            queue = connection.SimpleQueue(settings.MBREAK_PULL_QUEUE, no_ack=True)
            while queue.qsize():
                message = queue.get(timeout=1)
                found.append((message.headers["task"], message.payload[0]))
            queue.close()
        return found

    waiting()  # nothing another test left
    try:
        yield waiting
    finally:
        send_to_broker(celery_app, before)
        celery_app.conf.task_always_eager = True


def test_a_slow_receiver_does_not_delay_the_verdict_answered_to_the_pipeline(
    client: Client, owner: User, release: Release, webhook: Webhook, receiver: Receiver, broker
) -> None:
    receiver.default = Reply(200, delay=RECEIVER_DELAY)
    headers = bearer(owner)
    url = reverse("api:release_observations", args=[release.pk])

    started = time.monotonic()
    for name in ("Error rate", "Latency"):
        metric = metric_named(release, name)
        body = {"metric": metric.pk, "value": BAD_VALUE, "minutes": 12}
        response = client.post(url, body, content_type="application/json", headers=headers)
        assert response.status_code == 201, response.json()
    answered_in = time.monotonic() - started

    assert response.json()["verdict"] == "rollback"
    assert answered_in < RECEIVER_DELAY / 2
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert receiver.received == []
    sent = broker()
    assert sent == [("metrics.tasks.deliver_webhook", [delivery.pk])]

    [(_task, arguments)] = sent
    tasks.deliver_webhook(*arguments)  # what a worker does with it

    delivered = Delivery.objects.get()
    assert (delivered.status, delivered.attempts, delivered.response_status) == ("delivered", 1, 200)
    assert len(receiver.received) == 1
