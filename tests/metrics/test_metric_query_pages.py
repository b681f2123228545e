"""The pages of a metric's production query: the owner binds, changes, previews and unbinds it;
anyone else sees only that the metric is read from a data source, and is refused the rest."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import DataSource, Metric, MetricQuery
from metrics.models.data_source import SourceKind
from tests.metrics.test_metric_query import bindings, cloudwatch_source, prometheus_source
from tests.pages import control, messages_of
from tests.refusals import changes_nothing

QUERY = "sum(rate(http_errors_total{ {{ selector }} }[{{ window }}m]))"


@pytest.fixture
def source(owner: User) -> DataSource:
    return prometheus_source(owner)


@pytest.fixture
def signed_in_owner(client: Client, owner: User) -> Client:
    client.force_login(owner)
    return client


@pytest.fixture
def signed_in_stranger(client: Client, stranger: User) -> Client:
    client.force_login(stranger)
    return client


def form_of(source: DataSource, **fields: object) -> dict[str, object]:
    return {
        "source": source.pk,
        "query": "",
        "namespace": "",
        "metric_name": "",
        "dimensions": "",
        "statistic": "Average",
        "period_seconds": "60",
        "compare": "value",
        "canary_selector": "",
        "baseline_selector": "",
        **fields,
    }


def test_the_owner_binds_a_metric_to_their_source_and_is_sent_to_preview_it(
    signed_in_owner: Client, metric: Metric, source: DataSource
) -> None:
    response = signed_in_owner.post(
        reverse("metrics:query", args=[metric.pk]),
        form_of(
            source,
            query=QUERY,
            compare="ratio",
            canary_selector='rollouts_pod_template_hash="{{ key }}"',
            baseline_selector='rollouts_pod_template_hash!="{{ key }}"',
        ),
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("metrics:query", args=[metric.pk])
    assert messages_of(response) == [
        "“Requests per minute” now reads its value from “Production Prometheus”: preview it below."
    ]
    stored = MetricQuery.objects.get(metric=metric)
    assert (stored.source, stored.query, stored.compare) == (source, QUERY, "ratio")


def test_a_cloudwatch_binding_takes_its_dimensions_one_a_line(
    signed_in_owner: Client, metric: Metric, owner: User
) -> None:
    source = cloudwatch_source(owner, "AWS/ApplicationELB")

    signed_in_owner.post(
        reverse("metrics:query", args=[metric.pk]),
        form_of(
            source,
            metric_name="HTTPCode_Target_5XX_Count",
            dimensions="LoadBalancer=app/checkout\r\n\r\nTargetGroup = targetgroup/{{ selector }}",
            statistic="Sum",
            compare="difference",
            canary_selector="checkout-canary",
            baseline_selector="checkout-stable",
        ),
    )

    assert MetricQuery.objects.get(metric=metric).dimensions == [
        {"name": "LoadBalancer", "value": "app/checkout"},
        {"name": "TargetGroup", "value": "targetgroup/{{ selector }}"},
    ]


def test_the_form_offers_only_the_users_own_sources_and_says_each_ones_kind(
    signed_in_owner: Client, metric: Metric, source: DataSource, owner: User, stranger: User
) -> None:
    cloudwatch = cloudwatch_source(owner)
    prometheus_source(stranger, "Stranger's Prometheus")

    page = signed_in_owner.get(reverse("metrics:query", args=[metric.pk])).content.decode()

    assert "Stranger&#x27;s Prometheus" not in page
    assert f'<option value="{source.pk}" data-kind="prometheus">Production Prometheus</option>' in page
    assert f'<option value="{cloudwatch.pk}" data-kind="cloudwatch">AWS</option>' in page
    # Both kinds' fields are there without JavaScript, each under its legend.
    assert "For a Prometheus source" in page
    assert "For a CloudWatch source" in page
    assert 'rollouts_pod_template_hash="{{ key }}"' in page


def test_a_refused_query_is_shown_on_its_field_and_nothing_is_bound(
    signed_in_owner: Client, metric: Metric, source: DataSource
) -> None:
    with changes_nothing(bindings):
        response = signed_in_owner.post(
            reverse("metrics:query", args=[metric.pk]), form_of(source, query='up{pod="{{ pod }}"}')
        )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Unknown variable: {{ pod }}." in page
    assert "aria-invalid" not in control(page, "source")
    assert 'aria-invalid="true"' in page.split('name="query"')[1].split(">", 1)[0]


def test_a_strangers_source_cannot_be_chosen_and_nothing_is_bound(
    signed_in_owner: Client, metric: Metric, stranger: User
) -> None:
    strangers = prometheus_source(stranger, "Stranger's Prometheus")

    with changes_nothing(bindings):
        response = signed_in_owner.post(reverse("metrics:query", args=[metric.pk]), form_of(strangers, query="up"))

    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()


def test_a_stranger_is_refused_the_query_page_its_change_preview_and_unbinding(
    signed_in_stranger: Client, metric: Metric, owner: User, source: DataSource, stranger: User
) -> None:
    metric.bind(source, owner, query="up")
    own = prometheus_source(stranger, "Stranger's Prometheus")

    with changes_nothing(bindings):
        responses = [
            signed_in_stranger.get(reverse("metrics:query", args=[metric.pk])),
            signed_in_stranger.post(reverse("metrics:query", args=[metric.pk]), form_of(own, query="vector(1)")),
            signed_in_stranger.post(reverse("metrics:query_preview", args=[metric.pk]), {}),
            signed_in_stranger.post(reverse("metrics:query_unbind", args=[metric.pk])),
        ]

    assert [response.status_code for response in responses] == [403, 403, 403, 403]


def test_others_see_that_the_metric_is_read_from_a_data_source_and_nothing_of_it(
    signed_in_stranger: Client, metric: Metric, owner: User, source: DataSource
) -> None:
    metric.bind(source, owner, query='errors{pod="{{ key }}"}')

    page = signed_in_stranger.get(reverse("metrics:detail", args=[metric.pk])).content.decode()

    assert "Read from a data source of its owner's while a release is open." in page
    assert "Production Prometheus" not in page
    assert source.url not in page
    assert "errors{pod=" not in page
    assert reverse("metrics:query", args=[metric.pk]) not in page


def test_the_owner_sees_the_binding_on_the_metric_page_with_preview_and_change(
    signed_in_owner: Client, metric: Metric, owner: User, source: DataSource
) -> None:
    metric.bind(source, owner, query='errors{pod="{{ key }}"}')

    page = signed_in_owner.get(reverse("metrics:detail", args=[metric.pk])).content.decode()

    assert "Read from “Production Prometheus” (Prometheus). The canary&#x27;s value." in page
    assert "errors{pod=&quot;{{ key }}&quot;}" in page
    assert f'action="{reverse("metrics:query_preview", args=[metric.pk])}#preview"' in page
    assert "Change the query" in page


def test_an_unbound_metric_offers_its_owner_to_bind_it(signed_in_owner: Client, metric: Metric) -> None:
    page = signed_in_owner.get(reverse("metrics:detail", args=[metric.pk])).content.decode()

    assert "Not read from a data source" in page
    assert "Bind to a data source" in page


def test_the_owner_without_a_source_is_told_to_add_one(signed_in_owner: Client, metric: Metric) -> None:
    page = signed_in_owner.get(reverse("metrics:query", args=[metric.pk])).content.decode()

    assert "You have no data source yet" in page


def test_the_owner_unbinds_the_metric(signed_in_owner: Client, metric: Metric, owner: User, source: DataSource) -> None:
    metric.bind(source, owner, query="up")

    response = signed_in_owner.post(reverse("metrics:query_unbind", args=[metric.pk]))

    assert response["Location"] == metric.get_absolute_url()
    assert messages_of(response) == ["“Requests per minute” no longer reads its value from a data source."]
    assert not MetricQuery.objects.exists()


def test_a_preview_of_a_source_that_cannot_be_reached_says_why_on_the_page(
    signed_in_owner: Client, metric: Metric, owner: User
) -> None:
    unreachable = DataSource.objects.create(
        owner=owner, name="Down", kind=SourceKind.PROMETHEUS, url="http://127.0.0.1:9", timeout_seconds=1
    )
    metric.bind(unreachable, owner, query='errors{pod="{{ key }}"}')

    with changes_nothing(bindings):
        response = signed_in_owner.post(
            reverse("metrics:query_preview", args=[metric.pk]), {"key": "7d9f8", "version": "", "window": "3"}
        )

    assert response.status_code == 200
    page = response.content.decode()
    assert "The connection was refused" in page
    assert "errors{pod=&quot;7d9f8&quot;}" in page


def test_a_preview_window_that_is_not_a_whole_number_of_minutes_is_refused(
    signed_in_owner: Client, metric: Metric, owner: User, source: DataSource
) -> None:
    metric.bind(source, owner, query="up")

    response = signed_in_owner.post(reverse("metrics:query_preview", args=[metric.pk]), {"window": "0"})

    assert response.status_code == 400
    assert control(response.content.decode(), "window")["aria-invalid"] == "true"


def test_a_preview_of_an_unbound_metric_sends_the_owner_to_bind_it(signed_in_owner: Client, metric: Metric) -> None:
    response = signed_in_owner.post(reverse("metrics:query_preview", args=[metric.pk]))

    assert response["Location"] == reverse("metrics:query", args=[metric.pk])
    assert messages_of(response) == ["“Requests per minute” is not bound to a data source yet."]


def test_the_query_page_speaks_portuguese(signed_in_owner: Client, metric: Metric, source: DataSource) -> None:
    response = signed_in_owner.get(reverse("metrics:query", args=[metric.pk]), headers={"accept-language": "pt-br"})

    assert response.status_code == 200
    assert 'lang="pt-br"' in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in_and_change_nothing(
    client: Client, metric: Metric, owner: User, source: DataSource
) -> None:
    metric.bind(source, owner, query="up")

    with changes_nothing(bindings):
        responses = [
            client.get(reverse("metrics:query", args=[metric.pk])),
            client.post(reverse("metrics:query", args=[metric.pk]), form_of(source, query="vector(1)")),
            client.post(reverse("metrics:query_preview", args=[metric.pk])),
            client.post(reverse("metrics:query_unbind", args=[metric.pk])),
        ]

    assert all(response.status_code == 302 and "/login/" in response["Location"] for response in responses)
