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
from tests.pages import table_rows
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
    assert (pull.outcome, pull.observation, pull.source) == (
        PullOutcome.OK,
        Observation.objects.get(),
        DataSource.objects.get(name="prod"),
    )
    assert (pull.query_sent, pull.baseline_query_sent) == ('mb_pull_error_ratio{release="v-healthy"}', "")
    assert (pull.value, pull.canary_value, pull.baseline_value) == (GOOD_VALUE, GOOD_VALUE, None)
    assert pull.sampled_at is not None
    assert abs((pull.sampled_at - pull.pulled_at).total_seconds()) < 5
    release.refresh_from_db()
    assert release.next_pull_at == release.started_at + timedelta(minutes=20, seconds=10)  # its next due time


def test_a_pull_made_late_keeps_the_next_ones_at_their_start_plus_whole_intervals(
    owner: User, prometheus: PrometheusServer
) -> None:
    serving(prometheus, "v-on-time", GOOD_VALUE)
    release = started(bound_gate(owner, prometheus.url), version="v-on-time")  # every 10 s
    start = release.started_at

    dues = []
    for pulled_after in (7, 13, 36):  # late by 7 s, by 3 s, and by more than an interval
        [pull] = release.pull(start + timedelta(seconds=pulled_after))
        assert pull.outcome == PullOutcome.OK
        dues.append((release.next_pull_at - start).total_seconds())  # type: ignore[operator]

    assert dues == [10, 20, 40]  # not 17, 27 and 46: lateness does not add up, nor is 30 caught up


def test_a_pulled_value_is_judged_as_an_observation_pulled_from_a_data_source(
    owner: User, prometheus: PrometheusServer
) -> None:
    serving(prometheus, "v-judged", GOOD_VALUE)
    release = started(bound_gate(owner, prometheus.url), version="v-judged")

    release.pull()

    verdict = Observation.objects.get().verdict
    assert (verdict.source, verdict.value, verdict.asked_by) == (Source.PULL, GOOD_VALUE, None)
    assert verdict.minutes == pytest.approx(20, abs=0.1)
    assert release.verdict().state == VerdictState.ROLLOUT


def test_the_release_page_marks_its_pulled_observations(
    client: Client, owner: User, prometheus: PrometheusServer
) -> None:
    serving(prometheus, "v-marked", GOOD_VALUE)
    release = started(bound_gate(owner, prometheus.url), version="v-marked")
    release.pull()
    release.observe(release.gate.gate_metrics.get().metric, GOOD_VALUE, owner)
    client.force_login(owner)

    rows = table_rows(client.get(release.get_absolute_url()), "observations")

    assert [row[1] for row in rows] == ["900", "900 pulled"]


def test_a_rollout_verdict_does_not_end_pulling(owner: User, prometheus: PrometheusServer) -> None:
    serving(prometheus, "v-watched", GOOD_VALUE)
    release = started(bound_gate(owner, prometheus.url), version="v-watched")
    moment = timezone.now()

    for seconds in (0, 10, 20):
        release.pull(moment + timedelta(seconds=seconds))

    assert [pull.outcome for pull in pulled(release)] == [PullOutcome.OK] * 3
    assert release.verdict(moment + timedelta(seconds=20)).state == VerdictState.ROLLOUT
    release.refresh_from_db()
    assert release.next_pull_at == release.started_at + timedelta(minutes=20, seconds=30)  # its next due time
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


def store_down_mid_release(owner: User, prometheus: PrometheusServer, closed_port: int, missing_means: str) -> Release:
    """A release pulled every minute, whose store answers at its first two pulls and then goes
    down: five failed pulls 5, 10, 20 and 40 s apart, the fifth now, 135 s after the last value
    (a pulled metric is missing after two intervals, 2 min, when its gate waits less long)."""
    serving(prometheus, "v-outage", GOOD_VALUE)
    gate = bound_gate(
        owner, prometheus.url, pull_interval_seconds=60, missing_after_minutes=1.2, missing_means=missing_means
    )
    start = timezone.now() - timedelta(seconds=195)  # the pulls' clock
    release = started(gate, version="v-outage", at=start)
    for seconds in (0, 60):
        release.pull(start + timedelta(seconds=seconds))
    assert release.verdict(start + timedelta(seconds=60)).state == VerdictState.ROLLOUT
    DataSource.objects.update(url=f"http://127.0.0.1:{closed_port}")  # the store goes down
    for seconds in (120, 125, 135, 155, 195):
        release.pull(start + timedelta(seconds=seconds))
    release.refresh_from_db()
    return release


@pytest.mark.parametrize("missing_means", [VerdictState.INCONCLUSIVE, VerdictState.ROLLBACK])
def test_a_store_down_mid_release_is_retried_with_backoff_and_counted_as_missing(
    owner: User, prometheus: PrometheusServer, closed_port: int, missing_means: str
) -> None:
    release = store_down_mid_release(owner, prometheus, closed_port, missing_means)

    failures = pulled(release)[2:]
    assert [(pull.outcome, pull.error_kind, pull.failures_in_a_row) for pull in failures] == [
        (PullOutcome.FAILED, Kind.REFUSED, 1),
        (PullOutcome.FAILED, Kind.REFUSED, 2),
        (PullOutcome.FAILED, Kind.REFUSED, 3),
        (PullOutcome.FAILED, Kind.REFUSED, 4),
        (PullOutcome.FAILED, Kind.REFUSED, 5),
    ]
    assert release.verdict(failures[2].pulled_at).state == VerdictState.ROLLOUT  # 75 s: a pull may be late
    verdict = release.verdict(failures[-1].pulled_at)
    assert verdict.state == missing_means
    assert verdict.metrics[0].is_missing
    if missing_means == VerdictState.ROLLBACK:
        assert (release.next_pull_at, release.pulling_ended_because) == (None, PullingEnded.ROLLBACK)
    else:  # 5, 10, 20, 40, then the interval, 60 s, after the fifth failure
        assert release.next_pull_at == failures[-1].pulled_at + timedelta(seconds=60)


def test_the_release_page_says_in_plain_words_that_its_store_is_down_and_when_it_is_tried_again(
    client: Client, owner: User, prometheus: PrometheusServer, closed_port: int
) -> None:
    release = store_down_mid_release(owner, prometheus, closed_port, VerdictState.INCONCLUSIVE)
    client.force_login(owner)

    response = client.get(release.get_absolute_url())

    assert response.status_code == 200
    text = visible_text(response.content.decode())
    assert "Prometheus “prod” could not be asked, 5 times in a row;" in text
    assert re.search(
        r"next try in (5[5-9] s|1 min)\. The connection was refused: nothing answers at that address", text
    )
    assert "Inconclusive" in text


def test_the_release_page_says_when_a_store_down_ended_pulling(
    client: Client, owner: User, prometheus: PrometheusServer, closed_port: int
) -> None:
    release = store_down_mid_release(owner, prometheus, closed_port, VerdictState.ROLLBACK)
    client.force_login(owner)

    response = client.get(release.get_absolute_url())

    assert response.status_code == 200
    text = visible_text(response.content.decode())
    assert "Prometheus “prod” could not be asked, 5 times in a row; no next try: pulling ended." in text
    assert "Pulling ended on" in text
    assert "its verdict is rollback" in text
    assert "Rollback recommended" in text


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
