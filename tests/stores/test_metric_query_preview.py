"""A bound metric's preview against a real Prometheus (tests/stores/conftest.py): the value as the
metric defines it, the canary's and the baseline's raw numbers and the queries as sent, or the
reason in plain words when the store cannot give one value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import DataSource, Metric, MetricQuery
from metrics.models.data_source import SourceKind, Variables
from tests.stores.conftest import PrometheusServer

pytestmark = pytest.mark.django_db


def bound(metric: Metric, owner: User, url: str, **fields: object) -> MetricQuery:
    source = DataSource.objects.create(owner=owner, name="Prometheus", kind=SourceKind.PROMETHEUS, url=url)
    return metric.bind(source, owner, **fields)


@pytest.fixture
def canary_and_baseline(prometheus: PrometheusServer) -> None:
    """Two series of the exporter told apart by a label: the canary's pods and the stable ones."""
    prometheus.set('mb_preview_errors{hash="7d9f8"}', "0.06")
    prometheus.set('mb_preview_errors{hash="stable"}', "0.02")
    prometheus.set('mb_preview_errors{hash="empty"}', "0")
    prometheus.wait_for('mb_preview_errors{hash="empty"}', "0")


def test_a_preview_gives_the_live_value_with_the_query_as_sent(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    prometheus.set('mb_preview_latency{pod="checkout-7d9f8"}', "0.25")
    prometheus.wait_for('mb_preview_latency{pod="checkout-7d9f8"}', "0.25")
    query = bound(metric, owner, prometheus.url, query='mb_preview_latency{pod="checkout-{{ key }}"}')

    preview = query.preview(Variables(key="7d9f8", window=3))

    assert (preview.value, preview.canary, preview.baseline) == (0.25, 0.25, None)
    assert preview.query_sent == 'mb_preview_latency{pod="checkout-7d9f8"}'
    assert preview.baseline_query_sent == ""
    assert preview.sampled_at is not None
    assert abs((datetime.now(UTC) - preview.sampled_at).total_seconds()) < 60
    assert (preview.reason, preview.error_kind) == ("", "")


def test_a_preview_without_variables_is_of_a_release_five_minutes_in(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    query = bound(metric, owner, prometheus.url, query="scalar(vector({{ window }}))")

    preview = query.preview()

    assert preview.value == 5
    assert preview.variables == Variables(key="", version="", window=5)


@pytest.mark.usefixtures("canary_and_baseline")
@pytest.mark.parametrize(("compare", "value"), [("ratio", 3.0), ("difference", 0.04)])
def test_a_preview_compares_the_canary_with_its_baseline_in_the_same_window(
    prometheus: PrometheusServer, metric: Metric, owner: User, compare: str, value: float
) -> None:
    query = bound(
        metric,
        owner,
        prometheus.url,
        query="max_over_time(mb_preview_errors{ {{ selector }} }[{{ window }}m])",
        compare=compare,
        canary_selector='hash="{{ key }}"',
        baseline_selector='hash="stable"',
    )

    preview = query.preview(Variables(key="7d9f8", window=2))

    assert (preview.canary, preview.baseline) == (0.06, 0.02)
    assert preview.value == pytest.approx(value)
    assert preview.query_sent == 'max_over_time(mb_preview_errors{ hash="7d9f8" }[2m])'
    assert preview.baseline_query_sent == 'max_over_time(mb_preview_errors{ hash="stable" }[2m])'


@pytest.mark.usefixtures("canary_and_baseline")
def test_a_ratio_to_a_baseline_of_0_gives_no_value_and_says_why_with_both_numbers(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    query = bound(
        metric,
        owner,
        prometheus.url,
        query="mb_preview_errors{ {{ selector }} }",
        compare="ratio",
        canary_selector='hash="{{ key }}"',
        baseline_selector='hash="empty"',
    )

    preview = query.preview(Variables(key="7d9f8"))

    assert (preview.value, preview.canary, preview.baseline) == (None, 0.06, 0.0)
    assert preview.error_kind == "not_a_number"
    assert (
        preview.reason == "No data: the value is not a number. the baseline's value is 0, so the ratio is not a number"
    )


@pytest.mark.usefixtures("canary_and_baseline")
def test_a_query_of_several_series_is_refused_naming_them(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    query = bound(metric, owner, prometheus.url, query='mb_preview_errors{hash=~"7d9f8|stable"}')

    preview = query.preview()

    assert preview.value is None
    assert preview.error_kind == "several_series"
    assert preview.reason.startswith("The query gives several series; it must give one value. 2 series:")
    assert 'hash="7d9f8"' in preview.reason
    assert 'hash="stable"' in preview.reason


def test_a_query_of_no_series_says_so(prometheus: PrometheusServer, metric: Metric, owner: User) -> None:
    query = bound(metric, owner, prometheus.url, query='mb_preview_errors{hash="{{ key }}"}')

    preview = query.preview(Variables(key="never-deployed"))

    assert (preview.value, preview.canary, preview.error_kind) == (None, None, "no_data")
    assert preview.reason.startswith("No data: no series matches the query.")
    assert preview.query_sent == 'mb_preview_errors{hash="never-deployed"}'


def test_a_value_that_is_not_a_number_says_so(prometheus: PrometheusServer, metric: Metric, owner: User) -> None:
    """An error ratio over no requests is 0/0."""
    query = bound(metric, owner, prometheus.url, query="vector(0) / vector(0)")

    preview = query.preview()

    assert (preview.value, preview.error_kind) == (None, "not_a_number")
    assert preview.reason.startswith("No data: the value is not a number.")


@pytest.mark.usefixtures("canary_and_baseline")
def test_a_baseline_with_no_series_is_named_as_the_side_that_failed(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    query = bound(
        metric,
        owner,
        prometheus.url,
        query="mb_preview_errors{ {{ selector }} }",
        compare="difference",
        canary_selector='hash="{{ key }}"',
        baseline_selector='hash="gone"',
    )

    preview = query.preview(Variables(key="7d9f8"))

    assert (preview.value, preview.canary, preview.baseline) == (None, 0.06, None)
    assert preview.reason.startswith("The baseline: No data: no series matches the query.")


def test_a_store_that_cannot_be_reached_is_a_reason_not_an_error(metric: Metric, owner: User, closed_port: int) -> None:
    query = bound(metric, owner, f"http://127.0.0.1:{closed_port}", query="up")

    preview = query.preview()

    assert (preview.value, preview.error_kind) == (None, "refused")
    assert preview.reason.startswith("The connection was refused: nothing answers at that address and port.")
    assert preview.query_sent == "up"


def test_a_query_the_store_refuses_is_a_reason(prometheus: PrometheusServer, metric: Metric, owner: User) -> None:
    query = bound(metric, owner, prometheus.url, query="rate(up[5m]")

    preview = query.preview()

    assert preview.error_kind == "bad_query"
    assert preview.reason.startswith("The source refused the query.")


@pytest.mark.usefixtures("canary_and_baseline")
def test_the_preview_page_shows_the_value_both_raw_numbers_and_the_queries_as_sent(
    prometheus: PrometheusServer, client: Client, metric: Metric, owner: User
) -> None:
    bound(
        metric,
        owner,
        prometheus.url,
        query="max_over_time(mb_preview_errors{ {{ selector }} }[{{ window }}m])",
        compare="ratio",
        canary_selector='hash="{{ key }}"',
        baseline_selector='hash="stable"',
    )
    client.force_login(owner)

    response = client.post(reverse("metrics:query_preview", args=[metric.pk]), {"key": "7d9f8", "window": "4"})

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="preview-value">3</span>' in page
    assert 'data-testid="preview-canary">0.06</dd>' in page
    assert 'data-testid="preview-baseline">0.02</dd>' in page
    assert "max_over_time(mb_preview_errors{ hash=&quot;7d9f8&quot; }[4m])" in page
    assert "max_over_time(mb_preview_errors{ hash=&quot;stable&quot; }[4m])" in page


def test_the_preview_page_says_why_a_query_gives_no_value(
    prometheus: PrometheusServer, client: Client, metric: Metric, owner: User
) -> None:
    bound(metric, owner, prometheus.url, query="vector(0) / vector(0)")
    client.force_login(owner)

    response = client.post(reverse("metrics:query_preview", args=[metric.pk]))

    assert response.status_code == 200
    assert "No data: the value is not a number." in response.content.decode()
