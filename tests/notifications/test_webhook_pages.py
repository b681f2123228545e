"""The gate's Notifications: its owner adds, changes and deletes webhooks, reads a webhook's secret
and delivery log, makes a new secret and sends a delivery again; no one else sees or changes any
of it; bad input is refused with a message, storing nothing."""

from __future__ import annotations

import html
import json
import logging
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import Delivery, Gate, Release, Webhook
from tests.data import rows_of
from tests.notifications.conftest import BAD_VALUE, observe
from tests.notifications.receiver import Receiver
from tests.notifications.test_deliveries import readme_recipe
from tests.pages import messages_of, table_rows
from tests.refusals import changes_nothing

SLACK_URL = "https://hooks.slack.example/services/T000/B000/XXXXSECRETTOKEN"
METADATA_REFUSED = "is the address of the instance metadata service"


def shown_recipe(page: str) -> str:
    """The verification recipe a page shows, as a reader copies it."""
    [code] = re.findall(r'aria-label="The verification recipe, in Python"><code>(.*?)</code></pre>', page, re.DOTALL)
    return html.unescape(code) + "\n"


def notifications_state() -> dict[str, list]:
    return {"webhooks": rows_of(Webhook), "deliveries": rows_of(Delivery)}


def form(url: str, **fields: object) -> dict[str, object]:
    return {"name": "Deploy bot", "url": url, "format": "json", "on_rollback": "on", "active": "on", **fields}


@pytest.fixture
def delivered(release: Release, webhook: Webhook, receiver: Receiver) -> Delivery:
    """The webhook heard the release turn rollback."""
    observe(release, BAD_VALUE)
    release.answer(release.gate.owner)
    receiver.wait_for(1)
    return Delivery.objects.get()


def test_the_owner_adds_a_webhook_and_reads_its_secret_on_its_page(client: Client, owner: User, gate: Gate) -> None:
    client.force_login(owner)
    empty = client.get(reverse("metrics:webhook_create", args=[gate.pk]))
    assert empty.status_code == 200
    assert 'name="url"' in empty.content.decode()

    response = client.post(
        reverse("metrics:webhook_create", args=[gate.pk]),
        form(SLACK_URL, format="slack", on_rollback="on", on_outcome="on"),
    )

    webhook = Webhook.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("metrics:webhook", args=[webhook.pk])
    assert (webhook.gate, webhook.url, webhook.format, webhook.active) == (gate, SLACK_URL, "slack", True)
    assert (webhook.on_rollback, webhook.on_inconclusive, webhook.on_rollout, webhook.on_outcome) == (
        True,
        False,
        False,
        True,
    )
    secret = webhook.read_secret()
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    assert secret not in webhook.secret  # kept encrypted
    page = client.get(response["Location"]).content.decode()
    assert secret in page
    assert SLACK_URL in page
    assert shown_recipe(page) == readme_recipe()  # the one the signatures are tested with


def test_the_gate_page_lists_its_webhooks_by_host_and_its_newest_deliveries_to_its_owner(
    client: Client, owner: User, gate: Gate, delivered: Delivery
) -> None:
    Webhook.objects.create(gate=gate, name="#deploys", url=SLACK_URL, format="slack", on_outcome=False, active=False)
    client.force_login(owner)

    response = client.get(reverse("metrics:gate", args=[gate.pk]))

    assert table_rows(response, "webhooks") == [
        ["Deploy bot", "127.0.0.1", "JSON, signed", "rollback, inconclusive, rollout, outcome", "Edit Delete"],
        ["#deploys paused", "hooks.slack.example", "Slack-compatible incoming webhook", "rollback", "Edit Delete"],
    ]
    page = response.content.decode()
    assert "XXXXSECRETTOKEN" not in page  # a URL's path may hold a token: the host only
    [row] = table_rows(response, "deliveries")
    assert row[1:7] == ["Deploy bot", "Verdict changed: Rollback", "checkout-web 1.4.2", "Delivered", "1", "200"]


def test_the_webhook_page_logs_each_delivery_newest_first_with_what_went_wrong(
    client: Client, owner: User, webhook: Webhook, delivered: Delivery, receiver: Receiver
) -> None:
    receiver.default = receiver.default.__class__(404, text="no_service")
    delivered.send_again()
    client.force_login(owner)

    response = client.get(reverse("metrics:webhook", args=[webhook.pk]))

    rows = table_rows(response, "deliveries")
    assert [row[1:7] for row in rows] == [
        ["Verdict changed: Rollback", "checkout-web 1.4.2", "Failed", "1", "404", "The receiver answered: no_service"],
        ["Verdict changed: Rollback", "checkout-web 1.4.2", "Delivered", "1", "200", ""],
    ]
    assert "(sent again)" in rows[0][0]


def test_send_again_from_the_log_sends_the_same_body_and_comes_back_to_the_page(
    client: Client, owner: User, webhook: Webhook, delivered: Delivery, receiver: Receiver
) -> None:
    client.force_login(owner)
    page = reverse("metrics:webhook", args=[webhook.pk])

    response = client.post(reverse("metrics:delivery_send_again", args=[delivered.pk]), {"next": page})

    assert response.status_code == 302
    assert response["Location"] == page
    assert messages_of(response) == ["Sent again: the same message, signed anew."]
    again = Delivery.objects.exclude(pk=delivered.pk).get()
    assert (again.resent_from_id, again.body, again.status) == (delivered.pk, delivered.body, "delivered")
    first, second = receiver.wait_for(2)
    assert first.raw == second.raw


def test_the_owner_changes_a_webhook_and_its_secret_stays(client: Client, owner: User, webhook: Webhook) -> None:
    secret = webhook.read_secret()
    client.force_login(owner)
    shown = client.get(reverse("metrics:webhook_edit", args=[webhook.pk])).content.decode()
    assert f'value="{webhook.url}"' in shown

    response = client.post(
        reverse("metrics:webhook_edit", args=[webhook.pk]),
        form("https://hooks.example.com/new", on_rollback="", on_outcome="on", active=""),
    )

    assert response.status_code == 302
    webhook = Webhook.objects.get(pk=webhook.pk)
    assert (webhook.url, webhook.on_rollback, webhook.on_outcome, webhook.active) == (
        "https://hooks.example.com/new",
        False,
        True,
        False,
    )
    assert webhook.read_secret() == secret


def test_a_new_secret_replaces_the_old_one(client: Client, owner: User, webhook: Webhook) -> None:
    old = webhook.read_secret()
    client.force_login(owner)

    response = client.post(reverse("metrics:webhook_new_secret", args=[webhook.pk]))

    new = Webhook.objects.get(pk=webhook.pk).read_secret()
    assert new != old
    assert new.startswith("whsec_")
    page = client.get(response["Location"]).content.decode()
    assert new in page
    assert old not in page


def test_the_owner_deletes_a_webhook_with_its_log(
    client: Client, owner: User, gate: Gate, webhook: Webhook, delivered: Delivery
) -> None:
    client.force_login(owner)

    response = client.post(reverse("metrics:webhook_delete", args=[webhook.pk]))

    assert response["Location"] == reverse("metrics:gate", args=[gate.pk])
    assert notifications_state() == {"webhooks": [], "deliveries": []}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "ftp://files.example.com/hook"}, "Enter an http:// or https:// URL"),
        ({"url": "not a url"}, "Enter a valid URL."),
        ({"url": ""}, "This field is required."),
        ({"on_rollback": ""}, "Choose at least one thing to send"),
        ({"url": "http://169.254.169.254/latest/meta-data/"}, METADATA_REFUSED),
        ({"url": "http://[fe80::1]/hook"}, METADATA_REFUSED),
        ({"url": "http://[::ffff:169.254.169.254]/hook"}, METADATA_REFUSED),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_is_stored(
    client: Client, owner: User, gate: Gate, fields: dict, message: str
) -> None:
    client.force_login(owner)

    with changes_nothing(notifications_state):
        response = client.post(
            reverse("metrics:webhook_create", args=[gate.pk]), {**form("https://ok.example/"), **fields}
        )

    assert response.status_code == 400
    assert message in response.content.decode()


def test_bad_input_to_a_change_is_refused_and_nothing_changes(client: Client, owner: User, webhook: Webhook) -> None:
    client.force_login(owner)

    with changes_nothing(notifications_state):
        response = client.post(reverse("metrics:webhook_edit", args=[webhook.pk]), form("ftp://files.example.com/"))

    assert response.status_code == 400
    assert "Enter an http:// or https:// URL" in response.content.decode()


def test_a_webhook_may_send_only_where_the_server_allows_webhooks(
    client: Client, owner: User, gate: Gate, settings
) -> None:
    settings.MBREAK_WEBHOOK_ALLOWED_HOSTS = ["hooks.example.com", "10.0.0.0/8"]
    client.force_login(owner)
    create = reverse("metrics:webhook_create", args=[gate.pk])

    with changes_nothing(notifications_state):
        refused = client.post(create, form("http://192.168.1.9/hook"))
    allowed = [client.post(create, form(url)) for url in ("https://hooks.example.com/x", "http://10.1.2.3/hook")]

    assert refused.status_code == 400
    assert (
        "This server does not allow webhooks to “192.168.1.9” (192.168.1.9): its administrator lists where they may "
        "send (MBREAK_WEBHOOK_ALLOWED_HOSTS)."
    ) in refused.content.decode()
    assert [response.status_code for response in allowed] == [302, 302]
    assert sorted(Webhook.objects.values_list("url", flat=True)) == [
        "http://10.1.2.3/hook",
        "https://hooks.example.com/x",
    ]


def test_a_stranger_cannot_add_a_webhook_to_someone_elses_gate(client: Client, stranger: User, gate: Gate) -> None:
    client.force_login(stranger)

    with changes_nothing(notifications_state):
        assert client.get(reverse("metrics:webhook_create", args=[gate.pk])).status_code == 403
        response = client.post(reverse("metrics:webhook_create", args=[gate.pk]), form("https://evil.example/"))

    assert response.status_code == 403


def test_a_stranger_can_neither_see_nor_change_a_gates_webhooks_and_nothing_changes(
    client: Client, stranger: User, webhook: Webhook, delivered: Delivery, receiver: Receiver
) -> None:
    client.force_login(stranger)

    with changes_nothing(notifications_state):
        for name in ("webhook", "webhook_edit"):
            assert client.get(reverse(f"metrics:{name}", args=[webhook.pk])).status_code == 404
        for name in ("webhook_edit", "webhook_delete", "webhook_new_secret"):
            response = client.post(reverse(f"metrics:{name}", args=[webhook.pk]), form("https://evil.example/"))
            assert response.status_code == 404
        response = client.post(reverse("metrics:delivery_send_again", args=[delivered.pk]))
        assert response.status_code == 404

    assert len(receiver.wait_for(2, seconds=0.3)) == 1  # nothing sent again


def test_the_secret_and_the_webhooks_never_show_on_another_users_pages(
    client: Client, stranger: User, gate: Gate, release: Release, delivered: Delivery, caplog
) -> None:
    webhook = delivered.webhook
    secret = webhook.read_secret()
    client.force_login(stranger)

    pages = [
        client.get(reverse("metrics:gate", args=[gate.pk])),
        client.get(reverse("metrics:release", args=[release.pk])),
        client.get(reverse("metrics:gates")),
    ]

    for page in pages:
        assert page.status_code == 200
        text = page.content.decode()
        assert secret not in text
        assert "Notifications" not in text
        assert "127.0.0.1" not in text
    assert secret not in caplog.text
    assert secret not in json.dumps([record.getMessage() for record in caplog.records])


def test_a_delivery_is_logged_without_the_secret_or_the_url(
    release: Release, gate: Gate, receiver: Receiver, caplog
) -> None:
    webhook = Webhook.objects.create(gate=gate, url=receiver.url + "?token=XXXXSECRETTOKEN")
    caplog.set_level(logging.INFO)

    observe(release, BAD_VALUE)
    release.answer(gate.owner)
    receiver.wait_for(1)

    assert "webhook delivery" in caplog.text
    assert webhook.read_secret() not in caplog.text
    assert "XXXXSECRETTOKEN" not in caplog.text
