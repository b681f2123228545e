"""A metric's production query: its template's variables, the rules a query must meet to be
bound, and who may bind a metric to a data source. (Its preview, against a real Prometheus:
tests/stores/test_metric_query_preview.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError

from metrics.exceptions import SourceDeleted
from metrics.models import DataSource, Metric, MetricQuery
from metrics.models.data_source import SourceKind, Variables, render
from tests.data import rows_of
from tests.refusals import changes_nothing


def bindings() -> dict[str, list]:
    """What binding a metric may change: the queries, and the sources they read."""
    return {"queries": rows_of(MetricQuery), "sources": rows_of(DataSource), "metrics": rows_of(Metric)}


def prometheus_source(owner: User, name: str = "Production Prometheus") -> DataSource:
    return DataSource.objects.create(owner=owner, name=name, kind=SourceKind.PROMETHEUS, url="http://127.0.0.1:9")


def cloudwatch_source(owner: User, namespace: str = "") -> DataSource:
    return DataSource.objects.create(
        owner=owner, name="AWS", kind=SourceKind.CLOUDWATCH, region="eu-west-1", namespace=namespace
    )


@pytest.fixture
def source(owner: User) -> DataSource:
    return prometheus_source(owner)


CANARY = 'rollouts_pod_template_hash="{{ key }}"'
BASELINE = 'rollouts_pod_template_hash!="{{ key }}"'
RATIO_QUERY = "sum(rate(http_errors_total{ {{ selector }} }[{{ window }}m]))"


# Rendering


def test_a_key_with_a_quote_cannot_end_the_promql_string_it_is_put_in() -> None:
    sent = render('up{pod="{{ key }}"}', Variables(key='x"} or vector(1) or up{a="\\'), "")

    assert sent == 'up{pod="x\\"} or vector(1) or up{a=\\"\\\\"}'


def test_the_selector_is_rendered_with_the_key_inside_it_and_the_window_in_minutes() -> None:
    sent = render(RATIO_QUERY, Variables(key="7d9f8", window=12), CANARY)

    assert sent == 'sum(rate(http_errors_total{ rollouts_pod_template_hash="7d9f8" }[12m]))'


def test_the_version_is_escaped_like_the_key() -> None:
    assert render('up{v="{{ version }}"}', Variables(version='1"2'), "") == 'up{v="1\\"2"}'


# Binding: what is stored


def test_the_owner_binds_a_metric_to_a_prometheus_query_of_their_source(
    metric: Metric, owner: User, source: DataSource
) -> None:
    metric.bind(source, owner, query='sum(rate(errors{pod="{{ key }}"}[{{ window }}m]))')

    stored = MetricQuery.objects.get(metric=metric)
    assert stored.source == source
    assert stored.query == 'sum(rate(errors{pod="{{ key }}"}[{{ window }}m]))'
    assert stored.compare == "value"


def test_binding_again_replaces_the_query_and_keeps_when_it_was_first_bound(
    metric: Metric, owner: User, source: DataSource
) -> None:
    first = metric.bind(source, owner, query="up", compare="value")
    metric.bind(source, owner, query=RATIO_QUERY, compare="ratio", canary_selector=CANARY, baseline_selector=BASELINE)

    stored = MetricQuery.objects.get(metric=metric)
    assert (stored.pk, stored.created_at) == (first.pk, first.created_at)
    assert (stored.query, stored.compare, stored.baseline_selector) == (RATIO_QUERY, "ratio", BASELINE)
    assert stored.updated_at > first.updated_at


def test_a_cloudwatch_binding_keeps_no_promql_and_reads_the_namespace_of_its_source(
    metric: Metric, owner: User
) -> None:
    source = cloudwatch_source(owner, namespace="AWS/ApplicationELB")

    metric.bind(
        source,
        owner,
        query="up",
        metric_name="HTTPCode_Target_5XX_Count",
        dimensions=[{"name": "TargetGroup", "value": "targetgroup/{{ selector }}"}],
        statistic="p99.9",
        period_seconds=30,
        compare="difference",
        canary_selector="canary-{{ version }}",
        baseline_selector="stable",
    )

    stored = MetricQuery.objects.get(metric=metric)
    assert (stored.query, stored.namespace, stored.metric_name) == ("", "", "HTTPCode_Target_5XX_Count")
    assert stored.dimensions == [{"name": "TargetGroup", "value": "targetgroup/{{ selector }}"}]


def test_unbinding_forgets_the_query_and_says_whether_there_was_one(
    metric: Metric, owner: User, source: DataSource
) -> None:
    metric.bind(source, owner, query="up")

    assert metric.unbind(owner) is True
    assert not MetricQuery.objects.exists()
    assert metric.unbind(owner) is False


@pytest.mark.parametrize(
    "statistic", ["Average", "Sum", "Minimum", "Maximum", "SampleCount", "p99", "p99.9", "p100", "tm90", "wm95.5"]
)
def test_every_statistic_cloudwatch_takes_is_taken(metric: Metric, owner: User, statistic: str) -> None:
    metric.bind(cloudwatch_source(owner, "AWS/EC2"), owner, metric_name="CPUUtilization", statistic=statistic)

    assert MetricQuery.objects.get().statistic == statistic


@pytest.mark.parametrize("period", [1, 5, 10, 20, 30, 60, 300, 86_400])
def test_every_period_cloudwatch_takes_is_taken(metric: Metric, owner: User, period: int) -> None:
    metric.bind(cloudwatch_source(owner, "AWS/EC2"), owner, metric_name="CPUUtilization", period_seconds=period)

    assert MetricQuery.objects.get().period_seconds == period


# Binding: what is refused, nothing stored


def refused(metric: Metric, owner: User, source: DataSource, **fields: Any) -> dict[str, list[str]]:
    """The errors of binding `metric` to `source` with `fields`, by field, checking nothing changed."""
    with changes_nothing(bindings), pytest.raises(ValidationError) as error:
        metric.bind(source, owner, **fields)
    return error.value.message_dict


def test_a_prometheus_binding_without_a_query_is_refused(metric: Metric, owner: User, source: DataSource) -> None:
    assert refused(metric, owner, source, query="  ", canary_selector="a") == {
        "query": ["Enter the PromQL query that gives the metric's value."]
    }


def test_unknown_variables_are_refused_naming_them(metric: Metric, owner: User, source: DataSource) -> None:
    errors = refused(metric, owner, source, query='up{pod="{{ pod }}", ns="{{namespace}}", v="{{ version }}"}')

    assert errors == {
        "query": [
            "Unknown variables: {{ namespace }}, {{ pod }}. Use {{ key }}, {{ version }}, {{ selector }}, {{ window }}."
        ]
    }


def test_a_selector_made_of_a_selector_is_refused(metric: Metric, owner: User, source: DataSource) -> None:
    errors = refused(metric, owner, source, query="up{ {{ selector }} }", canary_selector="a, {{ selector }}")

    assert errors == {
        "canary_selector": ["Unknown variable: {{ selector }}. Use {{ key }}, {{ version }}, {{ window }}."]
    }


@pytest.mark.parametrize("compare", ["ratio", "difference"])
def test_comparing_with_the_baseline_needs_both_selectors(
    metric: Metric, owner: User, source: DataSource, compare: str
) -> None:
    errors = refused(metric, owner, source, query=RATIO_QUERY, compare=compare, canary_selector=CANARY)

    assert errors == {
        "baseline_selector": ["Enter the selector of each side: the value is compared with the baseline's."]
    }


def test_the_same_selector_for_both_sides_is_refused(metric: Metric, owner: User, source: DataSource) -> None:
    errors = refused(
        metric, owner, source, query=RATIO_QUERY, compare="ratio", canary_selector=CANARY, baseline_selector=CANARY
    )

    assert errors == {
        "baseline_selector": ["The baseline's selector is the canary's: both sides would be the same query."]
    }


def test_a_selector_the_query_does_not_use_is_refused_as_the_same_query_twice(
    metric: Metric, owner: User, source: DataSource
) -> None:
    errors = refused(
        metric,
        owner,
        source,
        query='sum(rate(http_errors_total{pod="{{ key }}"}[5m]))',
        compare="ratio",
        canary_selector=CANARY,
        baseline_selector=BASELINE,
    )

    assert errors == {
        "query": ["Use {{ selector }} in the query: otherwise the canary and the baseline are the same query."]
    }


def test_a_cloudwatch_binding_without_a_metric_name_or_namespace_is_refused(metric: Metric, owner: User) -> None:
    errors = refused(metric, owner, cloudwatch_source(owner), namespace=" ", metric_name="")

    assert errors == {
        "metric_name": ["Enter the name of the CloudWatch metric."],
        "namespace": ["Enter the metric's namespace (e.g. AWS/ApplicationELB): its data source has none."],
    }


@pytest.mark.parametrize("statistic", ["average", "Mean", "p101", "p99.999", "tm", "x99", ""])
def test_a_statistic_cloudwatch_does_not_take_is_refused(metric: Metric, owner: User, statistic: str) -> None:
    errors = refused(metric, owner, cloudwatch_source(owner, "AWS/EC2"), metric_name="CPU", statistic=statistic)

    assert list(errors) == ["statistic"]
    assert "is not a CloudWatch statistic" in errors["statistic"][0]


@pytest.mark.parametrize("period", [2, 15, 45, 90, 86_460])
def test_a_period_cloudwatch_does_not_take_is_refused(metric: Metric, owner: User, period: int) -> None:
    errors = refused(metric, owner, cloudwatch_source(owner, "AWS/EC2"), metric_name="CPU", period_seconds=period)

    assert list(errors) == ["period_seconds"]


@pytest.mark.parametrize(
    ("dimensions", "message"),
    [
        ([{"name": f"D{n}", "value": "x"} for n in range(31)], "CloudWatch takes at most 30 dimensions."),
        ([{"name": "InstanceId", "value": " "}], "Each dimension needs a name and a value."),
        ([{"name": "A", "value": "1"}, {"name": "A", "value": "2"}], "Each dimension may appear once: A."),
        ({"InstanceId": "i-1"}, 'Give the dimensions as a list of {"name": …, "value": …}.'),
        ([{"name": "A", "value": 1}], 'Give the dimensions as a list of {"name": …, "value": …}.'),
        (
            [{"name": "A", "value": "{{ pod }}"}],
            "Unknown variable: {{ pod }}. Use {{ key }}, {{ version }}, {{ selector }}, {{ window }}.",
        ),
    ],
)
def test_dimensions_cloudwatch_does_not_take_are_refused(
    metric: Metric, owner: User, dimensions: Any, message: str
) -> None:
    errors = refused(metric, owner, cloudwatch_source(owner, "AWS/EC2"), metric_name="CPU", dimensions=dimensions)

    assert errors == {"dimensions": [message]}


def test_a_cloudwatch_selector_no_dimension_uses_is_refused(metric: Metric, owner: User) -> None:
    errors = refused(
        metric,
        owner,
        cloudwatch_source(owner, "AWS/EC2"),
        metric_name="CPU",
        dimensions=[{"name": "AutoScalingGroupName", "value": "checkout"}],
        compare="difference",
        canary_selector="checkout-canary",
        baseline_selector="checkout-stable",
    )

    assert errors == {
        "dimensions": [
            "Use {{ selector }} in a dimension's value: otherwise the canary and the baseline are the same query."
        ]
    }


def test_a_refused_query_leaves_the_one_bound_before(metric: Metric, owner: User, source: DataSource) -> None:
    metric.bind(source, owner, query="up")

    refused(metric, owner, source, query="up{a='{{ nope }}'}")

    assert MetricQuery.objects.get().query == "up"


# Who may bind


def test_a_stranger_cannot_bind_someone_elses_metric_even_to_their_own_source(metric: Metric, stranger: User) -> None:
    own_source = prometheus_source(stranger, "Stranger's Prometheus")

    with changes_nothing(bindings), pytest.raises(PermissionDenied):
        metric.bind(own_source, stranger, query="up")


def test_the_owner_cannot_bind_their_metric_to_a_strangers_source(metric: Metric, owner: User, stranger: User) -> None:
    strangers_source = prometheus_source(stranger, "Stranger's Prometheus")

    with changes_nothing(bindings), pytest.raises(PermissionDenied):
        metric.bind(strangers_source, owner, query="up")


def test_a_stranger_cannot_unbind_someone_elses_metric(
    metric: Metric, owner: User, stranger: User, source: DataSource
) -> None:
    metric.bind(source, owner, query="up")

    with changes_nothing(bindings), pytest.raises(PermissionDenied):
        metric.unbind(stranger)


def test_a_source_deleted_meanwhile_is_refused_and_nothing_is_bound(
    metric: Metric, owner: User, source: DataSource
) -> None:
    DataSource.objects.filter(pk=source.pk).delete()

    with changes_nothing(bindings), pytest.raises(SourceDeleted):
        metric.bind(source, owner, query="up")
