"""The API of a metric's production query: GET/PUT/DELETE /api/v1/metrics/{id}/query and POST
…/query/preview, with the pages' rules (the owner of both the metric and the source) and the
API's scopes. (Previews of a real Prometheus: tests/stores/test_metric_query_preview.py.)"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.models import TokenScope
from metrics.models import DataSource, Metric, MetricQuery
from metrics.models.data_source import SourceKind
from tests.api.test_gates import bearer
from tests.metrics.test_metric_query import bindings, cloudwatch_source, prometheus_source
from tests.refusals import changes_nothing

QUERY = "sum(rate(http_errors_total{ {{ selector }} }[{{ window }}m]))"


@pytest.fixture
def source(owner: User) -> DataSource:
    return prometheus_source(owner)


def url(metric: Metric) -> str:
    return reverse("api:metric_query", args=[metric.pk])


def preview_url(metric: Metric) -> str:
    return reverse("api:metric_query_preview", args=[metric.pk])


def put(client: Client, metric: Metric, headers: dict, body: object):
    return client.put(url(metric), body, content_type="application/json", headers=headers)


def test_the_owner_binds_a_metric_and_reads_the_query_back(
    client: Client, metric: Metric, owner: User, source: DataSource
) -> None:
    headers = bearer(owner)
    body = {
        "source": source.pk,
        "query": QUERY,
        "compare": "ratio",
        "canary_selector": 'rollouts_pod_template_hash="{{ key }}"',
        "baseline_selector": 'rollouts_pod_template_hash!="{{ key }}"',
    }

    response = put(client, metric, headers, body)

    assert response.status_code == 200, response.json()
    answer = response.json()
    stored = MetricQuery.objects.get(metric=metric)
    assert answer == {
        "metric": metric.pk,
        "source": source.pk,
        "source_name": "Production Prometheus",
        "source_kind": "prometheus",
        "query": QUERY,
        "namespace": "",
        "metric_name": "",
        "dimensions": [],
        "statistic": "Average",
        "period_seconds": 60,
        "compare": "ratio",
        "canary_selector": 'rollouts_pod_template_hash="{{ key }}"',
        "baseline_selector": 'rollouts_pod_template_hash!="{{ key }}"',
        "created_at": stored.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": stored.updated_at.isoformat().replace("+00:00", "Z"),
        "url": f"http://testserver{url(metric)}",
    }
    assert client.get(url(metric), headers=headers).json() == answer


def test_a_put_replaces_the_whole_query_and_what_is_not_sent_takes_its_default(
    client: Client, metric: Metric, owner: User, source: DataSource
) -> None:
    metric.bind(source, owner, query=QUERY, compare="difference", canary_selector="a", baseline_selector="b")

    response = put(client, metric, bearer(owner), {"source": source.pk, "query": "up"})

    assert response.status_code == 200, response.json()
    stored = MetricQuery.objects.get(metric=metric)
    assert (stored.query, stored.compare, stored.canary_selector, stored.baseline_selector) == ("up", "value", "", "")


def test_a_cloudwatch_query_is_sent_with_its_dimensions(client: Client, metric: Metric, owner: User) -> None:
    source = cloudwatch_source(owner, "AWS/ApplicationELB")
    dimensions = [{"name": "TargetGroup", "value": "targetgroup/{{ selector }}"}]

    response = put(
        client,
        metric,
        bearer(owner),
        {
            "source": source.pk,
            "metric_name": "TargetResponseTime",
            "dimensions": dimensions,
            "statistic": "p99",
            "period_seconds": 60,
            "compare": "difference",
            "canary_selector": "checkout-canary",
            "baseline_selector": "checkout-stable",
        },
    )

    assert response.status_code == 200, response.json()
    assert response.json()["dimensions"] == dimensions
    assert response.json()["source_kind"] == "cloudwatch"
    assert MetricQuery.objects.get().dimensions == dimensions


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"query": "up"}, "source", "required"),
        ({"query": " "}, "query", "required"),
        ({"query": "up{a='{{ pod }}'}"}, "query", "unknown_variables"),
        ({"query": QUERY, "compare": "ratio", "canary_selector": "a"}, "baseline_selector", "required"),
        (
            {"query": "up", "compare": "ratio", "canary_selector": "a", "baseline_selector": "b"},
            "query",
            "selector_unused",
        ),
        ({"query": "up", "compare": "median"}, "compare", "invalid_choice"),
        ({"query": "up", "period_seconds": "60"}, "period_seconds", "type"),
        ({"query": "up", "owner": 1}, "owner", "unknown"),
    ],
)
def test_a_query_the_rules_refuse_is_a_400_on_its_field_and_nothing_is_bound(
    client: Client, metric: Metric, owner: User, source: DataSource, body: dict, field: str, code: str
) -> None:
    sent = {"source": source.pk, **body} if field != "source" else body

    with changes_nothing(bindings):
        response = put(client, metric, bearer(owner), sent)

    assert response.status_code == 400
    assert [(error["field"], error["code"]) for error in response.json()["errors"]] == [(field, code)]


def test_cloudwatch_refusals_name_each_field(client: Client, metric: Metric, owner: User) -> None:
    source = cloudwatch_source(owner)
    body = {
        "source": source.pk,
        "metric_name": "CPU",
        "statistic": "Median",
        "period_seconds": 45,
        "dimensions": [{"name": "InstanceId", "value": "i-1"}],
    }

    with changes_nothing(bindings):
        response = put(client, metric, bearer(owner), body)
        too_many = put(
            client, metric, bearer(owner), {**body, "dimensions": [{"name": f"D{n}", "value": "x"} for n in range(31)]}
        )

    assert response.status_code == too_many.status_code == 400
    assert sorted((error["field"], error["code"]) for error in response.json()["errors"]) == [
        ("namespace", "required"),
        ("period_seconds", "invalid_period"),
        ("statistic", "invalid_statistic"),
    ]
    assert [(error["field"], error["code"]) for error in too_many.json()["errors"]] == [("dimensions", "max_length")]


def test_a_strangers_source_is_refused_as_one_that_does_not_exist(
    client: Client, metric: Metric, owner: User, stranger: User
) -> None:
    strangers = prometheus_source(stranger, "Stranger's Prometheus")

    with changes_nothing(bindings):
        response = put(client, metric, bearer(owner), {"source": strangers.pk, "query": "up"})
        missing = put(client, metric, bearer(owner), {"source": strangers.pk + 1000, "query": "up"})

    assert response.status_code == missing.status_code == 400
    assert response.json()["errors"][0]["code"] == missing.json()["errors"][0]["code"] == "does_not_exist"


def test_a_stranger_is_refused_every_operation_even_with_their_own_source(
    client: Client, metric: Metric, owner: User, stranger: User, source: DataSource
) -> None:
    metric.bind(source, owner, query="up")
    own = prometheus_source(stranger, "Stranger's Prometheus")
    headers = bearer(stranger)

    with changes_nothing(bindings):
        responses = [
            client.get(url(metric), headers=headers),
            put(client, metric, headers, {"source": own.pk, "query": "vector(1)"}),
            client.delete(url(metric), headers=headers),
            client.post(preview_url(metric), {}, content_type="application/json", headers=headers),
        ]

    assert [response.status_code for response in responses] == [403, 403, 403, 403]
    assert responses[0].json()["detail"] == "Only the metric's owner may bind it to a data source."


def test_a_read_only_token_reads_the_query_and_changes_nothing(
    client: Client, metric: Metric, owner: User, source: DataSource
) -> None:
    metric.bind(source, owner, query="up")
    headers = bearer(owner, TokenScope.READ)

    with changes_nothing(bindings):
        assert client.get(url(metric), headers=headers).status_code == 200
        assert put(client, metric, headers, {"source": source.pk, "query": "vector(1)"}).status_code == 403
        assert client.delete(url(metric), headers=headers).status_code == 403


def test_the_owner_unbinds_the_metric_and_then_it_has_no_query(
    client: Client, metric: Metric, owner: User, source: DataSource
) -> None:
    metric.bind(source, owner, query="up")
    headers = bearer(owner)

    assert client.delete(url(metric), headers=headers).status_code == 204

    assert not MetricQuery.objects.exists()
    for response in (
        client.get(url(metric), headers=headers),
        client.delete(url(metric), headers=headers),
        client.post(preview_url(metric), headers=headers),
    ):
        assert response.status_code == 404
        assert response.json()["detail"] == "“Requests per minute” is not bound to a data source."


def test_a_preview_of_a_store_that_cannot_be_reached_is_an_answer_with_the_reason(
    client: Client, metric: Metric, owner: User
) -> None:
    down = DataSource.objects.create(
        owner=owner, name="Down", kind=SourceKind.PROMETHEUS, url="http://127.0.0.1:9", timeout_seconds=1
    )
    metric.bind(down, owner, query='errors{pod="{{ key }}"}[{{ window }}m]')

    response = client.post(
        preview_url(metric), {"key": 'a"b', "window": 7}, content_type="application/json", headers=bearer(owner)
    )

    assert response.status_code == 200
    answer = response.json()
    assert answer["reason"].startswith("The connection was refused")
    assert {key: answer[key] for key in answer if key != "reason"} == {
        "has_value": False,
        "value": None,
        "canary": None,
        "baseline": None,
        "sampled_at": None,
        "query_sent": 'errors{pod="a\\"b"}[7m]',
        "baseline_query_sent": "",
        "error": "refused",
        "key": 'a"b',
        "version": "",
        "window": 7,
    }


@pytest.mark.parametrize(
    ("body", "field"), [({"window": 0}, "window"), ({"window": "5"}, "window"), ({"minutes": 5}, "minutes")]
)
def test_a_preview_of_variables_that_cannot_be_is_a_400(
    client: Client, metric: Metric, owner: User, source: DataSource, body: dict, field: str
) -> None:
    metric.bind(source, owner, query="up")

    response = client.post(preview_url(metric), body, content_type="application/json", headers=bearer(owner))

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]
