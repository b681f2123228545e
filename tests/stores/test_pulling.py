"""A release's bound metrics pulled from a real Prometheus while it is open: observations with
their provenance, a canary compared with its baseline, no data, a rollback that ends pulling,
and a store that goes down mid-release (the release page says so, the verdict follows the
gate's missing-data rule). Pulling without a store that answers: tests/metrics/test_pulling.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from metrics import tasks
from metrics.models import (
    Compare,
    DataSource,
    Metric,
    MetricQuery,
    Observation,
    Pull,
    PullingEnded,
    PullOutcome,
    Release,
    Source,
    VerdictState,
)
from stores.errors import Kind
from tests.metrics.test_pulling import BAD_VALUE, GOOD_VALUE, bound_gate, pulled, started, visible_text
from tests.stores.conftest import PrometheusServer


def serving(prometheus: PrometheusServer, version: str, value: float) -> None:
    """The exporter's error ratio of release `version` is `value`, once Prometheus scraped it."""
    prometheus.set(f'mb_pull_error_ratio{{release="{version}"}}', str(value))
    prometheus.wait_for(f'mb_pull_error_ratio{{release="{version}"}}', str(value))


def test_a_release_is_pulled_from_its_start_with_each_observations_provenance(
    owner: User, prometheus: PrometheusServer
) -> None:
    serving(prometheus, "v-healthy", GOOD_VALUE)
    release = started(bound_gate(owner, prometheus.url), version="v-healthy")

    assert tasks.pull_due_releases() == 1

    [pull] = pulled(release)
    observation = Observation.objects.get()
    assert pull.observation == observation
    assert pull.outcome == PullOutcome.OK
    assert pull.source == DataSource.objects.get(name="prod")
    assert pull.query_sent == 'mb_pull_error_ratio{release="v-healthy"}'
    assert pull.baseline_query_sent == ""
    assert pull.value == pull.canary_value == GOOD_VALUE
    assert pull.baseline_value is None
    assert pull.sampled_at is not None
    assert abs((pull.sampled_at - pull.pulled_at).total_seconds()) < 5
    assert observation.verdict.source == Source.PULL
    assert observation.verdict.value == GOOD_VALUE
    assert observation.verdict.asked_by is None
    assert observation.verdict.minutes == pytest.approx(20, abs=0.1)
    release.refresh_from_db()
    assert release.next_pull_at == pull.pulled_at + timedelta(seconds=10)
    assert release.verdict().state == VerdictState.ROLLOUT


def test_a_rollout_verdict_does_not_end_pulling(owner: User, prometheus: PrometheusServer) -> None:
    serving(prometheus, "v-watched", GOOD_VALUE)
    release = started(bound_gate(owner, prometheus.url), version="v-watched")
    moment = timezone.now()

    for seconds in (0, 10, 20):
        release.pull(moment + timedelta(seconds=seconds))

    assert [pull.outcome for pull in pulled(release)] == [PullOutcome.OK] * 3
    assert release.verdict(moment + timedelta(seconds=20)).state == VerdictState.ROLLOUT
    release.refresh_from_db()
    assert release.next_pull_at == moment + timedelta(seconds=30)
    assert release.pulling_ended_at is None


def test_a_rollback_verdict_ends_pulling(owner: User, prometheus: PrometheusServer) -> None:
    serving(prometheus, "v-bad", BAD_VALUE)
    release = started(bound_gate(owner, prometheus.url), version="v-bad")

    [pull] = release.pull()

    release.refresh_from_db()
    assert release.verdict().state == VerdictState.ROLLBACK
    assert release.next_pull_at is None
    assert release.pulling_ended_at == pull.pulled_at
    assert release.pulling_ended_because == PullingEnded.ROLLBACK
    assert release.pull(pull.pulled_at + timedelta(minutes=5)) == []
    assert tasks.pull_due_releases() == 0
    assert len(pulled(release)) == 1


def test_a_canary_compared_with_its_baseline_keeps_both_raw_numbers(owner: User, prometheus: PrometheusServer) -> None:
    serving(prometheus, "v-canary", 1000)
    serving(prometheus, "stable", 300)
    gate = bound_gate(owner, prometheus.url)
    MetricQuery.objects.update(
        query="mb_pull_error_ratio{ {{ selector }} }",
        compare=Compare.DIFFERENCE,
        canary_selector='release="{{ version }}"',
        baseline_selector='release="stable"',
    )
    release = started(gate, version="v-canary")

    [pull] = release.pull()

    assert pull.outcome == PullOutcome.OK
    assert (pull.canary_value, pull.baseline_value, pull.value) == (1000, 300, 700)
    assert pull.query_sent == 'mb_pull_error_ratio{ release="v-canary" }'
    assert pull.baseline_query_sent == 'mb_pull_error_ratio{ release="stable" }'
    assert pull.observation is not None
    assert pull.observation.verdict.value == 700


def test_the_window_is_the_whole_minutes_since_the_start(owner: User, prometheus: PrometheusServer) -> None:
    serving(prometheus, "v-window", GOOD_VALUE)
    gate = bound_gate(owner, prometheus.url)
    MetricQuery.objects.update(query='max_over_time(mb_pull_error_ratio{release="{{ version }}"}[{{ window }}m])')
    release = started(gate, minutes_ago=0.2, version="v-window")

    [first] = release.pull()
    [later] = release.pull(release.started_at + timedelta(minutes=7, seconds=40))

    assert first.query_sent == 'max_over_time(mb_pull_error_ratio{release="v-window"}[1m])'
    assert later.query_sent == 'max_over_time(mb_pull_error_ratio{release="v-window"}[7m])'


@pytest.mark.parametrize("missing_means", [VerdictState.INCONCLUSIVE, VerdictState.ROLLBACK])
def test_no_data_is_recorded_as_such_and_then_counts_as_missing(
    owner: User, prometheus: PrometheusServer, missing_means: str
) -> None:
    gate = bound_gate(owner, prometheus.url, missing_after_minutes=1, missing_means=missing_means)
    release = started(gate, version="never-deployed")
    moment = timezone.now() - timedelta(minutes=3)
    Release.objects.filter(pk=release.pk).update(started_at=moment)  # started 3 minutes ago
    release.refresh_from_db()

    [pull] = release.pull(moment + timedelta(seconds=30))

    assert pull.outcome == PullOutcome.NO_DATA
    assert pull.error_kind == Kind.NO_DATA
    assert pull.failures_in_a_row == 0
    assert pull.observation is None
    assert pull.query_sent == 'mb_pull_error_ratio{release="never-deployed"}'
    assert not Observation.objects.exists()
    release.refresh_from_db()
    assert release.next_pull_at == pull.pulled_at + timedelta(seconds=10)  # an answer: the interval

    verdict = release.verdict(moment + timedelta(seconds=61))
    assert verdict.state == missing_means
    assert verdict.metrics[0].is_missing


def test_a_series_that_vanishes_mid_release_is_no_data_and_then_missing(
    owner: User, prometheus: PrometheusServer
) -> None:
    serving(prometheus, "v-vanishing", GOOD_VALUE)
    gate = bound_gate(owner, prometheus.url, missing_after_minutes=1, missing_means=VerdictState.ROLLBACK)
    release = started(gate, version="v-vanishing")
    moment = timezone.now()
    release.pull(moment)
    with prometheus.exporter.lock:
        del prometheus.exporter.values['mb_pull_error_ratio{release="v-vanishing"}']
    prometheus.wait_for('absent(mb_pull_error_ratio{release="v-vanishing"})', "1")

    for seconds in (10, 20, 30):
        release.pull(moment + timedelta(seconds=seconds))

    assert [pull.outcome for pull in pulled(release)] == [PullOutcome.OK] + [PullOutcome.NO_DATA] * 3
    assert release.verdict(moment + timedelta(seconds=50)).state == VerdictState.ROLLOUT
    verdict = release.verdict(moment + timedelta(seconds=61))
    assert verdict.state == VerdictState.ROLLBACK
    assert verdict.metrics[0].is_missing


@pytest.mark.parametrize("missing_means", [VerdictState.INCONCLUSIVE, VerdictState.ROLLBACK])
def test_a_store_down_mid_release_is_retried_with_backoff_shown_and_counted_as_missing(
    client: Client, owner: User, prometheus: PrometheusServer, closed_port: int, missing_means: str
) -> None:
    serving(prometheus, "v-outage", GOOD_VALUE)
    gate = bound_gate(
        owner, prometheus.url, pull_interval_seconds=60, missing_after_minutes=1.2, missing_means=missing_means
    )
    now = timezone.now()
    start = now - timedelta(seconds=135)  # the pulls' clock: the third failure is now
    release = started(gate, version="v-outage", at=start)
    for seconds in (0, 60):
        release.pull(start + timedelta(seconds=seconds))
    assert release.verdict(start + timedelta(seconds=60)).state == VerdictState.ROLLOUT

    DataSource.objects.update(url=f"http://127.0.0.1:{closed_port}")  # the store goes down
    for seconds in (120, 125, 135):
        release.pull(start + timedelta(seconds=seconds))

    failures = pulled(release)[2:]
    assert [(pull.outcome, pull.failures_in_a_row) for pull in failures] == [
        (PullOutcome.FAILED, 1),
        (PullOutcome.FAILED, 2),
        (PullOutcome.FAILED, 3),
    ]
    assert {pull.error_kind for pull in failures} == {Kind.REFUSED}
    verdict = release.verdict(now)
    assert verdict.state == missing_means
    assert verdict.metrics[0].is_missing
    release.refresh_from_db()
    if missing_means == VerdictState.ROLLBACK:
        assert release.pulling_ended_because == PullingEnded.ROLLBACK
    else:
        assert release.next_pull_at == start + timedelta(seconds=155)  # 5, 10, then 20 s after the third

    client.force_login(owner)
    response = client.get(release.get_absolute_url())
    assert response.status_code == 200
    text = visible_text(response.content.decode())
    assert "Prometheus “prod” could not be asked, 3 times in a row;" in text
    assert "The connection was refused: nothing answers at that address and port." in text
    if missing_means == VerdictState.ROLLBACK:
        assert "no next try: pulling ended" in text
    else:
        assert re.search(r"next try in (1[5-9]|20) s\.", text)


def test_one_failing_source_does_not_stop_another_releases_pulls(
    owner: User, prometheus: PrometheusServer, silent_port: int
) -> None:
    serving(prometheus, "v-fine", GOOD_VALUE)
    healthy = started(bound_gate(owner, prometheus.url), version="v-fine")
    hanging_metric = Metric.objects.create(name="latency", owner=owner)
    hanging_gate = bound_gate(owner, prometheus.url, metric=hanging_metric)
    hung = DataSource.objects.create(owner=owner, name="hung", url=f"http://127.0.0.1:{silent_port}", timeout_seconds=1)
    MetricQuery.objects.filter(metric=hanging_metric).update(source=hung)
    hanging = started(hanging_gate, version="v-hung")

    assert tasks.pull_due_releases() == 2

    [failed] = pulled(hanging)
    assert failed.outcome == PullOutcome.FAILED
    assert failed.error_kind == Kind.TIMEOUT
    [fine] = pulled(healthy)
    assert fine.outcome == PullOutcome.OK


def test_a_metric_with_no_trained_model_fails_its_pull_with_that_reason(
    client: Client, owner: User, prometheus: PrometheusServer
) -> None:
    serving(prometheus, "v-untrained", GOOD_VALUE)
    untrained = Metric.objects.create(name="fresh metric", owner=owner)
    release = started(bound_gate(owner, prometheus.url, metric=untrained), version="v-untrained")

    [pull] = release.pull()

    assert pull.outcome == PullOutcome.FAILED
    assert pull.error_kind == "no_model"
    assert pull.value == GOOD_VALUE  # read, but not judged
    assert pull.failures_in_a_row == 1
    assert pull.observation is None
    assert not Pull.objects.filter(observation__isnull=False).exists()
    client.force_login(owner)
    text = visible_text(client.get(release.get_absolute_url()).content.decode())
    assert "The value of “fresh metric” could not be judged, 1 time in a row;" in text
    assert "“fresh metric” has no trained model yet." in text
