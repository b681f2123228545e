"""A CloudWatch data source through the domain, against moto's server (tests/stores/conftest.py):
a metric bound to a CloudWatch metric (its dimensions templates of the release's key or the
side's selector) previewed, a release pulled from it, a history filled from it minute by
minute, and a canary compared with its baseline by two values of one dimension. Its Test
connection: tests/stores/test_source_connection.py; the store alone: tests/stores/test_cloudwatch.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from metrics.models import (
    Compare,
    DataSource,
    Gate,
    GateMetric,
    ImportBatch,
    JobStatus,
    Metric,
    MetricQuery,
    Observation,
    PullOutcome,
    Source,
    SourceAuth,
    SourceKind,
    Variables,
)
from stores.errors import Kind, NoData
from tests.api.test_gates import trained
from tests.metrics.test_pulling import GOOD_VALUE, started
from tests.stores.conftest import (
    CHECKOUT,
    CLOUDWATCH_NAMESPACE,
    CLOUDWATCH_START,
    AccessKey,
    CloudWatchServer,
    history_value,
)
from tests.stores.test_fill import fill_file

CHECKOUT_DIMENSIONS = [{"name": name, "value": value} for name, value in CHECKOUT]
# A dimension naming the release's deployer key, as a pod template hash.
BY_KEY = [{"name": "PodTemplateHash", "value": "{{ key }}"}]
# A key moto takes while it does not check keys (outside `checking_credentials`).
ANY_KEY = AccessKey("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def cloudwatch_source(owner: User, cloudwatch: CloudWatchServer, key: AccessKey = ANY_KEY, **fields) -> DataSource:
    """A CloudWatch source whose endpoint is moto's server: made as stored, not through the form,
    which asks for an https endpoint where moto's speaks plain http."""
    source = DataSource(
        owner=owner,
        name=fields.pop("name", "AWS eu-west-1"),
        kind=SourceKind.CLOUDWATCH,
        region="eu-west-1",
        url=cloudwatch.url,
        namespace=CLOUDWATCH_NAMESPACE,
        auth=SourceAuth.ACCESS_KEY,
        username=key.access_key_id,
        timeout_seconds=5,
        **fields,
    )
    source.set_secret(key.secret_access_key)
    source.save()
    return source


def bound_to_cloudwatch(metric: Metric, source: DataSource, metric_name: str, **binding) -> MetricQuery:
    fields = {"dimensions": CHECKOUT_DIMENSIONS, "statistic": "Average", "period_seconds": 60}
    return MetricQuery.objects.create(metric=metric, source=source, metric_name=metric_name, **(fields | binding))


def compared_services(metric: Metric, source: DataSource, metric_name: str = "ErrorRatio") -> MetricQuery:
    """The canary is the checkout service, its baseline the search service: one dimension, two values."""
    return bound_to_cloudwatch(
        metric,
        source,
        metric_name,
        dimensions=[{"name": "Service", "value": "{{ selector }}"}],
        compare=Compare.RATIO,
        canary_selector="checkout",
        baseline_selector="search",
    )


def last_minute() -> datetime:
    return timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)


# Preview


def test_a_preview_of_a_cloudwatch_metric_is_its_newest_datapoint_with_the_key_in_a_dimension(
    cloudwatch: CloudWatchServer, metric: Metric, owner: User
) -> None:
    minute = last_minute()
    cloudwatch.put("PreviewLatency", (("Release", "7d9f8"),), {minute - timedelta(minutes=1): 0.4, minute: 0.3})
    cloudwatch.put("PreviewLatency", (("Release", "other"),), {minute: 9.0})
    query = bound_to_cloudwatch(
        metric,
        cloudwatch_source(owner, cloudwatch),
        "PreviewLatency",
        dimensions=[{"name": "Release", "value": "{{ key }}"}],
    )

    preview = query.preview(Variables(key="7d9f8", window=5))

    assert (preview.value, preview.canary, preview.baseline, preview.reason) == (0.3, 0.3, None, "")
    assert preview.sampled_at == minute
    assert preview.query_sent == (
        '{"namespace":"MakeOrBreak/Test","metric":"PreviewLatency","dimensions":{"Release":"7d9f8"},'
        '"statistic":"Average","period":60}'
    )


def test_a_preview_of_a_cloudwatch_metric_without_datapoints_says_so(
    cloudwatch: CloudWatchServer, metric: Metric, owner: User
) -> None:
    query = bound_to_cloudwatch(metric, cloudwatch_source(owner, cloudwatch), "NeverPut")

    preview = query.preview()

    assert (preview.value, preview.error_kind) == (None, Kind.NO_DATA)
    assert preview.reason.startswith("No data: no series matches the query.")


def test_a_preview_compares_the_canary_with_its_baseline_by_two_values_of_a_dimension(
    cloudwatch: CloudWatchServer, metric: Metric, owner: User
) -> None:
    minute = last_minute()
    cloudwatch.put("LiveErrorRatio", (("Service", "checkout"),), {minute: 0.03})
    cloudwatch.put("LiveErrorRatio", (("Service", "search"),), {minute: 0.01})
    query = compared_services(metric, cloudwatch_source(owner, cloudwatch), "LiveErrorRatio")

    preview = query.preview()

    assert (preview.canary, preview.baseline) == (0.03, 0.01)
    assert preview.value == pytest.approx(3.0)
    assert '"dimensions":{"Service":"checkout"}' in preview.query_sent
    assert '"dimensions":{"Service":"search"}' in preview.baseline_query_sent


# Pulled during a release


def test_a_release_is_pulled_from_cloudwatch_with_its_key_and_provenance(
    cloudwatch: CloudWatchServer, owner: User
) -> None:
    metric = trained(owner, "error rate")
    gate = Gate.objects.create(name="Checkout", owner=owner, pull_interval_seconds=10)
    GateMetric.objects.create(gate=gate, metric=metric, weight=1, critical=True)
    source = cloudwatch_source(owner, cloudwatch)
    bound_to_cloudwatch(metric, source, "PulledErrors", dimensions=BY_KEY)
    release = started(gate, minutes_ago=5, version="v7")
    minute = last_minute()
    cloudwatch.put("PulledErrors", (("PodTemplateHash", "v7-hash"),), {minute: GOOD_VALUE})
    cloudwatch.put("PulledErrors", (("PodTemplateHash", "v6-hash"),), {minute: 1.0})
    now = timezone.now()

    [pull] = release.pull(now)

    assert (pull.outcome, pull.source, pull.pulled_at, pull.value, pull.canary_value) == (
        PullOutcome.OK,
        source,
        now,
        GOOD_VALUE,
        GOOD_VALUE,
    )
    assert pull.sampled_at == minute
    assert '"dimensions":{"PodTemplateHash":"v7-hash"}' in pull.query_sent
    observation = Observation.objects.get()
    assert (observation.verdict.value, observation.verdict.source, pull.observation) == (
        GOOD_VALUE,
        Source.PULL,
        observation,
    )
    # Due again at the release's start plus whole intervals: within the next 10 s.
    assert release.next_pull_at is not None
    assert now < release.next_pull_at <= now + timedelta(seconds=10)
    assert (release.next_pull_at - release.started_at).total_seconds() % 10 == 0


def test_a_release_whose_cloudwatch_metric_has_no_datapoint_is_recorded_as_no_data(
    cloudwatch: CloudWatchServer, owner: User
) -> None:
    metric = trained(owner, "error rate")
    gate = Gate.objects.create(name="Checkout", owner=owner, pull_interval_seconds=10)
    GateMetric.objects.create(gate=gate, metric=metric, weight=1, critical=True)
    bound_to_cloudwatch(
        metric,
        cloudwatch_source(owner, cloudwatch),
        "PulledErrors",
        dimensions=BY_KEY,
    )
    release = started(gate, minutes_ago=5, version="never-deployed")

    [pull] = release.pull(timezone.now())

    assert (pull.outcome, pull.error_kind, pull.observation) == (PullOutcome.NO_DATA, Kind.NO_DATA, None)
    assert "PulledErrors" in pull.detail
    assert not Observation.objects.exists()


# History filled from it


def test_a_history_fill_reads_each_minute_as_the_datapoint_of_the_period_ending_then(
    cloudwatch: CloudWatchServer, metric: Metric, owner: User
) -> None:
    """A 60 s datapoint stamped 10:10 stands for 10:10 to 10:11: it is minute 1 of a release that
    started at 10:10."""
    query = bound_to_cloudwatch(metric, cloudwatch_source(owner, cloudwatch), "ErrorRatio")
    start = CLOUDWATCH_START + timedelta(minutes=10)

    measured = query.measure_series(Variables(key="any"), start, start + timedelta(minutes=5))

    assert [(minute.minutes, minute.value) for minute in measured] == [(m, history_value(9 + m)) for m in range(1, 6)]
    assert [minute.sampled_at for minute in measured] == [start + timedelta(minutes=m - 1) for m in range(1, 6)]


def test_a_history_fill_of_a_release_started_between_two_minutes_reads_each_minute_once(
    cloudwatch: CloudWatchServer, metric: Metric, owner: User
) -> None:
    """CloudWatch starts a 60 s period on a whole minute, whatever moment is asked: a release
    started at 10:10:30 has as minute 1 the period 10:10 to 10:11 (the newest complete at
    10:11:30), as minute 2 the next, and so on, each once."""
    query = bound_to_cloudwatch(metric, cloudwatch_source(owner, cloudwatch), "ErrorRatio")
    start = CLOUDWATCH_START + timedelta(minutes=10, seconds=30)

    measured = query.measure_series(Variables(key="any"), start, start + timedelta(minutes=5))

    assert [(minute.minutes, minute.value) for minute in measured] == [(m, history_value(9 + m)) for m in range(1, 6)]


def test_a_history_fill_over_five_minute_periods_gives_every_fifth_minute(
    cloudwatch: CloudWatchServer, metric: Metric, owner: User
) -> None:
    query = bound_to_cloudwatch(metric, cloudwatch_source(owner, cloudwatch), "ErrorRatio", period_seconds=300)

    measured = query.measure_series(Variables(), CLOUDWATCH_START, CLOUDWATCH_START + timedelta(minutes=15))

    assert [minute.minutes for minute in measured] == [5, 10, 15]
    averages = [sum(history_value(m) for m in range(first, first + 5)) / 5 for first in (0, 5, 10)]
    assert [minute.value for minute in measured] == pytest.approx(averages)


def test_a_history_fill_compares_the_canary_with_its_baseline_minute_by_minute(
    cloudwatch: CloudWatchServer, metric: Metric, owner: User
) -> None:
    query = compared_services(metric, cloudwatch_source(owner, cloudwatch))
    start = CLOUDWATCH_START + timedelta(minutes=20)

    measured = query.measure_series(Variables(), start, start + timedelta(minutes=3))

    assert [(minute.minutes, minute.canary, minute.baseline) for minute in measured] == [
        (m, history_value(19 + m), 0.5) for m in range(1, 4)
    ]
    assert [minute.value for minute in measured] == pytest.approx([history_value(19 + m) / 0.5 for m in range(1, 4)])


def test_a_history_fill_of_a_window_cloudwatch_has_nothing_in_is_no_data(
    cloudwatch: CloudWatchServer, metric: Metric, owner: User
) -> None:
    query = bound_to_cloudwatch(
        metric, cloudwatch_source(owner, cloudwatch), "ErrorRatio", dimensions=CHECKOUT_DIMENSIONS
    )
    start = CLOUDWATCH_START - timedelta(hours=1)

    with pytest.raises(NoData):
        query.measure_series(Variables(), start, start + timedelta(minutes=10))


def test_a_history_fill_from_cloudwatch_stores_each_minute_with_its_decision_as_a_batch_of_the_source(
    cloudwatch: CloudWatchServer, metric: Metric, owner: User
) -> None:
    source = cloudwatch_source(owner, cloudwatch)
    bound_to_cloudwatch(metric, source, "ErrorRatio")
    releases = [(CLOUDWATCH_START + timedelta(minutes=first), decision) for first, decision in ((10, 0), (30, 1))]
    rows = [f"{start.isoformat().replace('+00:00', 'Z')},{decision}" for start, decision in releases]

    job = metric.queue_fill(fill_file(*rows), 5, owner, file_name="releases.csv")

    job.refresh_from_db()
    assert (job.status, job.done) == (JobStatus.DONE, 10)
    stored = list(metric.indicators.order_by("pk").values_list("value", "decision", "time"))
    assert stored == [
        (history_value(first + minute - 1), decision, float(minute))
        for first, decision in ((10, 0), (30, 1))
        for minute in range(1, 6)
    ]
    batch = ImportBatch.objects.get()
    assert (batch.source, batch.fill_minutes, batch.rows) == (source, 5, 10)


def test_a_cloudwatch_fill_asks_all_its_questions_with_one_client_for_each_reader(
    cloudwatch: CloudWatchServer, metric: Metric, owner: User, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MBREAK_FILL_READERS = 2
    compared_services(metric, cloudwatch_source(owner, cloudwatch))
    starts = [CLOUDWATCH_START + timedelta(minutes=10 * index) for index in range(1, 5)]
    rows = [f"{start.isoformat().replace('+00:00', 'Z')},{index % 2}" for index, start in enumerate(starts)]
    made: list[boto3.session.Session] = []

    class Counted(boto3.session.Session):  # a real session, counted: each client is made from one
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(boto3.session, "Session", Counted)

    job = metric.queue_fill(fill_file(*rows), 3, owner, file_name="releases.csv")

    job.refresh_from_db()
    assert (job.status, job.done) == (JobStatus.DONE, 12), job.outcome()  # 8 questions: canary and baseline of 4
    assert 1 <= len(made) <= 2


def test_a_baseline_published_later_is_compared_with_the_canary_of_its_own_period(
    cloudwatch: CloudWatchServer, metric: Metric, owner: User
) -> None:
    """CloudWatch publishes each series' newest period when it can: a canary already has the last
    minute when its baseline does not yet. Both are read in the newest period both have."""
    minute = last_minute()
    cloudwatch.put("LaggingErrorRatio", (("Service", "checkout"),), {minute - timedelta(minutes=1): 0.02, minute: 0.09})
    cloudwatch.put("LaggingErrorRatio", (("Service", "search"),), {minute - timedelta(minutes=1): 0.01})
    query = compared_services(metric, cloudwatch_source(owner, cloudwatch), "LaggingErrorRatio")

    measured = query.measure(Variables(window=5))
    preview = query.preview()

    assert (measured.canary, measured.baseline, measured.value) == (0.02, 0.01, 2.0)
    assert measured.sampled_at == minute - timedelta(minutes=1)
    assert (preview.canary, preview.baseline, preview.value) == (0.02, 0.01, 2.0)


def test_a_canary_and_a_baseline_with_no_period_in_common_give_no_value(
    cloudwatch: CloudWatchServer, metric: Metric, owner: User
) -> None:
    minute = last_minute()
    cloudwatch.put("ApartErrorRatio", (("Service", "checkout"),), {minute: 0.09})
    cloudwatch.put("ApartErrorRatio", (("Service", "search"),), {minute - timedelta(minutes=1): 0.01})
    query = compared_services(metric, cloudwatch_source(owner, cloudwatch), "ApartErrorRatio")

    with pytest.raises(NoData) as no_value:
        query.measure(Variables(window=5))
    preview = query.preview()

    assert no_value.value.kind == Kind.NO_DATA
    assert (preview.value, preview.error_kind) == (None, Kind.NO_DATA)
    assert "no period in which both" in preview.reason


def test_a_canary_published_later_is_compared_with_the_baseline_of_its_own_period(
    cloudwatch: CloudWatchServer, metric: Metric, owner: User
) -> None:
    minute = last_minute()
    cloudwatch.put("LateCanaryErrorRatio", (("Service", "checkout"),), {minute - timedelta(minutes=1): 0.03})
    cloudwatch.put("LateCanaryErrorRatio", (("Service", "search"),), {minute - timedelta(minutes=1): 0.01, minute: 0.5})
    query = compared_services(metric, cloudwatch_source(owner, cloudwatch), "LateCanaryErrorRatio")

    measured = query.measure(Variables(window=5))

    assert (measured.canary, measured.baseline) == (0.03, 0.01)
    assert measured.value == pytest.approx(3.0)


def test_a_baseline_with_no_datapoint_at_all_is_named_as_the_side_without_data(
    cloudwatch: CloudWatchServer, metric: Metric, owner: User
) -> None:
    cloudwatch.put("LonelyErrorRatio", (("Service", "checkout"),), {last_minute(): 0.03})
    query = compared_services(metric, cloudwatch_source(owner, cloudwatch), "LonelyErrorRatio")

    preview = query.preview()

    assert (preview.canary, preview.baseline, preview.value) == (0.03, None, None)
    assert preview.reason.startswith("The baseline: No data: no series matches the query. no datapoint of")
    assert "{Service=search}" in preview.reason


@pytest.mark.parametrize(
    ("days_ago", "period_seconds", "read_over_minutes"), [(20, 60, 5), (70, 60, 60), (20, 600, 10), (20, 420, 10)]
)
def test_a_history_fill_of_an_old_release_asks_the_shortest_period_cloudwatch_keeps_for_its_age(
    cloudwatch: CloudWatchServer,
    metric: Metric,
    owner: User,
    days_ago: int,
    period_seconds: int,
    read_over_minutes: int,
) -> None:
    """CloudWatch gives no datapoint of a period shorter than it keeps for a moment that old (1
    minute up to 15 days ago, 5 minutes up to 63 days, 1 hour beyond): an old release's minutes
    are read over such periods (a multiple of them), each the average of its minutes' datapoints."""
    start = CLOUDWATCH_START.replace(hour=0) - timedelta(days=days_ago)
    name = f"OldErrorRatio{days_ago}d{period_seconds}s"
    cloudwatch.put(name, CHECKOUT, {start + timedelta(minutes=m): float(m) for m in range(120)})
    query = bound_to_cloudwatch(metric, cloudwatch_source(owner, cloudwatch), name, period_seconds=period_seconds)

    measured = query.measure_series(Variables(), start, start + timedelta(minutes=60))

    ends = list(range(read_over_minutes, 61, read_over_minutes))
    assert [minute.minutes for minute in measured] == ends
    assert [minute.value for minute in measured] == pytest.approx([end - (read_over_minutes + 1) / 2 for end in ends])


def test_a_datapoint_from_before_the_release_started_is_no_data_for_it(
    cloudwatch: CloudWatchServer, owner: User
) -> None:
    """CloudWatch answers its newest period of the last three: at a release's first pull, that may
    be a period before it started, which is not the release's value."""
    metric = trained(owner, "error rate")
    gate = Gate.objects.create(name="Checkout", owner=owner, pull_interval_seconds=10)
    GateMetric.objects.create(gate=gate, metric=metric, weight=1, critical=True)
    bound_to_cloudwatch(metric, cloudwatch_source(owner, cloudwatch), "EarlyErrors", dimensions=BY_KEY)
    cloudwatch.put("EarlyErrors", (("PodTemplateHash", "v9-hash"),), {last_minute(): GOOD_VALUE})
    release = started(gate, minutes_ago=0, version="v9")

    [pull] = release.pull()

    assert (pull.outcome, pull.error_kind, pull.observation) == (PullOutcome.NO_DATA, Kind.NO_DATA, None)
    assert "its newest value is from before the release started" in pull.error_words
