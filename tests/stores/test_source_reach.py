"""What the server lets a data source make it do: ask only the hosts its settings allow
(`MBREAK_SOURCE_ALLOWED_HOSTS`), checked when the source is saved and each time it is asked, and
read CloudWatch with the server's own AWS identity only for staff (unless
`MBREAK_SOURCE_SERVER_CREDENTIALS`). A refusal says why in words; nothing is stored, and a store
it refuses is never sent a request (a real local HTTP server counts them)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from metrics.models import DataSource, PullOutcome, SourceAuth
from stores.errors import Kind
from tests.api.test_gates import bearer
from tests.metrics.test_data_sources import form_data, sources_state
from tests.metrics.test_pulling import bound_gate, started
from tests.refusals import changes_nothing

METADATA = "http://169.254.169.254"
CLOUDWATCH = {"name": "AWS", "kind": "cloudwatch", "url": "", "region": "eu-west-1"}


class Counting(BaseHTTPRequestHandler):
    """A Prometheus' address that counts what it is asked (and answers that it is not one)."""

    asked: list[str]

    def do_POST(self) -> None:
        self.asked.append(self.path)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listening() -> Iterator[tuple[str, list[str]]]:
    """The URL of a local server (by name: localhost), and the paths it was asked."""
    asked: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (Counting,), {"asked": asked}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def add_on_the_page(client: Client, user: User, **fields: str) -> Any:
    client.force_login(user)
    return client.post(reverse("metrics:source_create"), form_data(**fields))


# --- Where a source may be ---------------------------------------------------------------------


def test_by_default_a_source_may_be_on_this_machine(client: Client, owner: User, listening: tuple) -> None:
    url, _asked = listening

    response = add_on_the_page(client, owner, url=url)

    assert response.status_code == 302
    assert DataSource.objects.get().url == url


@pytest.mark.parametrize("url", [METADATA, "http://[::ffff:169.254.169.254]/", "http://[fd00:ec2::254]"])
def test_the_instance_metadata_service_is_refused_whatever_the_setting_and_nothing_is_stored(
    client: Client, owner: User, url: str
) -> None:
    with changes_nothing(sources_state):
        response = add_on_the_page(client, owner, url=url)

    assert response.status_code == 400
    [error] = response.context["form"].errors["url"]
    assert "is the address of the instance metadata service" in error
    assert "hands out the server's own credentials: a data source may not be there." in error


def test_a_host_outside_the_allowed_ones_is_refused_on_the_page_and_through_the_api(
    client: Client, owner: User, settings: Any, listening: tuple
) -> None:
    settings.MBREAK_SOURCE_ALLOWED_HOSTS = ["prometheus.internal", "10.0.0.0/8"]
    url, asked = listening

    with changes_nothing(sources_state):
        page = add_on_the_page(client, owner, url=url)
        api = client.post(
            reverse("api:sources"),
            {"name": "Here", "kind": "prometheus", "url": url},
            content_type="application/json",
            headers=bearer(owner),
        )

    [error] = page.context["form"].errors["url"]
    assert error.startswith("This server does not allow data sources at “localhost” (127.0.0.1")
    assert error.endswith("its administrator lists where they may be (MBREAK_SOURCE_ALLOWED_HOSTS).")
    assert api.status_code == 400
    assert [(e["field"], e["code"], e["message"]) for e in api.json()["errors"]] == [("url", "host_not_allowed", error)]
    assert asked == []


def test_a_listed_name_or_a_name_resolving_into_a_listed_network_is_taken(
    client: Client, owner: User, settings: Any
) -> None:
    settings.MBREAK_SOURCE_ALLOWED_HOSTS = ["prometheus.internal", "127.0.0.0/8", "::1"]

    by_name = add_on_the_page(client, owner, name="By name", url="http://prometheus.internal:9090")
    by_address = add_on_the_page(client, owner, name="By address", url="http://localhost:9090")

    assert (by_name.status_code, by_address.status_code) == (302, 302)
    assert DataSource.objects.count() == 2


def test_a_name_that_resolves_to_nothing_is_refused_when_the_hosts_are_limited(
    client: Client, owner: User, settings: Any
) -> None:
    settings.MBREAK_SOURCE_ALLOWED_HOSTS = ["10.0.0.0/8"]

    with changes_nothing(sources_state):
        response = add_on_the_page(client, owner, url="http://no-such-host.invalid:9090")

    assert response.context["form"].errors["url"] == [
        "“no-such-host.invalid” resolves to no address, so it cannot be checked against the hosts this server "
        "allows data sources at: check its name."
    ]


def test_a_cloudwatch_endpoint_is_held_to_the_same_hosts(owner: User, settings: Any) -> None:
    settings.MBREAK_SOURCE_ALLOWED_HOSTS = [".amazonaws.com"]
    source = DataSource(owner=owner, **CLOUDWATCH, auth=SourceAuth.ACCESS_KEY, username="AKIA", secret="x")
    source.url = "https://10.1.2.3"

    with pytest.raises(ValidationError) as refused:
        source.full_clean()

    assert "does not allow data sources at “10.1.2.3”" in refused.value.message_dict["url"][0]
    source.url = "https://vpce-1.monitoring.eu-west-1.vpce.amazonaws.com"
    source.full_clean()


def test_a_source_saved_before_its_host_was_refused_is_not_asked_and_says_why(
    owner: User, settings: Any, listening: tuple
) -> None:
    url, asked = listening
    source = DataSource.objects.create(owner=owner, name="Here", url=url, timeout_seconds=2)
    source.check_connection()
    assert (source.check_result, len(asked)) == (Kind.HTTP_STATUS, 1)  # allowed: asked (a 404)
    settings.MBREAK_SOURCE_ALLOWED_HOSTS = ["10.0.0.0/8"]

    source.check_connection()

    assert source.check_result == Kind.NOT_ALLOWED
    assert source.check_words.startswith(
        "This server does not ask that source. This server does not allow data sources at “localhost” (127.0.0.1"
    )
    assert len(asked) == 1  # not asked again


def test_a_pull_from_a_source_whose_host_is_refused_fails_saying_why_and_asks_nothing(
    owner: User, settings: Any, listening: tuple
) -> None:
    url, asked = listening
    release = started(bound_gate(owner, url))
    settings.MBREAK_SOURCE_ALLOWED_HOSTS = ["prometheus.internal"]

    [pull] = release.pull()

    assert (pull.outcome, pull.error_kind) == (PullOutcome.FAILED, Kind.NOT_ALLOWED)
    assert "does not allow data sources at “localhost”" in pull.detail
    assert asked == []


# --- The server's own AWS identity -------------------------------------------------------------


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("staff", is_staff=True)


def test_a_regular_user_may_not_read_cloudwatch_with_the_servers_own_identity(client: Client, owner: User) -> None:
    client.force_login(owner)

    with changes_nothing(sources_state):
        page = client.post(reverse("metrics:source_create"), form_data(**CLOUDWATCH, auth="environment"))
        api = client.post(
            reverse("api:sources"),
            {**CLOUDWATCH, "auth": "environment"},
            content_type="application/json",
            headers=bearer(owner),
        )

    message = (
        "Only staff may read CloudWatch with the server's own AWS identity (its environment or instance role): "
        "give an access key."
    )
    assert page.context["form"].errors["auth"] == [message]
    assert api.status_code == 400
    assert [(e["field"], e["code"], e["message"]) for e in api.json()["errors"]] == [
        ("auth", "server_credentials", message)
    ]


def test_the_page_offers_a_regular_user_an_access_key_alone_and_staff_both(
    client: Client, owner: User, staff: User
) -> None:
    pages = []
    for user in (owner, staff):
        client.force_login(user)
        pages.append(client.get(reverse("metrics:source_create")).content.decode())

    assert '"cloudwatch": ["access_key"]' in pages[0]
    assert '"cloudwatch": ["environment", "access_key"]' in pages[1]


def test_a_cloudwatch_source_made_through_the_api_without_credentials_asks_a_regular_user_for_a_key(
    client: Client, owner: User, staff: User
) -> None:
    regular = client.post(reverse("api:sources"), CLOUDWATCH, content_type="application/json", headers=bearer(owner))
    of_staff = client.post(reverse("api:sources"), CLOUDWATCH, content_type="application/json", headers=bearer(staff))

    assert regular.status_code == 400
    assert [error["field"] for error in regular.json()["errors"]] == ["username", "secret"]
    assert of_staff.status_code == 201, of_staff.json()
    assert of_staff.json()["auth"] == "environment"


def test_the_setting_lets_every_user_read_cloudwatch_with_the_servers_identity(
    client: Client, owner: User, settings: Any
) -> None:
    settings.MBREAK_SOURCE_SERVER_CREDENTIALS = True
    client.force_login(owner)

    response = client.post(reverse("metrics:source_create"), form_data(**CLOUDWATCH, auth="environment"))

    assert response.status_code == 302
    assert DataSource.objects.get().auth == SourceAuth.ENVIRONMENT


def test_a_source_of_the_servers_identity_whose_owner_is_no_longer_staff_is_not_asked(staff: User) -> None:
    source = DataSource(owner=staff, **CLOUDWATCH, auth=SourceAuth.ENVIRONMENT)
    source.full_clean()
    source.save()
    User.objects.filter(pk=staff.pk).update(is_staff=False)
    source = DataSource.objects.get(pk=source.pk)

    source.check_connection()

    assert source.check_result == Kind.NOT_ALLOWED
    assert "Only staff may read CloudWatch with the server's own AWS identity" in source.check_words
