"""Sending a webhook message to a real receiver: signed so that the README's recipe verifies it,
tried again with a doubling wait when the failure may pass, failed at once when it would be
refused again, never followed elsewhere, tried once at a time, and sent again on request."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from metrics import tasks
from metrics.models import Delivery, DeliveryStatus, Release, Webhook
from stores.local_prometheus import free_port
from tests.notifications.conftest import BAD_VALUE, observe
from tests.notifications.receiver import Receiver, Reply

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_recipe() -> str:
    """The README's verification recipe, as a receiver would copy it (the webhook's page shows it too)."""
    text = README.read_text()
    [code] = [block for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL) if "def verify(" in block]
    return str(code)


def readme_verify() -> Any:
    """The README's verification recipe, run."""
    namespace: dict[str, Any] = {}
    exec(readme_recipe(), namespace)  # noqa: S102 - our own README's example
    return namespace["verify"]


def announce_rollback(release: Release) -> Delivery:
    """The release's verdict turns rollback, asked by its pipeline: one delivery to the webhook."""
    observe(release, BAD_VALUE)
    release.answer(release.gate.owner)
    return Delivery.objects.get()


def stored(delivery: Delivery) -> Delivery:
    return Delivery.objects.get(pk=delivery.pk)


def wait_before_next_try(delivery: Delivery) -> timedelta:
    assert delivery.next_attempt_at is not None
    assert delivery.last_attempt_at is not None
    return delivery.next_attempt_at - delivery.last_attempt_at


def try_again_when_due(delivery: Delivery) -> Delivery:
    """What the task sent for the next try does, when its time comes."""
    delivery = stored(delivery)
    assert delivery.next_attempt_at is not None
    Delivery.objects.deliver(delivery.pk, now=delivery.next_attempt_at)
    return stored(delivery)


def test_a_message_is_signed_so_that_the_readmes_recipe_verifies_it(
    release: Release, webhook: Webhook, receiver: Receiver
) -> None:
    delivery = announce_rollback(release)

    [received] = receiver.wait_for(1)
    verify = readme_verify()
    signature = received.headers["Mbreak-Signature"]
    secret = webhook.read_secret()
    assert secret.startswith("whsec_")
    assert verify(secret, received.raw, signature)
    assert received.body == stored(delivery).body  # the exact text kept is the text sent
    assert not verify(secret, received.raw.replace(b"rollback", b"rollout"), signature)  # tampered
    assert not verify("whsec_another", received.raw, signature)
    stale = re.sub(r"t=(\d+)", lambda found: f"t={int(found[1]) - 301}", signature)
    assert not verify(secret, received.raw, stale)  # signed over 5 minutes ago: a replay
    assert abs(int(signature.split(",")[0].removeprefix("t=")) - time.time()) < 30


def test_a_message_says_what_it_is_and_a_2xx_delivers_it(
    release: Release, webhook: Webhook, receiver: Receiver
) -> None:
    delivery = announce_rollback(release)

    [received] = receiver.wait_for(1)
    assert received.headers["Mbreak-Event"] == "verdict"
    assert received.headers["Mbreak-Delivery"] == str(delivery.pk)
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["User-Agent"].startswith("MakeOrBreak/")
    delivered = stored(delivery)
    assert (delivered.status, delivered.attempts, delivered.response_status) == ("delivered", 1, 200)
    assert delivered.delivered_at is not None
    assert delivered.next_attempt_at is None


def test_a_500_is_tried_again_after_a_wait_that_doubles_until_the_tries_run_out(
    release: Release, webhook: Webhook, receiver: Receiver, settings
) -> None:
    settings.MBREAK_WEBHOOK_BACKOFF_SECONDS = 30
    settings.MBREAK_WEBHOOK_ATTEMPTS = 4
    receiver.default = Reply(500, text="database down")

    delivery = announce_rollback(release)
    waits = []
    for _ in range(3):
        delivery = stored(delivery)
        assert delivery.status == "retrying"
        waits.append(wait_before_next_try(delivery))
        delivery = try_again_when_due(delivery)

    assert waits == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 4, 500)
    assert delivery.next_attempt_at is None
    assert "database down" in delivery.error_words
    assert len(receiver.wait_for(4)) == 4


def test_a_receiver_that_does_not_answer_in_time_is_tried_again_then_delivered(
    release: Release, webhook: Webhook, receiver: Receiver, settings
) -> None:
    settings.MBREAK_WEBHOOK_TIMEOUT = 0.5
    receiver.reply(Reply(200, delay=2))

    delivery = stored(announce_rollback(release))

    assert (delivery.status, delivery.attempts, delivery.response_status) == ("retrying", 1, None)
    assert delivery.error == "timeout"
    assert delivery.error_words == "The receiver did not answer within the timeout."
    assert wait_before_next_try(delivery) == timedelta(seconds=30)
    delivery = try_again_when_due(delivery)
    assert (delivery.status, delivery.attempts, delivery.response_status, delivery.error) == (
        "delivered",
        2,
        200,
        "",
    )
    first, second = receiver.wait_for(2)
    assert first.body == second.body


def test_a_receiver_that_cannot_be_reached_is_tried_again(release: Release, gate) -> None:
    Webhook.objects.create(gate=gate, url=f"http://127.0.0.1:{free_port()}/hook")

    delivery = stored(announce_rollback(release))

    assert (delivery.status, delivery.attempts, delivery.error) == ("retrying", 1, "refused")
    assert "refused" in delivery.error_words


@pytest.mark.parametrize("status", [400, 401, 404, 410])
def test_a_refusal_is_not_tried_again(release: Release, webhook: Webhook, receiver: Receiver, status: int) -> None:
    receiver.default = Reply(status, text="no such hook")

    delivery = stored(announce_rollback(release))

    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 1, status)
    assert delivery.next_attempt_at is None
    assert delivery.error_words == "The receiver answered: no such hook"
    Delivery.objects.deliver(delivery.pk, now=timezone.now() + timedelta(days=1))
    assert stored(delivery).attempts == 1
    assert len(receiver.wait_for(1)) == 1


@pytest.mark.parametrize("status", [408, 429, 502, 503])
def test_a_request_timeout_a_rate_limit_and_a_server_error_are_tried_again(
    release: Release, webhook: Webhook, receiver: Receiver, status: int
) -> None:
    receiver.reply(status)

    delivery = stored(announce_rollback(release))
    assert (delivery.status, delivery.response_status) == ("retrying", status)
    assert try_again_when_due(delivery).status == "delivered"


def test_a_rate_limit_is_waited_out_as_the_receiver_asks(
    release: Release, webhook: Webhook, receiver: Receiver
) -> None:
    receiver.reply(Reply(429, headers={"Retry-After": "300"}))

    delivery = stored(announce_rollback(release))

    assert wait_before_next_try(delivery) == timedelta(seconds=300)


@pytest.mark.parametrize(
    "retry_after",
    ["99999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT", "86400"],
)
def test_a_rate_limit_asking_for_a_longer_wait_than_an_hour_is_waited_an_hour(
    release: Release, webhook: Webhook, receiver: Receiver, retry_after: str
) -> None:
    receiver.reply(Reply(429, headers={"Retry-After": retry_after}))

    delivery = stored(announce_rollback(release))

    assert (delivery.status, delivery.attempts, delivery.response_status) == ("retrying", 1, 429)
    assert wait_before_next_try(delivery) == timedelta(hours=1)


@pytest.mark.parametrize("retry_after", ["-5", "inf", "nan", "1e400", "\u00b2", "soon", "12.5"])
def test_a_rate_limit_with_a_retry_after_that_is_not_a_wait_is_waited_out_with_the_backoff(
    release: Release, webhook: Webhook, receiver: Receiver, retry_after: str, settings
) -> None:
    settings.MBREAK_WEBHOOK_BACKOFF_SECONDS = 30
    receiver.reply(Reply(429, headers={"Retry-After": retry_after}))

    delivery = stored(announce_rollback(release))

    assert (delivery.status, delivery.attempts, delivery.response_status) == ("retrying", 1, 429)
    assert wait_before_next_try(delivery) == timedelta(seconds=30)


def test_a_redirect_is_not_followed(release: Release, webhook: Webhook, receiver: Receiver) -> None:
    receiver.reply(Reply(307, headers={"Location": "/elsewhere"}))

    delivery = stored(announce_rollback(release))

    assert (delivery.status, delivery.response_status) == ("failed", 307)
    assert [request.path for request in receiver.wait_for(2, seconds=0.5)] == ["/hooks/mbreak"]
    assert "redirect" in delivery.error_words


def test_a_delivery_is_tried_once_by_two_tasks_that_run_it_at_once(
    release: Release, webhook: Webhook, receiver: Receiver, settings
) -> None:
    receiver.reply(500)
    delivery = stored(announce_rollback(release))
    due = delivery.next_attempt_at
    first, second = stored(delivery), stored(delivery)  # two tasks, each with the delivery as it read it

    first.attempt(now=due)
    second.attempt(now=due)

    assert len(receiver.wait_for(3, seconds=0.5)) == 2  # the first try, and one of the two
    assert stored(delivery).attempts == 2


def test_the_task_tries_again_when_the_wait_is_over_and_not_before(
    release: Release, webhook: Webhook, receiver: Receiver
) -> None:
    receiver.reply(500)
    delivery = stored(announce_rollback(release))

    tasks.deliver_webhook(delivery.pk)  # too early: its wait is not over
    assert stored(delivery).attempts == 1
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    tasks.deliver_webhook(delivery.pk)

    assert (stored(delivery).status, stored(delivery).attempts) == ("delivered", 2)


def test_a_delivery_whose_task_was_lost_is_sent_again_by_the_sweep(
    release: Release, webhook: Webhook, receiver: Receiver
) -> None:
    receiver.reply(500)
    delivery = stored(announce_rollback(release))
    late = timezone.now() - timedelta(minutes=6)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=late)  # its task never came

    assert tasks.send_lost_deliveries() == 1

    assert (stored(delivery).status, stored(delivery).attempts) == ("delivered", 2)
    assert tasks.send_lost_deliveries() == 0


def test_send_again_posts_the_same_body_signed_anew(release: Release, webhook: Webhook, receiver: Receiver) -> None:
    delivery = announce_rollback(release)
    [first] = receiver.wait_for(1)
    time.sleep(1.1)  # a new second: a new timestamp, so a new signature

    again = stored(delivery).send_again()

    first, second = receiver.wait_for(2)
    assert second.raw == first.raw
    assert second.headers["Mbreak-Signature"] != first.headers["Mbreak-Signature"]
    assert readme_verify()(webhook.read_secret(), second.raw, second.headers["Mbreak-Signature"])
    assert second.headers["Mbreak-Delivery"] == str(again.pk) != first.headers["Mbreak-Delivery"]
    again = stored(again)
    assert (again.resent_from_id, again.status, again.body) == (delivery.pk, "delivered", stored(delivery).body)


def test_a_new_secret_signs_from_then_on(release: Release, webhook: Webhook, receiver: Receiver) -> None:
    old = webhook.read_secret()
    new = webhook.new_secret()
    webhook.save()

    announce_rollback(release)

    [received] = receiver.wait_for(1)
    verify = readme_verify()
    assert new != old
    assert verify(new, received.raw, received.headers["Mbreak-Signature"])
    assert not verify(old, received.raw, received.headers["Mbreak-Signature"])


def test_a_secret_no_key_reads_fails_its_deliveries_saying_what_to_do(
    release: Release, gate, receiver: Receiver, settings
) -> None:
    settings.MBREAK_SECRETS_KEY = "a key that was lost"
    Webhook.objects.create(gate=gate, url=receiver.url)
    settings.MBREAK_SECRETS_KEY = "the new key"

    delivery = stored(announce_rollback(release))

    assert delivery.status == DeliveryStatus.FAILED
    assert "make a new secret" in delivery.error_words
    assert receiver.wait_for(1, seconds=0.3) == []


def test_rotating_the_secrets_key_keeps_webhook_secrets_and_names_those_no_key_reads(
    gate, receiver: Receiver, settings, capsys
) -> None:
    settings.MBREAK_SECRETS_KEY = "a key that was lost"
    lost = Webhook.objects.create(gate=gate, url=receiver.url)
    settings.MBREAK_SECRETS_KEY = "the old key"
    kept = Webhook.objects.create(gate=gate, url=receiver.url)
    secret = kept.read_secret()
    settings.MBREAK_SECRETS_KEY = "the new key"
    settings.MBREAK_SECRETS_KEY_FALLBACKS = ["the old key"]

    with pytest.raises(CommandError) as failed:
        call_command("rotate_secrets")

    assert f"webhook id {lost.pk}" in str(failed.value)
    assert f"webhook id {kept.pk}" not in str(failed.value)
    assert "1 secret encrypted again" in capsys.readouterr().out
    settings.MBREAK_SECRETS_KEY_FALLBACKS = []
    assert Webhook.objects.get(pk=kept.pk).read_secret() == secret


def test_each_workers_beat_sends_lost_deliveries_again_every_minute(settings) -> None:
    from mbreak.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["send-lost-webhook-deliveries"]
    assert (entry["task"], entry["schedule"]) == ("metrics.tasks.send_lost_deliveries", 60.0)
    app.loader.import_default_modules()
    assert {"metrics.tasks.send_lost_deliveries", "metrics.tasks.deliver_webhook"} <= set(app.tasks)


def test_webhook_tasks_go_to_the_pull_queue_read_by_the_pulls_worker_not_behind_trainings(settings) -> None:
    """A delivery must not wait behind a 30-minute training, nor a hanging receiver hold a job
    worker's process: the `pulls` worker (threads, each waiting on I/O) sends them."""
    from mbreak.celery import app

    route = app.amqp.router.route
    for task in ("metrics.tasks.deliver_webhook", "metrics.tasks.send_lost_deliveries"):
        assert route({}, task)["queue"].name == settings.MBREAK_PULL_QUEUE != settings.CELERY_TASK_DEFAULT_QUEUE


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/"])
def test_a_webhook_at_the_instance_metadata_service_fails_without_sending_or_trying_again(
    release: Release, gate, url: str
) -> None:
    Webhook.objects.create(gate=gate, url=url)  # saved before the rule, or by hand: never sent

    delivery = stored(announce_rollback(release))

    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 1, None)
    assert delivery.next_attempt_at is None
    assert "is the address of the instance metadata service" in delivery.error_words
    assert "a webhook may not send there" in delivery.error_words


def test_a_webhook_whose_host_resolves_where_the_server_does_not_allow_fails_without_sending(
    release: Release, gate, receiver: Receiver, settings
) -> None:
    webhook = Webhook.objects.create(gate=gate, url=receiver.url.replace("127.0.0.1", "localhost"))
    settings.MBREAK_WEBHOOK_ALLOWED_HOSTS = ["10.0.0.0/8"]  # listed after the webhook was saved

    delivery = stored(announce_rollback(release))

    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)
    assert "This server does not allow webhooks to “localhost” (" in delivery.error_words
    assert "127.0.0.1" in delivery.error_words
    assert receiver.wait_for(1, seconds=0.3) == []
    settings.MBREAK_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.0/8", "::1"]  # each address it resolves to, listed
    assert stored(delivery.send_again()).status == "delivered"
    assert receiver.wait_for(1)[0].headers["Mbreak-Delivery"] != str(delivery.pk)
    assert webhook.deliveries.count() == 2
