"""Each rule is written once, on the model, and every caller runs it: a limit changed in its one
place changes the page, the API and the OpenAPI schema alike, with the same message."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, cast

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.validators import MaxLengthValidator, MaxValueValidator
from django.test import Client
from django.urls import reverse

from metrics.models import GateMetric, Metric
from metrics.models.indicator import MAX_BULK_INDICATORS, VALUE_VALIDATORS
from metrics.models.metric import LARGEST_MIN_LEAF_CASES
from metrics.models.verdict import Verdict
from tests.api.test_gates import bearer
from tests.metrics.test_gate_pages import form_data

if TYPE_CHECKING:
    from django.db.models import Field


def components(client: Client) -> dict[str, Any]:
    schema = client.get(reverse("api:schema"), headers={"Accept": "application/vnd.oai.openapi+json"})
    return dict(schema.json()["components"]["schemas"])


def field_limit(model: type[Metric | GateMetric], field: str, kind: type) -> Any:
    """The model field's own validator of that kind: the one place its limit is written."""
    validators = cast("Field[Any, Any]", model._meta.get_field(field)).validators
    return next(validator for validator in validators if isinstance(validator, kind))


def api_errors(response: Any) -> list[tuple[str, str, str]]:
    return [(error["field"], error["code"], error["message"]) for error in response.json()["errors"]]


def post_to_page_and_api(
    client: Client, page: tuple[str, dict], api: tuple[str, dict], headers: dict[str, str] | None = None
) -> tuple[Any, Any]:
    """The same input sent twice: to the page's form (url, fields), then as JSON to the API (url, body)."""
    page_url, fields = page
    api_url, body = api
    return client.post(page_url, fields), client.post(api_url, body, content_type="application/json", headers=headers)


def test_the_schema_states_the_limits_the_models_hold(client: Client, owner: User) -> None:
    client.force_login(owner)

    schemas = components(client)

    name_limit = Metric._meta.get_field("name").max_length
    assert schemas["MetricInputRequest"]["properties"]["name"]["maxLength"] == name_limit
    assert schemas["PatchedVerdictSettingsRequest"]["properties"]["min_leaf_cases"]["maximum"] == LARGEST_MIN_LEAF_CASES
    weight_limit = field_limit(GateMetric, "weight", MaxValueValidator).limit_value
    assert schemas["GateMetricRequest"]["properties"]["weight"]["maximum"] == weight_limit
    assert schemas["IndicatorInputRequest"]["properties"]["value"]["maximum"] == VALUE_VALIDATORS[1].limit_value
    assert schemas["IndicatorsInputRequest"]["properties"]["indicators"]["maxItems"] == MAX_BULK_INDICATORS
    assert schemas["FeedbackRequest"]["properties"]["note"]["maxLength"] == Verdict.NOTE_MAX_LENGTH


def test_a_metric_name_limit_changed_on_the_model_changes_the_page_the_api_and_the_schema(
    client: Client, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(field_limit(Metric, "name", MaxLengthValidator), "limit_value", 10)
    client.force_login(owner)
    expected = "Ensure this value has at most 10 characters (it has 11)."

    typed = {"name": "x" * 11, "category": "Latency"}
    page, api = post_to_page_and_api(client, (reverse("metrics:create"), typed), (reverse("api:metrics"), typed))

    assert components(client)["MetricInputRequest"]["properties"]["name"]["maxLength"] == 10
    assert expected in html.unescape(page.content.decode())
    assert api_errors(api) == [("name", "max_length", expected)]
    assert not Metric.objects.exists()


def test_an_indicator_limit_changed_on_the_model_changes_the_page_the_api_and_the_schema(
    client: Client, owner: User, metric: Metric, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(VALUE_VALIDATORS[1], "limit_value", 1000)
    client.force_login(owner)
    expected = "Enter a number no larger than 1.0e+03."

    page, api = post_to_page_and_api(
        client,
        (reverse("metrics:add_indicator", args=[metric.pk]), {"value": "1001", "decision": "1", "minutes": "5"}),
        (reverse("api:indicators", args=[metric.pk]), {"value": 1001, "decision": "rollback", "minutes": 5}),
    )

    schemas = components(client)
    assert schemas["IndicatorInputRequest"]["properties"]["value"]["maximum"] == 1000
    assert schemas["AskRequest"]["properties"]["value"]["maximum"] == 1000
    assert expected in html.unescape(page.content.decode())
    assert api_errors(api) == [("value", "max_value", expected)]
    assert not metric.indicators.exists()


def test_a_gate_weight_limit_changed_on_the_model_changes_the_page_the_api_and_the_schema(
    client: Client, owner: User, metric: Metric, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(field_limit(GateMetric, "weight", MaxValueValidator), "limit_value", 10)
    client.force_login(owner)
    expected = "Ensure this value is less than or equal to 10."

    page, api = post_to_page_and_api(
        client,
        (reverse("metrics:gate_create"), form_data([{"metric": metric.pk, "weight": "11"}])),
        (reverse("api:gates"), {"name": "Checkout", "metrics": [{"metric": metric.pk, "weight": 11}]}),
        bearer(owner),
    )

    assert components(client)["GateMetricRequest"]["properties"]["weight"]["maximum"] == 10
    assert expected in html.unescape(page.content.decode())
    assert api_errors(api) == [("metrics.0.weight", "max_value", expected)]


@pytest.mark.parametrize(
    ("scores", "rows", "field", "code", "message"),
    [
        (
            {"pass_score": 40, "marginal_score": 60},
            1,
            "marginal_score",
            "order",
            "The marginal score cannot be above the pass score.",
        ),
        ({}, 0, "metrics", "empty", "A gate needs at least one metric."),
    ],
)
def test_the_gate_rules_refuse_the_same_gate_with_the_same_message_on_the_page_and_in_the_api(
    client: Client, owner: User, metric: Metric, scores: dict, rows: int, field: str, code: str, message: str
) -> None:
    client.force_login(owner)
    metrics = [{"metric": metric.pk, "weight": 1}] * rows

    typed: dict[str, Any] = {name: str(score) for name, score in scores.items()}
    page, api = post_to_page_and_api(
        client,
        (reverse("metrics:gate_create"), form_data(metrics, **typed)),
        (reverse("api:gates"), {"name": "Checkout", **scores, "metrics": metrics}),
        bearer(owner),
    )

    assert (page.status_code, api.status_code) == (400, 400)
    assert message in html.unescape(page.content.decode())
    assert api_errors(api) == [(field, code, message)]


def test_the_bulk_limit_is_the_models(client: Client, owner: User, metric: Metric) -> None:
    rows = [{"value": 1, "decision": "rollout", "minutes": 1}] * (MAX_BULK_INDICATORS + 1)

    response = client.post(
        reverse("api:indicators_bulk", args=[metric.pk]),
        {"indicators": rows},
        content_type="application/json",
        headers=bearer(owner),
    )

    message = f"At most {MAX_BULK_INDICATORS} indicators a request; upload a CSV file for more."
    assert api_errors(response) == [("indicators", "too_many", message)]
    assert not metric.indicators.exists()


def test_an_indicator_limit_changed_on_the_model_changes_the_command_line(
    trained_metric: Metric, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(VALUE_VALIDATORS[1], "limit_value", 1000)

    with pytest.raises(CommandError, match=r"VALUE must be a finite number no larger than 1\.0e\+03\."):
        call_command("verdict", str(trained_metric.pk), "1001", "30")

    assert not trained_metric.verdicts.exists()
