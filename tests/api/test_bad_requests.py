"""Requests no client should send, answered as problem details (never an HTML page, never a
server error) with nothing stored."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, TokenScope
from metrics.models import Gate, ImportBatch, Metric, Observation
from tests.factories import TrainedModelFactory


def bearer(user: User, scope: str = TokenScope.WRITE) -> dict[str, str]:
    _token, secret = ApiToken.objects.issue(user, f"token {ApiToken.objects.count()}", scope)
    return {"Authorization": f"Bearer {secret}"}


def post_json(client: Client, url: str, text: str | bytes, user: User):
    return client.post(url, text, content_type="application/json", headers=bearer(user))


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"name": "Errors", "category": ', "JSON parse error"),  # cut short
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"name": "Errors\\ud800", "category": "web"}', "unpaired surrogate"),  # no database stores it
        ('{"name": "Errors", "category": "web", "x": NaN}', "JSON parse error"),
    ],
)
def test_a_body_that_cannot_be_read_is_a_parse_error_and_nothing_is_stored(
    client: Client, owner: User, text: str, words: str
) -> None:
    response = post_json(client, reverse("api:metrics"), text, owner)

    assert words in assert_problem(response, 400, "parse_error")["detail"]
    assert not Metric.objects.exists()


def test_a_body_over_the_size_limit_is_a_413_and_nothing_is_stored(client: Client, owner: User, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    text = '{"name": "Errors", "category": "%s"}' % ("x" * 2_000)

    response = post_json(client, reverse("api:metrics"), text, owner)

    assert assert_problem(response, 413, "too_large")["detail"] == "The request is too large: send at most 1000 bytes."
    assert not Metric.objects.exists()


def test_a_form_with_too_many_fields_is_a_problem(client: Client, metric: Metric, owner: User, settings) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    fields = {f"f{n}": "1" for n in range(20)}

    response = client.post(reverse("api:imports", args=[metric.pk]), fields, headers=bearer(owner))

    assert_problem(response, 400, "parse_error")
    assert not ImportBatch.objects.exists()


@pytest.mark.parametrize("body", ["0", "null", "[]", "false", '""'])
def test_activating_a_version_with_a_body_that_is_not_an_object_is_refused(
    client: Client, trained_metric: Metric, owner: User, body: str
) -> None:
    older = trained_metric.trained_models.get()
    newer = TrainedModelFactory.create(metric=trained_metric)

    response = post_json(client, reverse("api:activate", args=[older.pk]), body, owner)

    assert assert_problem(response, 400, "parse_error")["detail"] == "Send a JSON object."
    trained_metric.refresh_from_db()
    assert (trained_metric.active_model_id, trained_metric.is_active_model_pinned) == (newer.pk, False)


@pytest.mark.parametrize("method", ["OPTIONS", "PROPFIND", "TRACE"])
def test_a_path_the_api_does_not_have_is_a_404_whatever_the_method(client: Client, method: str) -> None:
    response = client.generic(method, "/api/v1/nothing-here/")

    assert_problem(response, 404, "not_found")


def test_a_server_error_in_the_api_is_a_problem_that_shows_nothing_of_the_bug(client: Client, owner: User) -> None:
    client.raise_request_exception = False
    with mock.patch("api.views.gates.GateList.get_queryset", side_effect=RuntimeError("a bug in the gate list")):
        response = client.get(reverse("api:gates"), headers=bearer(owner))

    body = assert_problem(response, 500, "server_error")
    assert "it has been logged" in body["detail"]
    assert "a bug" not in response.content.decode()


def test_a_misspelt_setting_is_refused_by_name_and_no_setting_changes(
    client: Client, metric: Metric, owner: User
) -> None:
    body = '{"rollout_threshold": 0.9, "rollback_treshold": 0.9}'

    response = client.patch(
        reverse("api:metric", args=[metric.pk]), body, content_type="application/json", headers=bearer(owner)
    )

    errors = assert_problem(response, 400, "invalid")["errors"]
    assert errors == [
        {
            "field": "rollback_treshold",
            "code": "unknown",
            "message": "Unknown field: this request has no field of that name.",
        }
    ]
    metric.refresh_from_db()
    assert (metric.rollback_threshold, metric.rollout_threshold) == (0.6, 0.8)  # as they were


def test_a_field_the_api_does_not_take_is_refused_and_nothing_is_stored(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    url = reverse("api:metric_verdicts", args=[trained_metric.pk])

    response = post_json(client, url, '{"value": 900, "minutes": 30, "minute": 5}', owner)

    assert [error["field"] for error in assert_problem(response, 400, "invalid")["errors"]] == ["minute"]
    assert not trained_metric.verdicts.exists()


def test_a_read_only_field_sent_back_is_refused_by_name(client: Client, trained_metric: Metric, owner: User) -> None:
    gate = post_json(
        client,
        reverse("api:gates"),
        json.dumps({"name": "Checkout", "metrics": [{"metric": trained_metric.pk}]}),
        owner,
    ).json()
    gate["name"] = "Payments"

    response = client.put(gate["url"], gate, content_type="application/json", headers=bearer(owner))

    errors = assert_problem(response, 400, "invalid")["errors"]
    assert {error["code"] for error in errors} == {"read_only"}
    assert "id" in {error["field"] for error in errors}
    assert client.get(gate["url"], headers=bearer(owner)).json()["name"] == "Checkout"


def test_a_number_too_large_for_an_id_says_how_large_it_may_be(client: Client, owner: User) -> None:
    body = '{"name": "Checkout", "metrics": [{"metric": 99999999999999999999}]}'

    response = post_json(client, reverse("api:gates"), body, owner)

    assert assert_problem(response, 400, "invalid")["errors"] == [
        {
            "field": "metrics.0.metric",
            "code": "type",
            "message": "Send a whole number from -9223372036854775807 to 9223372036854775807.",
        }
    ]


@pytest.mark.parametrize("accept", ["text/html", "application/problem+json", "application/xml"])
def test_an_accept_header_the_api_cannot_serve_still_gets_its_answer_in_json(
    client: Client, metric: Metric, owner: User, accept: str
) -> None:
    listed = client.get(reverse("api:metrics"), headers={**bearer(owner), "Accept": accept})
    anonymous = client.get(reverse("api:metrics"), headers={"Accept": accept})
    unknown = client.get("/api/v1/nothing-here/", headers={**bearer(owner), "Accept": accept})

    assert (listed.status_code, listed["Content-Type"]) == (200, "application/json")
    assert listed.json()["results"][0]["name"] == metric.name
    assert_problem(anonymous, 401, "not_authenticated")
    assert_problem(unknown, 404, "not_found")


@pytest.mark.parametrize("number", ["1e400", "1.5", "-1e400", "2.000001"])
def test_an_id_that_is_not_a_whole_number_is_refused_and_nothing_is_stored(
    client: Client, trained_metric: Metric, owner: User, number: str
) -> None:
    gate_body = json.dumps({"name": "Checkout", "metrics": [{"metric": trained_metric.pk}]})
    gate = post_json(client, reverse("api:gates"), gate_body, owner).json()
    release = post_json(client, gate["url"] + "releases/", '{"name": "web", "version": "v1"}', owner).json()
    observations = reverse("api:release_observations", args=[release["id"]])

    observed = post_json(client, observations, f'{{"metric": {number}, "value": 900}}', owner)
    payments = f'{{"name": "Payments", "metrics": [{{"metric": {number}}}]}}'
    made = post_json(client, reverse("api:gates"), payments, owner)

    expected = "Send a whole number from -9223372036854775807 to 9223372036854775807."
    assert assert_problem(observed, 400, "invalid")["errors"] == [
        {"field": "metric", "code": "type", "message": expected}
    ]
    assert assert_problem(made, 400, "invalid")["errors"] == [
        {"field": "metrics.0.metric", "code": "type", "message": expected}
    ]
    assert not Observation.objects.exists()
    assert Gate.objects.count() == 1


def test_an_id_written_with_a_decimal_point_but_whole_is_read_as_that_id(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    body = f'{{"name": "Checkout", "metrics": [{{"metric": {trained_metric.pk}.0}}]}}'

    response = post_json(client, reverse("api:gates"), body, owner)

    assert response.status_code == 201
    assert response.json()["metrics"][0]["metric"] == trained_metric.pk


@pytest.mark.parametrize("path", ["/api/v1/metrics/%0A/", "/api/v1/%0A", "/api/v1/gates/1/%0A/releases/", "/api/%0A"])
def test_a_path_with_an_encoded_newline_is_a_problem_not_the_html_page(client: Client, owner: User, path: str) -> None:
    response = client.get(path, headers=bearer(owner))

    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize("state", ["", "maybe"])
def test_a_verdict_log_filter_that_names_no_state_is_refused(
    client: Client, trained_metric: Metric, owner: User, state: str
) -> None:
    url = reverse("api:metric_verdicts", args=[trained_metric.pk])

    response = client.get(url, {"verdict": state}, headers=bearer(owner))

    assert assert_problem(response, 400, "invalid")["errors"][0]["field"] == "verdict"
