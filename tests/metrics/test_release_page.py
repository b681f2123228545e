"""The release page as a person reads it: no score that reads as a pass while the verdict
waits, minutes as people say them, and a history in an order no one can misread."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from metrics.formatting import minutes
from metrics.models import Gate, GateMetric, Metric, Release
from tests.api.test_gates import trained
from tests.pages import table_rows

GOOD_VALUE = 900  # rule_data's rule: a rollout whatever the minutes


@pytest.fixture
def release(owner: User) -> Release:
    """A release on a gate of two metrics that count, started 3 hours ago."""
    gate = Gate.objects.create(name="Checkout deploys", owner=owner, pass_score=80, marginal_score=50)
    for name in ("Error rate", "p95 latency"):
        GateMetric.objects.create(gate=gate, metric=trained(owner, name), weight=1)
    return Release.objects.create(
        gate=gate, name="checkout-web", created_by=owner, started_at=timezone.now() - timedelta(hours=3)
    )


def metric_named(release: Release, name: str) -> Metric:
    return release.gate.gate_metrics.get(metric__name=name).metric


def test_a_verdict_waiting_for_a_metric_shows_no_score_that_reads_as_a_pass(
    client: Client, owner: User, release: Release
) -> None:
    release.observe(metric_named(release, "Error rate"), GOOD_VALUE, owner, minutes=12)
    release.answer(owner)
    client.force_login(owner)

    response = client.get(release.get_absolute_url())

    html = response.content.decode()
    assert "Inconclusive" in html
    assert "Score 100 of 100" not in html
    assert "No score while the verdict waits: it is given once every metric that counts is observed." in html
    history = table_rows(response, "release-history")
    assert len(history) == 1
    assert history[0][2].startswith("Inconclusive (waiting)")
    assert history[0][3] == "—"


def test_a_verdict_no_longer_waiting_shows_its_score(client: Client, owner: User, release: Release) -> None:
    for name in ("Error rate", "p95 latency"):
        release.observe(metric_named(release, name), GOOD_VALUE, owner, minutes=12)
    release.answer(owner)
    client.force_login(owner)

    response = client.get(release.get_absolute_url())

    assert "Score 100 of 100 (pass 80, marginal 50)." in response.content.decode()
    assert table_rows(response, "release-history")[0][3] == "100"


def test_observations_show_minutes_and_moments_as_people_say_them(
    client: Client, owner: User, release: Release
) -> None:
    release.observe(metric_named(release, "Error rate"), GOOD_VALUE, owner, minutes=12.48)
    release.observe(metric_named(release, "p95 latency"), GOOD_VALUE, owner, minutes=125.5)
    release.observe(metric_named(release, "p95 latency"), GOOD_VALUE, owner)  # now: 3 hours in
    client.force_login(owner)

    rows = table_rows(client.get(release.get_absolute_url()), "observations")

    minutes_column = [row[2] for row in rows]
    when_column = [row[4] for row in rows]
    assert minutes_column == ["3 h 0 min", "2 h 5 min", "12 min"]
    assert when_column[0].startswith("just now")
    assert when_column[2].startswith("2 hours, 47 minutes ago")


def test_the_history_numbers_each_answer_and_shows_its_seconds(client: Client, owner: User, release: Release) -> None:
    release.observe(metric_named(release, "Error rate"), GOOD_VALUE, owner, minutes=1)
    same_minute = timezone.now().replace(second=10, microsecond=0) - timedelta(minutes=5)
    for seconds in (0, 20, 40):
        release.answer(owner, at=same_minute + timedelta(seconds=seconds))
    client.force_login(owner)

    rows = table_rows(client.get(release.get_absolute_url()), "release-history")

    assert [row[0] for row in rows] == ["#1", "#2", "#3"]
    asked = [row[1] for row in rows]
    assert len(set(asked)) == 3
    assert [text[-2:] for text in asked] == [
        f"{(same_minute + timedelta(seconds=s)).astimezone(timezone.get_current_timezone()).second:02d}"
        for s in (0, 20, 40)
    ]


def test_the_history_keeps_counting_past_the_points_it_shows(client: Client, owner: User, release: Release) -> None:
    start = timezone.now() - timedelta(hours=1)
    for number in range(5):
        release.answer(owner, at=start + timedelta(minutes=number))

    history = release.history(newest=3)

    assert [answer.number for answer in history] == [3, 4, 5]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "under 1 min"),
        (0.4, "under 1 min"),
        (1, "1 min"),
        (12.48, "12 min"),
        (59.9, "59 min"),
        (60, "1 h 0 min"),
        (125.5, "2 h 5 min"),
        (3000, "2 d 2 h"),
        (None, ""),
    ],
)
def test_minutes_read_as_people_say_them(value: float | None, shown: str) -> None:
    assert minutes(value) == shown


BAD_VALUE = 250  # rule_data's rule: a rollback after 10 minutes or more


def test_a_metric_over_its_failure_limit_shows_why_and_which_observations_caused_it(
    client: Client, owner: User, release: Release
) -> None:
    error_rate = metric_named(release, "Error rate")
    release.gate.gate_metrics.filter(metric=error_rate).update(critical=True)
    release.observe(metric_named(release, "p95 latency"), GOOD_VALUE, owner, minutes=12)
    spike = release.observe(error_rate, BAD_VALUE, owner, minutes=20)
    release.observe(error_rate, GOOD_VALUE, owner, minutes=30)
    release.answer(owner)
    client.force_login(owner)

    response = client.get(release.get_absolute_url())

    rows = {row[0]: row for row in table_rows(response, "release-metrics")}
    over_release = rows["Error rate critical"][3]
    assert over_release.startswith("Rollback (more rollbacks in the release than its failure limit)")
    assert "1 rollback in the release (failure limit 0)." in over_release
    assert "250 at 20 min: Rollback" in over_release
    assert rows["Error rate critical"][4] == "Rollout"  # its newest observation
    assert f'href="{spike.verdict.get_absolute_url()}"' in response.content.decode()
    html = response.content.decode()
    assert "Decided by: a critical metric&#x27;s failure limit." in html
    assert "Score 0 of 100" in html
    assert "Error rate: Rollback (over its failure limit)" in table_rows(response, "release-history")[0][4]


def test_a_metric_judged_on_its_newest_value_says_so(client: Client, owner: User, release: Release) -> None:
    release.gate.gate_metrics.update(judged_on="newest")
    for name in ("Error rate", "p95 latency"):
        release.observe(metric_named(release, name), GOOD_VALUE, owner, minutes=12)
    client.force_login(owner)

    rows = table_rows(client.get(release.get_absolute_url()), "release-metrics")

    assert rows[0][3] == "Rollout (its newest observation) Judged on its newest value only."


def test_the_release_page_reads_in_portuguese(client: Client, owner: User, release: Release) -> None:
    Gate.objects.filter(pk=release.gate_id).update(dry_run=True)
    release.gate.gate_metrics.update(critical=True)
    for name in ("Error rate", "p95 latency"):
        release.observe(metric_named(release, name), BAD_VALUE, owner, minutes=12)
    release.answer(owner)
    client.force_login(owner)

    html = client.get(release.get_absolute_url(), headers={"Accept-Language": "pt-br"}).content.decode()

    assert "Simulação: teria feito rollback." in html
    assert "Decidido por: uma métrica crítica diz rollback." in html
    assert "mais rollbacks na release do que seu limite de falhas" in html


def test_an_answer_kept_before_decided_by_shows_what_decided_from_its_rule(
    client: Client, owner: User, release: Release
) -> None:
    release.answers.create(
        state="rollback",
        score=20.0,
        rule="veto",
        metrics=[{"name": "Error rate", "state": "rollback", "counted": True}],
    )
    client.force_login(owner)

    history = table_rows(client.get(release.get_absolute_url()), "release-history")

    assert history[0][2] == "Rollback veto"
    assert history[0][4] == "Error rate: Rollback"
