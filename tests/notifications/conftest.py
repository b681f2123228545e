"""A gate of two metrics (the tests' rule: rollback when value < 400 from minute 10), a release of
it, and a real receiver listening for the gate's webhook."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from metrics.models import Gate, GateMetric, Metric, Release, Webhook
from tests.api.test_gates import trained
from tests.notifications.receiver import Receiver, running_receiver

GOOD_VALUE = 900  # a rollout whatever the minute
BAD_VALUE = 100  # a rollback from minute 10


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def gate(owner: User) -> Gate:
    """Two metrics weighing 1 each: both good roll out (100), both bad roll back (0), one of each
    leaves it to a person (50, between the marginal 50 and the pass 80)."""
    gate = Gate.objects.create(name="Checkout deploys", owner=owner, pass_score=80, marginal_score=50)
    GateMetric.objects.create(gate=gate, metric=trained(owner, "Error rate"), weight=1)
    GateMetric.objects.create(gate=gate, metric=trained(owner, "Latency"), weight=1)
    return gate


@pytest.fixture
def release(gate: Gate) -> Release:
    return Release.objects.create(
        gate=gate,
        name="checkout-web",
        version="1.4.2",
        key="checkout@abc123",
        created_by=gate.owner,
        started_at=timezone.now() - timedelta(minutes=30),
    )


@pytest.fixture
def webhook(gate: Gate, receiver: Receiver) -> Webhook:
    return Webhook.objects.create(
        gate=gate, name="Deploy bot", url=receiver.url, on_rollback=True, on_inconclusive=True, on_rollout=True
    )


def metric_named(release: Release, name: str) -> Metric:
    return release.gate.gate_metrics.get(metric__name=name).metric


def observe(release: Release, error_rate: float, latency: float | None = None, minute: float = 12) -> None:
    """Observations of both metrics (the second as the first unless said), at `minute`."""
    owner = release.gate.owner
    release.observe(metric_named(release, "Error rate"), error_rate, owner, minutes=minute)
    release.observe(metric_named(release, "Latency"), error_rate if latency is None else latency, owner, minutes=minute)
