"""Data sources through the API: made, read, changed and deleted by their owner with a token of
the right scope; the secret write-only, never answered; anyone else gets a 404 and nothing changes."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.models import TokenScope
from metrics.models import DataSource, MetricQuery, SourceAuth
from tests.api.test_gates import bearer
from tests.factories import MetricFactory
from tests.metrics.test_data_sources import PASSWORD, TOKEN, make_source, sources_state, stored_secret_column
from tests.refusals import changes_nothing

PROMETHEUS = {"name": "Production Prometheus", "kind": "prometheus", "url": "http://prometheus.example:9090"}


def post(client: Client, headers: dict, body: dict):
    return client.post(reverse("api:sources"), body, content_type="application/json", headers=headers)


def test_the_owner_adds_a_source_and_its_secret_is_never_answered(client: Client, owner: User) -> None:
    response = post(client, bearer(owner), {**PROMETHEUS, "auth": "basic", "username": "me", "secret": PASSWORD})

    assert response.status_code == 201, response.json()
    source = DataSource.objects.get()
    answer = response.json()
    assert response["Location"] == answer["link"] == f"http://testserver/api/v1/sources/{source.pk}/"
    assert answer == {
        "id": source.pk,
        "name": "Production Prometheus",
        "kind": "prometheus",
        "url": "http://prometheus.example:9090",
        "region": "",
        "namespace": "",
        "auth": "basic",
        "username": "me",
        "has_secret": True,
        "ca_certificate": "",
        "timeout_seconds": 10.0,
        "last_check": None,
        "created_at": answer["created_at"],
        "link": answer["link"],
    }
    assert source.owner == owner
    assert source.read_secret() == PASSWORD
    assert PASSWORD not in stored_secret_column(source)
    assert source.secret not in response.content.decode()


def test_a_cloudwatch_source_made_by_staff_without_credentials_takes_the_servers_environment(
    client: Client, owner: User
) -> None:
    User.objects.filter(pk=owner.pk).update(is_staff=True)  # a regular user's: tests/stores/test_source_reach.py

    response = post(client, bearer(owner), {"name": "AWS", "kind": "cloudwatch", "region": "eu-west-1"})

    assert response.status_code == 201, response.json()
    assert response.json()["auth"] == "environment"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://admin:hunter2@prometheus.example"}, "url"),
        ({"url": ""}, "url"),
        ({"auth": "bearer"}, "secret"),
        ({"auth": "environment"}, "auth"),
        (
            {
                "kind": "cloudwatch",
                "url": "",
                "region": "Ireland",
                "auth": "access_key",
                "username": "A",
                "secret": "x",
            },
            "region",
        ),
        ({"ca_certificate": "not PEM"}, "ca_certificate"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"secret": 12}, "secret"),  # not a string
        ({"has_secret": False}, "has_secret"),  # read-only
        ({"password": PASSWORD}, "password"),  # unknown: the field is `secret`
    ],
)
def test_a_bad_source_is_refused_on_its_field_and_nothing_stored(
    client: Client, owner: User, body: dict, field: str
) -> None:
    with changes_nothing(sources_state):
        response = post(client, bearer(owner), {**PROMETHEUS, **body})

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert PASSWORD not in response.content.decode()


def test_a_name_the_owner_has_is_a_conflict(client: Client, owner: User) -> None:
    make_source(owner, "Production Prometheus")

    with changes_nothing(sources_state):
        response = post(client, bearer(owner), {**PROMETHEUS, "name": "production PROMETHEUS"})

    assert response.status_code == 409
    assert response.json()["code"] == "duplicate"


def test_the_owner_lists_reads_and_changes_a_source_keeping_its_secret(client: Client, owner: User) -> None:
    source = make_source(owner, auth=SourceAuth.BEARER, secret=TOKEN)
    make_source(MetricFactory.create().owner, "Someone else's")
    url = reverse("api:source", args=[source.pk])

    listed = client.get(reverse("api:sources"), headers=bearer(owner, TokenScope.READ))
    read = client.get(url, headers=bearer(owner, TokenScope.READ))
    patched = client.patch(
        url, {"name": "Renamed", "timeout_seconds": 3}, content_type="application/json", headers=bearer(owner)
    )
    put = client.put(url, {**PROMETHEUS, "auth": "bearer"}, content_type="application/json", headers=bearer(owner))

    assert [item["name"] for item in listed.json()["results"]] == ["Production Prometheus"]
    assert read.json()["has_secret"] is True
    assert patched.status_code == 200, patched.json()
    assert (patched.json()["name"], patched.json()["timeout_seconds"]) == ("Renamed", 3.0)
    assert put.status_code == 200, put.json()
    source.refresh_from_db()
    assert (source.name, source.timeout_seconds) == ("Production Prometheus", 10.0)
    assert source.read_secret() == TOKEN
    for response in (listed, read, patched, put):
        assert TOKEN not in response.content.decode()
        assert source.secret not in response.content.decode()


def test_a_new_secret_replaces_the_stored_one_and_an_empty_one_forgets_it(client: Client, owner: User) -> None:
    source = make_source(owner, auth=SourceAuth.BEARER, secret=TOKEN)
    url = reverse("api:source", args=[source.pk])

    replaced = client.patch(url, {"secret": "another"}, content_type="application/json", headers=bearer(owner))
    source.refresh_from_db()
    assert replaced.status_code == 200
    assert source.read_secret() == "another"

    with changes_nothing(sources_state):
        refused = client.patch(url, {"secret": ""}, content_type="application/json", headers=bearer(owner))
    forgotten = client.patch(
        url, {"auth": "none", "secret": ""}, content_type="application/json", headers=bearer(owner)
    )

    assert [error["field"] for error in refused.json()["errors"]] == ["secret"]
    assert forgotten.json()["has_secret"] is False
    assert DataSource.objects.get().secret == ""


def test_changing_the_kind_of_credentials_needs_the_new_secret(client: Client, owner: User) -> None:
    source = make_source(owner, auth=SourceAuth.BASIC, username="me", secret=PASSWORD)

    with changes_nothing(sources_state):
        response = client.patch(
            reverse("api:source", args=[source.pk]),
            {"auth": "bearer"},
            content_type="application/json",
            headers=bearer(owner),
        )

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Enter the bearer token."


def test_a_stranger_gets_404_for_every_operation_and_nothing_changes(
    client: Client, owner: User, stranger: User
) -> None:
    source = make_source(owner, auth=SourceAuth.BEARER, secret=TOKEN)
    url = reverse("api:source", args=[source.pk])
    headers = bearer(stranger)

    with changes_nothing(sources_state):
        attempts = [
            client.get(url, headers=headers),
            client.patch(url, {"name": "Mine"}, content_type="application/json", headers=headers),
            client.put(url, PROMETHEUS, content_type="application/json", headers=headers),
            client.delete(url, headers=headers),
            client.post(reverse("api:source_test", args=[source.pk]), headers=headers),
        ]
        listed = client.get(reverse("api:sources"), headers=headers)

    assert [response.status_code for response in attempts] == [404] * 5
    assert listed.json()["results"] == []
    assert all(TOKEN not in response.content.decode() for response in [*attempts, listed])


def test_a_read_only_token_reads_but_changes_nothing_and_no_token_is_401(client: Client, owner: User) -> None:
    source = make_source(owner)
    url = reverse("api:source", args=[source.pk])
    read_only = bearer(owner, TokenScope.READ)

    with changes_nothing(sources_state):
        attempts = [
            post(client, read_only, {**PROMETHEUS, "name": "Another"}),
            client.patch(url, {"name": "Mine"}, content_type="application/json", headers=read_only),
            client.delete(url, headers=read_only),
            client.post(reverse("api:source_test", args=[source.pk]), headers=read_only),
            client.get(url),
        ]

    assert [response.status_code for response in attempts] == [403, 403, 403, 403, 401]
    assert client.get(url, headers=read_only).status_code == 200


def test_deleting_a_source_a_metric_is_bound_to_is_a_conflict_naming_it(client: Client, owner: User) -> None:
    source = make_source(owner)
    MetricQuery.objects.create(metric=MetricFactory.create(owner=owner, name="Error rate"), source=source, query="up")
    url = reverse("api:source", args=[source.pk])

    with changes_nothing(sources_state):
        refused = client.delete(url, headers=bearer(owner))
    MetricQuery.objects.all().delete()
    deleted = client.delete(url, headers=bearer(owner))

    assert refused.status_code == 409
    assert refused.json()["code"] == "in_use"
    assert "“Error rate”" in refused.json()["detail"]
    assert deleted.status_code == 204
    assert not DataSource.objects.exists()


def test_the_schema_shows_the_secret_as_write_only(client: Client) -> None:
    schema = client.get(reverse("api:schema"), headers={"Accept": "application/vnd.oai.openapi+json"}).json()

    answer = schema["components"]["schemas"]["DataSource"]["properties"]
    sent = schema["components"]["schemas"]["DataSourceRequest"]["properties"]
    assert "secret" not in answer
    assert answer["has_secret"]["readOnly"] is True
    assert "secret" in sent
    assert "/api/v1/sources/{source_id}/test/" in json.dumps(schema["paths"])


def test_a_new_url_needs_the_secret_again_and_nothing_changes_until_it_is_sent(client: Client, owner: User) -> None:
    source = make_source(owner, auth=SourceAuth.BEARER, secret=TOKEN)
    url = reverse("api:source", args=[source.pk])
    elsewhere = {"url": "http://elsewhere.example:9090"}

    with changes_nothing(sources_state):
        refused = client.patch(url, elsewhere, content_type="application/json", headers=bearer(owner))
        put = client.put(
            url, {**PROMETHEUS, **elsewhere, "auth": "bearer"}, content_type="application/json", headers=bearer(owner)
        )
    sent = client.patch(
        url, {**elsewhere, "secret": "its-token"}, content_type="application/json", headers=bearer(owner)
    )

    for response in (refused, put):
        assert response.status_code == 400
        assert [(error["field"], error["code"]) for error in response.json()["errors"]] == [("secret", "place_changed")]
    assert sent.status_code == 200, sent.json()
    source.refresh_from_db()
    assert (source.url, source.read_secret()) == ("http://elsewhere.example:9090", "its-token")
