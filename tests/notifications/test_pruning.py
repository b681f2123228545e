"""The delivery log keeps what is still to be sent, and what was delivered or failed for
`MBREAK_WEBHOOK_KEEP_DAYS` days: older ones are pruned by a daily beat entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from metrics import tasks
from metrics.models import Delivery, DeliveryStatus, Release, Webhook
from tests.test_production import run


def delivery(webhook: Webhook, release: Release, status: str, days_ago: float) -> Delivery:
    created = timezone.now() - timedelta(days=days_ago)
    return Delivery.objects.create(
        webhook=webhook,
        release=release,
        event="verdict",
        state="rollback",
        body="{}",
        status=status,
        created_at=created,
        next_attempt_at=created if status in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING) else None,
    )


def test_deliveries_delivered_or_failed_longer_ago_than_kept_are_pruned_and_the_rest_kept(
    release: Release, webhook: Webhook, settings
) -> None:
    settings.MBREAK_WEBHOOK_KEEP_DAYS = 30
    old_delivered = delivery(webhook, release, DeliveryStatus.DELIVERED, 31)
    old_failed = delivery(webhook, release, DeliveryStatus.FAILED, 31)
    recent = [delivery(webhook, release, status, 29) for status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)]
    unfinished = [
        delivery(webhook, release, status, 31) for status in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
    ]
    resent = Delivery.objects.create(
        webhook=webhook, release=release, event="verdict", state="rollback", body="{}", resent_from=old_failed
    )

    assert tasks.prune_deliveries() == 2

    kept = {*recent, *unfinished, resent}
    assert set(Delivery.objects.all()) == kept
    assert not Delivery.objects.filter(pk__in=[old_delivered.pk, old_failed.pk]).exists()
    assert Delivery.objects.get(pk=resent.pk).resent_from_id is None  # the copy stays, its original gone
    assert tasks.prune_deliveries() == 0

    settings.MBREAK_WEBHOOK_KEEP_DAYS = 7
    assert tasks.prune_deliveries() == 2
    assert set(Delivery.objects.all()) == {*unfinished, resent}


def test_each_workers_beat_prunes_the_delivery_log_daily_on_the_pulls_queue(settings) -> None:
    from celery.schedules import crontab

    from mbreak.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["prune-webhook-deliveries"]
    assert entry["task"] == "metrics.tasks.prune_deliveries"
    assert isinstance(entry["schedule"], crontab)
    assert entry["schedule"].hour == {4}
    assert entry["schedule"].minute == {30}
    app.loader.import_default_modules()
    assert "metrics.tasks.prune_deliveries" in app.tasks
    assert app.amqp.router.route({}, "metrics.tasks.prune_deliveries")["queue"].name == settings.MBREAK_PULL_QUEUE


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("MBREAK_WEBHOOK_KEEP_DAYS", "0", "MBREAK_WEBHOOK_KEEP_DAYS=0: the days to keep deliveries, 1 or more."),
        ("MBREAK_WEBHOOK_ALLOWED_HOSTS", "hooks example", "not a host name, .domain, network or *: 'hooks example'"),
    ],
)
def test_a_webhook_setting_that_cannot_be_meant_stops_the_start_saying_why(name: str, value: str, says: str) -> None:
    started = run(["-c", "import mbreak.settings"], **{name: value})

    assert started.returncode != 0
    assert says in started.stderr
