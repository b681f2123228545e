"""The JSON API, v1: tokens, the same permission rules as the pages, problem-details errors."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken, TokenScope
from api.throttling import PerTokenThrottle
from metrics.models import Indicator, Metric, TrainedModel, Verdict
from predictor.columns import ROLLBACK, ROLLOUT
from tests.data import noise_data
from tests.factories import MetricFactory
from tests.metrics.test_verdicts import fitted, version_with_tree
from tests.refusals import changes_nothing

METRICS_URL = reverse("api:metrics")


def bearer(user: User, scope: str = TokenScope.WRITE, **options) -> dict[str, str]:
    _token, secret = ApiToken.objects.issue(user, f"token {ApiToken.objects.count()}", scope, **options)
    return {"Authorization": f"Bearer {secret}"}


def ask_url(metric: Metric) -> str:
    return reverse("api:metric_verdicts", args=[metric.pk])


def ask(client: Client, metric: Metric, body: dict[str, Any], headers: dict[str, str]):
    """Ask the API for a verdict on `body`: an observation, as JSON."""
    return client.post(ask_url(metric), body, content_type="application/json", headers=headers)


def state() -> dict[str, list]:
    return {
        "metrics": list(Metric.objects.order_by("pk").values_list("pk", "name", "owner_id")),
        "verdicts": list(Verdict.objects.order_by("pk").values_list("pk", "decided")),
        "indicators": list(Indicator.objects.order_by("pk").values_list("pk")),
    }


def test_without_credentials_the_api_answers_401_as_problem_details(client: Client, metric: Metric) -> None:
    response = client.get(METRICS_URL)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "code": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
    }


@pytest.mark.parametrize("how", ["revoked", "expired", "unknown", "inactive user"])
def test_a_revoked_expired_or_unknown_token_is_refused(client: Client, owner: User, how: str) -> None:
    headers = bearer(owner, expires_at=timezone.now() - timedelta(seconds=1) if how == "expired" else None)
    if how == "revoked":
        ApiToken.objects.get().revoke()
    if how == "unknown":
        headers = {"Authorization": "Bearer mb_not-a-token"}
    if how == "inactive user":
        User.objects.filter(pk=owner.pk).update(is_active=False)

    response = client.get(METRICS_URL, headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert response.json()["detail"] == "This token is unknown, expired or revoked."


def test_a_token_lists_the_shared_catalogue_and_records_its_use(
    client: Client, stranger: User, trained_metric: Metric
) -> None:
    headers = bearer(stranger, TokenScope.READ)

    response = client.get(METRICS_URL, headers=headers)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    listed = body["results"][0]
    assert listed["name"] == "Requests per minute"
    assert listed["owner"] == "owner"
    assert listed["indicator_count"] == 200
    assert listed["answering_model"]["version"] == 1
    assert listed["answering_model"]["is_stale"] is False
    assert listed["created_at"].endswith("Z") or listed["created_at"].endswith("+00:00")
    assert listed["url"] == "http://testserver" + reverse("api:metric", args=[trained_metric.pk])
    assert ApiToken.objects.get().last_used_at is not None


def test_the_metric_list_filters_and_paginates_with_next_links(client: Client, owner: User) -> None:
    for number in range(55):
        MetricFactory.create(owner=owner, name=f"Latência {number}", category="Latency")
    MetricFactory.create(owner=owner, name="Error rate", category="Errors")
    headers = bearer(owner)

    first = client.get(METRICS_URL, {"name": "LATÊNCIA"}, headers=headers).json()
    second = client.get(first["next"], headers=headers).json()

    assert first["count"] == 55
    assert len(first["results"]) == 50
    assert len(second["results"]) == 5
    assert second["next"] is None
    assert client.get(METRICS_URL, {"category": "error"}, headers=headers).json()["count"] == 1


@pytest.mark.parametrize("page", ["", "abc", "0", "9"])
def test_a_page_that_is_not_there_is_404(client: Client, metric: Metric, owner: User, page: str) -> None:
    response = client.get(METRICS_URL, {"page": page}, headers=bearer(owner))

    assert response.status_code == 404
    assert response.json()["detail"] == "Invalid page."


def test_a_metric_is_created_owned_by_the_caller(client: Client, contributor: User) -> None:
    response = client.post(
        METRICS_URL,
        {"name": " p95  latency ", "category": "Latency"},
        content_type="application/json",
        headers=bearer(contributor),
    )

    assert response.status_code == 201
    metric = Metric.objects.get()
    assert (metric.name, metric.category, metric.owner) == ("p95 latency", "Latency", contributor)
    assert response["Location"] == response.json()["url"]
    assert response.json()["answering_model"] is None


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"category": "Latency"}, "name", "required"),
        ({"name": "Errors"}, "category", "required"),
        ({"name": "", "category": "Latency"}, "name", "required"),
    ],
)
def test_a_bad_metric_is_refused_with_field_errors_and_nothing_stored(
    client: Client, metric: Metric, contributor: User, body: dict, field: str, code: str
) -> None:
    with changes_nothing(state):
        response = client.post(METRICS_URL, body, content_type="application/json", headers=bearer(contributor))

    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "invalid"
    assert [(error["field"], error["code"]) for error in problem["errors"]] == [
        ("" if field == "__all__" else field, code)
    ]


def test_a_metric_that_exists_already_is_a_conflict_and_nothing_stored(
    client: Client, metric: Metric, contributor: User
) -> None:
    body = {"name": "requests  per minute", "category": "traffic"}
    with changes_nothing(state):
        response = client.post(METRICS_URL, body, content_type="application/json", headers=bearer(contributor))

    assert response.status_code == 409
    assert response.json()["code"] == "duplicate"
    assert "already exists" in response.json()["detail"]


@pytest.fixture
def check_that_misses_a_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    """The race: another request stores the same metric between this one's check and its insert."""
    monkeypatch.setattr(Metric, "validate_constraints", lambda self, exclude=None: None)
    monkeypatch.setattr(Metric, "clean", lambda self: None)


@pytest.mark.usefixtures("check_that_misses_a_duplicate")
def test_a_metric_made_by_another_request_since_the_check_is_a_conflict_and_nothing_stored(
    client: Client, metric: Metric, contributor: User
) -> None:
    before = state()
    body = {"name": "Requests per minute", "category": "Traffic"}

    response = client.post(METRICS_URL, body, content_type="application/json", headers=bearer(contributor))

    assert response.status_code == 409
    assert response.json()["code"] == "duplicate"
    assert response.json()["detail"] == "A metric named “Requests per minute” already exists in the category “Traffic”."
    assert state() == before


def test_only_the_owner_deletes_a_metric(client: Client, metric: Metric, stranger: User, owner: User) -> None:
    before = state()

    refused = client.delete(reverse("api:metric", args=[metric.pk]), headers=bearer(stranger))

    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert refused.json()["detail"] == "Only the metric's owner may delete it."
    assert state() == before
    assert client.delete(reverse("api:metric", args=[metric.pk]), headers=bearer(owner)).status_code == 204
    assert not Metric.objects.exists()


# --- Verdict settings ---------------------------------------------------------------------

SETTINGS = ("rollback_threshold", "rollout_threshold", "min_leaf_cases", "range_margin", "refuse_stale")


def settings_of(metric: Metric) -> tuple:
    return tuple(Metric.objects.values_list(*SETTINGS).get(pk=metric.pk))


def test_the_owner_changes_some_verdict_settings_and_the_next_verdict_applies_them(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    url = reverse("api:metric", args=[trained_metric.pk])

    response = client.patch(
        url, {"rollout_threshold": 0.95, "min_leaf_cases": 8}, content_type="application/json", headers=bearer(owner)
    )

    assert response.status_code == 200
    assert response.json()["verdict_settings"] == {
        "rollback_threshold": 0.6,
        "rollout_threshold": 0.95,
        "min_leaf_cases": 8,
        "range_margin": 0.1,
        "refuse_stale": False,
        "bad_direction": "either",
    }
    assert settings_of(trained_metric) == (0.6, 0.95, 8, 0.1, False)
    asked = ask(client, trained_metric, {"value": 900, "minutes": 30}, bearer(owner))
    stored = Verdict.objects.get(pk=asked.json()["id"])
    assert (stored.thresholds["rollout_threshold"], stored.thresholds["min_leaf_cases"]) == (0.95, 8)
    assert client.get(url, headers=bearer(owner)).json()["verdict_settings"]["rollout_threshold"] == 0.95


@pytest.mark.parametrize("who", ["stranger", "read-only token", "anonymous"])
def test_only_the_owner_with_a_write_token_changes_the_verdict_settings(
    client: Client, metric: Metric, owner: User, stranger: User, who: str
) -> None:
    before = (state(), settings_of(metric))
    headers = {"stranger": bearer(stranger), "read-only token": bearer(owner, TokenScope.READ), "anonymous": {}}[who]

    response = client.patch(
        reverse("api:metric", args=[metric.pk]),
        {"refuse_stale": True},
        content_type="application/json",
        headers=headers,
    )

    assert response.status_code == {"stranger": 403, "read-only token": 403, "anonymous": 401}[who]
    if who == "stranger":
        assert response.json()["detail"] == "Only the metric's owner may change its settings and its active version."
    assert (state(), settings_of(metric)) == before


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"rollback_threshold": 0.3}, "rollback_threshold", "Ensure this value is greater than or equal to 0.5."),
        ({"range_margin": 11}, "range_margin", "Ensure this value is less than or equal to 10.0."),
        ({"min_leaf_cases": 2.5}, "min_leaf_cases", "Enter a whole number."),
        ({"min_leaf_cases": 2**31}, "min_leaf_cases", "Ensure this value is less than or equal to 2147483647."),
        ({"refuse_stale": "yes"}, "refuse_stale", "Send true or false."),
        ({"rollout_threshold": "0.9"}, "rollout_threshold", "Send a number."),
    ],
)
def test_a_bad_verdict_setting_is_refused_and_nothing_changes(
    client: Client, metric: Metric, owner: User, body: dict, field: str, message: str
) -> None:
    before = settings_of(metric)

    response = client.patch(
        reverse("api:metric", args=[metric.pk]),
        {**body, "rollout_threshold": body.get("rollout_threshold", 0.9)},
        content_type="application/json",
        headers=bearer(owner),
    )

    assert response.status_code == 400
    assert [(error["field"], error["message"]) for error in response.json()["errors"]] == [(field, message)]
    assert settings_of(metric) == before


def test_an_unknown_metric_is_404(client: Client, owner: User) -> None:
    response = client.get(reverse("api:metric", args=[999_999]), headers=bearer(owner))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_asking_gives_the_three_state_verdict_with_its_reasons_and_logs_it(
    client: Client, trained_metric: Metric, contributor: User
) -> None:
    response = ask(client, trained_metric, {"value": 250, "minutes": 30}, bearer(contributor))

    assert response.status_code == 201
    body = response.json()
    verdict = Verdict.objects.get()
    assert body["verdict"] == verdict.state == "rollback"
    assert body["id"] == verdict.pk
    assert body["reasons"] == []
    assert body["rule"]
    assert body["similar_cases"]["rollbacks"] > body["similar_cases"]["rollouts"]
    assert (body["model_version"], body["is_stale"], body["source"]) == (1, False, "api")
    assert (verdict.asked_by, verdict.source) == (contributor, "api")
    assert response["Location"] == body["url"] == "http://testserver" + reverse("api:verdict", args=[verdict.pk])
    assert client.get(body["url"], headers=bearer(contributor)).json() == body


def test_an_observation_outside_what_the_model_has_seen_is_inconclusive_and_says_why(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    response = ask(client, trained_metric, {"value": 50_000, "minutes": 30}, bearer(owner))

    body = response.json()
    assert body["verdict"] == "inconclusive"
    assert body["leaning"] in ("rollback", "rollout")
    assert [reason["code"] for reason in body["reasons"]] == ["value_out_of_range"]
    assert body["reasons"][0]["message"].startswith("The value 50000 lies outside what the model has seen")


def test_a_model_trained_on_noise_gives_no_firm_answer_and_says_its_accuracy_could_be_chance(
    client: Client, metric: Metric, owner: User
) -> None:
    metric.import_indicators(noise_data(), owner)
    TrainedModel.objects.train(metric, owner)

    # In the leaf of 6 rollouts out of 6.
    response = ask(client, metric, {"value": 700, "minutes": 30}, {**bearer(owner), "Accept-Language": "pt-BR"})

    body = response.json()
    assert (body["verdict"], body["leaning"], body["similar_cases"]) == (
        "inconclusive",
        "rollout",
        {"rollbacks": 0, "rollouts": 6},
    )
    assert body["reasons"] == [
        {
            "code": "could_be_chance",
            "message": "A acurácia do modelo, 66,7% em 14 casos, pode ser acaso: com 95% de confiança, só se sabe "
            "que passa de 40,9%, e responder sempre a decisão mais comum acerta 50,0%.",
        }
    ]


def test_the_rule_gives_its_numbers_as_people_write_them_in_words_and_plain_in_its_conditions(
    client: Client, metric: Metric, owner: User
) -> None:
    # Split between 48.1 and 48.3 minutes: kept by the tree as 48.19999885559082.
    version_with_tree(metric, fitted([(500.0, 48.1, ROLLBACK)] * 5 + [(500.0, 48.3, ROLLOUT)] * 5))

    response = ask(client, metric, {"value": 500, "minutes": 40}, {**bearer(owner), "Accept-Language": "pt-BR"})

    body = response.json()
    assert body["rule"] == "o tempo fica abaixo de 48,2 minutos"
    assert body["conditions"] == [{"feature": "minutes", "lower": None, "upper": {"number": 48.2, "inclusive": False}}]
    assert "48.19999" not in response.content.decode()


def test_a_verdict_from_a_version_already_read_reads_the_token_and_the_metric_and_stores_itself(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    """The token, the metric (as stored now: its settings, its data version, its active
    version), and the verdict stored. The version, its tree and its sample with who
    registered each case are read once per process: no more, whatever the metric holds."""
    url = reverse("api:metric_verdicts", args=[trained_metric.pk])
    headers = bearer(owner)
    client.post(url, {"value": 500, "minutes": 30}, content_type="application/json", headers=headers)

    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, {"value": 900, "minutes": 20}, content_type="application/json", headers=headers)

    assert response.status_code == 201
    statements = [
        (query["sql"].split()[0], re.findall(r'(?:FROM|INTO) "(\w+)"', query["sql"])[0])
        for query in captured
        if query["sql"].split()[0] in ("SELECT", "INSERT", "UPDATE")
    ]
    assert statements == [
        ("SELECT", "accounts_apitoken"),
        ("SELECT", "metrics_metric"),
        ("INSERT", "metrics_verdict"),
    ], [query["sql"][:120] for query in captured]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": 250}, "minutes"),
        ({"value": 250, "minutes": -1}, "minutes"),
        ({"value": "many", "minutes": 3}, "value"),
    ],
)
def test_a_bad_observation_is_refused_and_no_verdict_logged(
    client: Client, trained_metric: Metric, owner: User, body: dict, field: str
) -> None:
    response = ask(client, trained_metric, body, bearer(owner))

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert not Verdict.objects.exists()


def test_a_metric_without_a_model_answers_409_no_model(client: Client, metric: Metric, owner: User) -> None:
    response = ask(client, metric, {"value": 1, "minutes": 1}, bearer(owner))

    assert response.status_code == 409
    assert response.json()["code"] == "no_model"
    assert not Verdict.objects.exists()


def test_a_read_only_token_reads_but_cannot_ask_or_change_anything(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    headers = bearer(owner, TokenScope.READ)
    before = state()

    asked = ask(client, trained_metric, {"value": 1, "minutes": 1}, headers)
    deleted = client.delete(reverse("api:metric", args=[trained_metric.pk]), headers=headers)

    assert (asked.status_code, deleted.status_code) == (403, 403)
    assert asked.json()["code"] == "read_only_token"
    assert state() == before
    assert client.get(ask_url(trained_metric), headers=headers).status_code == 200


def test_a_metric_filter_with_a_null_character_is_refused_not_ignored(client: Client, owner: User) -> None:
    MetricFactory.create(owner=owner, name="Error rate", category="Errors")

    response = client.get(METRICS_URL, {"name": "Error\x00"}, headers=bearer(owner))

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "name", "code": "null_characters_not_allowed", "message": "Null characters are not allowed."}
    ]


def test_the_verdict_log_lists_newest_first_and_filters_by_state(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    headers = bearer(owner)
    for value in (250, 900, 50_000):
        ask(client, trained_metric, {"value": value, "minutes": 30}, headers)

    log = client.get(ask_url(trained_metric), headers=headers).json()
    rollouts = client.get(ask_url(trained_metric), {"verdict": "rollout"}, headers=headers).json()
    bad = client.get(ask_url(trained_metric), {"verdict": "maybe"}, headers=headers)

    assert [verdict["value"] for verdict in log["results"]] == [50_000, 900, 250]
    assert [verdict["value"] for verdict in rollouts["results"]] == [900]
    assert bad.status_code == 400


def test_feedback_is_recorded_once_by_who_asked_and_makes_one_indicator(
    client: Client, trained_metric: Metric, contributor: User, stranger: User
) -> None:
    asked = ask(client, trained_metric, {"value": 250, "minutes": 30}, bearer(contributor)).json()
    feedback_url = reverse("api:feedback", args=[asked["id"]])
    indicators = Indicator.objects.count()

    refused = client.post(
        feedback_url, {"decided": "rollout"}, content_type="application/json", headers=bearer(stranger)
    )
    invalid = client.post(
        feedback_url, {"decided": "maybe"}, content_type="application/json", headers=bearer(contributor)
    )
    given = client.post(
        feedback_url,
        {"decided": "rollout", "note": "false alarm"},
        content_type="application/json",
        headers=bearer(contributor),
    )
    again = client.post(
        feedback_url, {"decided": "rollback"}, content_type="application/json", headers=bearer(contributor)
    )

    assert (refused.status_code, invalid.status_code, given.status_code, again.status_code) == (403, 400, 200, 409)
    assert given.json()["decided"] == "rollout"
    assert again.json()["code"] == "feedback_already_given"
    assert Indicator.objects.count() == indicators + 1
    assert Verdict.objects.get().feedback_note == "false alarm"


def test_over_the_rate_a_token_gets_429_with_retry_after(
    client: Client, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PerTokenThrottle, "THROTTLE_RATES", {"token": "2/minute"})
    headers = bearer(owner)
    other = bearer(owner)

    answers = [client.get(METRICS_URL, headers=headers) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2].json()["code"] == "throttled"
    assert 0 < int(answers[2]["Retry-After"]) <= 60
    assert client.get(METRICS_URL, headers=other).status_code == 200  # counted per token


def test_the_schema_and_its_docs_are_served_without_any_cdn(client: Client, owner: User) -> None:
    schema = client.get(reverse("api:schema"), headers={"Accept": "application/vnd.oai.openapi+json"})
    client.force_login(owner)
    docs = client.get(reverse("api:docs"))

    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert "/api/v1/metrics/{metric_id}/verdicts/" in schema.json()["paths"]
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "swagger-ui" in page
    assert "https://" not in page.split("<body", 1)[0]  # every asset from this server
    assert '<html lang="en">' in page  # Swagger UI and the API's descriptions are in English


def test_every_operation_documents_its_failures_as_problem_details(client: Client, db: None) -> None:
    schema = client.get(reverse("api:schema"), headers={"Accept": "application/vnd.oai.openapi+json"}).json()

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status in ("401", "403", "404", "429"):
                content = operation["responses"][status]["content"]["application/problem+json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Problem"}, (method, path, status)
    assert "format" not in str(schema["paths"]["/api/v1/metrics/{metric_id}/indicators.csv"])


def test_the_schema_says_what_answers_always_hold_and_what_bodies_may_not(client: Client) -> None:
    schemas = client.get(reverse("api:schema"), headers={"Accept": "application/vnd.oai.openapi+json"}).json()
    components = schemas["components"]["schemas"]

    assert components["Import"]["properties"]["job"]["nullable"] is True  # imported by the command line
    assert {"pass_score", "marginal_score", "metrics"} <= set(components["Gate"]["required"])
    assert "started_at" in components["Release"]["required"]
    assert components["GateInputRequest"]["additionalProperties"] is False
    assert components["GateMetricRequest"]["additionalProperties"] is False
    assert components["PatchedVerdictSettingsRequest"]["additionalProperties"] is False


def test_the_schema_refuses_what_the_server_refuses_an_empty_metric_list_and_an_empty_filter(
    client: Client, owner: User
) -> None:
    schema = client.get(reverse("api:schema"), headers={"Accept": "application/vnd.oai.openapi+json"}).json()
    components = schema["components"]["schemas"]
    operations = schema["paths"]

    for method in ("put", "patch"):
        body = operations["/api/v1/gates/{gate_id}/"][method]["requestBody"]["content"]["application/json"]["schema"]
        assert components[body["$ref"].rsplit("/", 1)[1]]["properties"]["metrics"]["minItems"] == 1
    created = operations["/api/v1/gates/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert components[created["$ref"].rsplit("/", 1)[1]]["properties"]["metrics"]["minItems"] == 1
    assert "minItems" not in components["Gate"]["properties"]["metrics"]  # a gate may have lost its metrics
    parameters = operations["/api/v1/metrics/{metric_id}/verdicts/"]["get"]["parameters"]
    (state,) = [parameter for parameter in parameters if parameter["name"] == "verdict"]
    assert "" not in state["schema"]["enum"]
    assert not state.get("allowEmptyValue", False)
    empty = {"name": "Checkout", "metrics": []}
    refused = client.post(reverse("api:gates"), empty, content_type="application/json", headers=bearer(owner))
    assert refused.status_code == 400


def test_a_path_the_api_does_not_have_is_a_problem_details_404(client: Client, owner: User) -> None:
    for path in ("/api/v1/metrics/null,null/", "/api/v1/nothing-here"):
        response = client.get(path, headers=bearer(owner))

        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"
