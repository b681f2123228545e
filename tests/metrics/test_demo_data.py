"""`demo_data` gives `make run` the same demo metrics as before it was shared with the benchmarks;
`load_demo` makes of them the gate the README describes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command

from metrics.demo import DEMO_METRICS, REQUESTS_PER_MINUTE, demo_data, requests_per_minute
from metrics.models import Gate, Indicator, Metric, Observation, Release


def test_demo_data_draws_the_rows_load_demo_always_stored() -> None:
    # Figures of load_demo's own draws (seed 2024, 400 rows a metric) before demo_data existed.
    expected = {
        "Requests per minute": (258_011.31, 25_575.0, 149, [859.62, 375.04, 474.92], [25.0, 104.0, 92.0]),
        "Error rate (%)": (2_489.19, 18_370.0, 306, [9.71, 5.03, 4.25], [72.0, 60.0, 43.0]),
        "p95 latency (ms)": (407_178.5, 11_889.0, 246, [931.83, 1802.5, 325.25], [7.0, 27.0, 6.0]),
    }

    drawn = {
        metric.name: (round(sum(data.values), 2), sum(data.times), sum(data.decisions), data.values[:3], data.times[:3])
        for metric, data in demo_data()
    }

    assert drawn == expected
    assert [metric.name for metric in DEMO_METRICS] == list(expected)


def test_the_benchmarks_rows_follow_the_demo_rule_with_the_noise_asked() -> None:
    data = requests_per_minute(20_000, seed=7, noise=0.1)

    values, times = np.array(data.values), np.array(data.times)
    by_rule = REQUESTS_PER_MINUTE.rule(values, times).astype(int)
    other_way = float(np.mean(by_rule != np.array(data.decisions)))

    assert len(data) == 20_000
    assert 0.09 < other_way < 0.11
    assert values.min() >= 150
    assert values.max() <= 1200


def test_the_same_seed_gives_the_same_rows_and_another_seed_others() -> None:
    assert requests_per_minute(50, seed=3) == requests_per_minute(50, seed=3)
    assert requests_per_minute(50, seed=3) != requests_per_minute(50, seed=4)


@pytest.fixture
def demo(db: None) -> Gate:
    """What `make run` loads: the demo metrics, their models, and the gate "Checkout deploys"."""
    call_command("load_demo", stdout=io.StringIO(), stderr=io.StringIO())
    return Gate.objects.get(name="Checkout deploys")


def test_the_demo_gate_has_a_critical_metric_each_metric_a_bad_direction_and_two_releases(demo: Gate) -> None:
    directions = dict(Metric.objects.values_list("name", "bad_direction"))
    rows = demo.gate_metrics.order_by("pk").values_list(
        "metric__name", "critical", "observe_only", "judged_on", "failure_limit"
    )

    assert directions == {"Error rate (%)": "higher", "Requests per minute": "lower", "p95 latency (ms)": "higher"}
    assert list(rows) == [
        ("Error rate (%)", True, False, "release", 0),
        ("Requests per minute", False, False, "release", 0),
        ("p95 latency (ms)", False, True, "release", 0),
    ]
    # Release 1 is the README's (the first made); the spike's was made after it, started the day before.
    assert [str(release) for release in Release.objects.order_by("pk")] == [
        "checkout-web v42",
        "checkout-web v41",
        "checkout-web v40",
        "checkout-web v39",
        "checkout-web v38",
        "checkout-web v37",
    ]
    assert Release.objects.get(version="v42").observations.count() == 5


def test_the_demo_release_whose_error_rate_spiked_stays_rolled_back_after_good_values(demo: Gate) -> None:
    release = Release.objects.get(gate=demo, version="v41")
    error_rate = release.observations.filter(metric__name="Error rate (%)").order_by("observed_at")

    verdict = release.verdict()

    assert [(o.verdict.value, o.verdict.state) for o in error_rate.select_related("verdict")] == [
        (7.5, "rollback"),
        (0.6, "rollout"),
        (0.5, "rollout"),
    ]
    assert (verdict.state, verdict.decided_by) == ("rollback", "failure_limit")


def test_the_demo_gate_has_a_track_record_of_outcomes_labelled_into_its_metrics(demo: Gate) -> None:
    judged = dict(demo.releases.values_list("version", "outcome"))
    was = {release.version: release.gate_was for release in demo.releases.all()}

    assert judged == {
        "v42": "",  # the release going on now
        "v41": "rollback",
        "v40": "rollout",
        "v39": "rollback",
        "v38": "rollout",
        "v37": "rollout",
    }
    assert was == {"v42": "", "v41": "right", "v40": "right", "v39": "right", "v38": "wrong", "v37": "inconclusive"}
    labelled = Indicator.objects.filter(batch__release__gate=demo, batch__undone_at__isnull=True)
    observed = Observation.objects.filter(release__gate=demo).exclude(release__version="v42")
    assert labelled.count() == observed.count()
    assert all(label.observation is not None for label in labelled.select_related("observation"))


def test_the_demo_gate_has_a_finished_replay_of_its_releases_with_an_outcome(demo: Gate) -> None:
    replay = demo.replays.get()

    rows = {row.version: (row.verdict, row.stopped_minute) for row in replay.replayed.all()}
    assert rows == {
        "v41": ("rollback", 5),  # the error-rate spike five minutes in
        "v40": ("rollout", None),
        "v39": ("rollback", 12),
        "v38": ("rollback", 12),  # the payment partner's outage: a false rollback, as the gate said then
        "v37": ("", None),  # its requests were never observed
    }
    figures = replay.figures
    assert (figures.releases, figures.judged, figures.caught, figures.false_rollbacks) == (5, 4, 2, 1)
    assert figures.is_thin
    not_judged = replay.replayed.get(version="v37")
    assert not_judged.not_judged_words() == "“Requests per minute” was never observed in it."
