"""GET /metrics: Make or Break's own figures in Prometheus' text format, equal to what the database
holds after a scripted scenario, read in as many queries however many metrics; with labels that
never name a release or a data source; for a metrics token or an allowed address only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import ApiToken, TokenScope
from metrics.models import DataSource, Delivery, Gate, Job, JobKind, Metric, Outcome, Pull, PullOutcome, Release
from metrics.prometheus import JOB_DURATION_BUCKETS
from tests.factories import MetricFactory, TrainedModelFactory
from tests.prometheus.scenario import (
    RELEASE_KEYS,
    SOURCE_NAME,
    expected_job_seconds,
    expected_judgements,
    expected_outcomes,
    expected_releases,
    expected_verdicts,
    family,
    figures,
    labels,
    metrics_token,
    scripted,
)

URL = "/metrics"


def scrape(client: Client, token: str):
    return client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def scraped(client: Client, owner: User) -> dict:
    scripted(owner)
    response = scrape(client, metrics_token(owner))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return figures(response.content.decode())


def test_verdicts_are_counted_by_metric_and_state(scraped: dict) -> None:
    found = family(scraped, "mbreak_verdicts")

    assert found == expected_verdicts()
    assert found[labels(metric_id=Metric.objects.get(name="Error rate").pk, metric="Error rate", state="rollback")] == 3


def test_releases_are_counted_by_gate_and_newest_verdict_answered(scraped: dict) -> None:
    found = family(scraped, "mbreak_releases")

    assert found == expected_releases()
    checkout = Release.objects.get(key=RELEASE_KEYS[0]).gate
    # Answered rollout twice, then rolled back: its newest answer is what counts.
    assert found[labels(gate_id=checkout.pk, gate="Checkout deploys", verdict="rollout")] == 1
    assert found[labels(gate_id=checkout.pk, gate="Checkout deploys", verdict="unanswered")] == 1


def test_outcomes_and_whether_the_gate_was_right_are_counted_by_gate(scraped: dict) -> None:
    outcomes = family(scraped, "mbreak_release_outcomes")
    judgements = family(scraped, "mbreak_gate_judgements")

    assert outcomes == expected_outcomes()
    assert judgements == expected_judgements()
    checkout = Release.objects.get(key=RELEASE_KEYS[0]).gate_id
    assert {
        judgement: judgements[labels(gate_id=checkout, gate="Checkout deploys", judgement=judgement)]
        for judgement in ("right", "wrong", "inconclusive")
    } == {"right": 1, "wrong": 1, "inconclusive": 1}
    billing = Gate.objects.get(name="Billing deploys").pk
    assert judgements[labels(gate_id=billing, gate="Billing deploys", judgement="right")] == 0
    assert not any(dict(series)["gate"] == "Billing deploys" for series in outcomes)


def test_each_trained_metric_has_its_answering_versions_accuracy_and_age(scraped: dict) -> None:
    accuracy = family(scraped, "mbreak_model_accuracy")
    age = family(scraped, "mbreak_model_age_seconds")

    versions = {metric: metric.answering_model() for metric in Metric.objects.all()}
    answering = {metric: version for metric, version in versions.items() if version is not None}
    assert {metric.name for metric in answering} == {"Error rate", "p95 latency"}  # not "Queue depth"
    assert accuracy == {
        labels(metric_id=metric.pk, metric=metric.name): version.accuracy for metric, version in answering.items()
    }
    assert set(age) == set(accuracy)
    for metric, version in answering.items():
        trained_for = (timezone.now() - version.trained_at).total_seconds()
        assert age[labels(metric_id=metric.pk, metric=metric.name)] == pytest.approx(trained_for, abs=5)


def test_jobs_are_counted_queued_running_and_failed_by_kind(scraped: dict) -> None:
    assert family(scraped, "mbreak_jobs_queued") == {
        labels(kind="training"): 0,
        labels(kind="import"): Job.objects.filter(kind=JobKind.IMPORT, status="queued").count(),
        labels(kind="fill"): 0,
        labels(kind="replay"): 0,
    }
    assert family(scraped, "mbreak_jobs_running") == {
        labels(kind="training"): 0,
        labels(kind="import"): 0,
        labels(kind="fill"): 1,
        labels(kind="replay"): 0,
    }
    assert family(scraped, "mbreak_job_failures") == {
        labels(kind="training", failure="not_enough_data"): 1,
        labels(kind="import", failure="csv_errors"): 1,
        labels(kind="import", failure="unqueued"): 1,
    }


def test_the_durations_of_the_jobs_that_ran_are_bucketed_by_kind_and_end(scraped: dict) -> None:
    took = expected_job_seconds()

    assert family(scraped, "mbreak_job_duration_seconds_count") == {
        labels(kind=kind, status=status): len(seconds) for (kind, status), seconds in took.items()
    }
    assert family(scraped, "mbreak_job_duration_seconds_sum") == {
        labels(kind=kind, status=status): pytest.approx(sum(seconds)) for (kind, status), seconds in took.items()
    }
    buckets = family(scraped, "mbreak_job_duration_seconds_bucket")
    assert buckets == {
        labels(kind=kind, status=status, le=f"{bound:.1f}"): sum(1 for each in seconds if each <= bound)
        for (kind, status), seconds in took.items()
        for bound in JOB_DURATION_BUCKETS
    } | {labels(kind=kind, status=status, le="+Inf"): len(seconds) for (kind, status), seconds in took.items()}
    assert buckets[labels(kind="training", status="done", le="5.0")] == 1  # 3 s, not 40 s


def test_pull_failures_are_counted_by_source_id_and_kind(scraped: dict) -> None:
    failed = Pull.objects.filter(outcome=PullOutcome.FAILED)
    source = DataSource.objects.get(name=SOURCE_NAME).pk

    assert family(scraped, "mbreak_pull_failures") == {
        labels(source_id=source, kind="timeout"): failed.filter(error_kind="timeout").count(),
        labels(source_id=source, kind="refused"): failed.filter(error_kind="refused").count(),
    }


def test_webhook_deliveries_are_counted_by_status(scraped: dict) -> None:
    def count(status: str) -> int:
        return Delivery.objects.filter(status=status).count()

    assert family(scraped, "mbreak_webhook_deliveries") == {
        labels(status="delivered"): count("delivered"),
        labels(status="failed"): count("failed"),
    }
    assert family(scraped, "mbreak_webhook_deliveries_waiting") == {
        labels(status="pending"): count("pending"),
        labels(status="retrying"): count("retrying"),
    }
    assert count("delivered") == 2


def test_no_figure_names_a_release_or_a_data_source(client: Client, owner: User) -> None:
    scripted(owner)

    text = scrape(client, metrics_token(owner)).content.decode()

    assert all(key not in text for key in RELEASE_KEYS)
    assert SOURCE_NAME not in text
    names = {name for (_sample, series) in figures(text) for name, _value in series}
    assert names <= {
        "metric_id",
        "metric",
        "state",
        "gate_id",
        "gate",
        "verdict",
        "outcome",
        "judgement",
        "kind",
        "status",
        "failure",
        "source_id",
        "le",
    }


def grow_to(count: int, owner: User) -> None:
    """As many trained metrics, each with a verdict, a gate with a release that has an outcome, a
    failed job and a data source with a failed pull."""
    while Metric.objects.count() < count:
        metric = MetricFactory.create(owner=owner)
        TrainedModelFactory.create(metric=metric, trained_by=owner)
        metric.predict(900, 5, owner)
        gate = Gate.objects.create(name=f"Gate {metric.pk}", owner=owner, pass_score=80, marginal_score=50)
        release = Release.objects.create(gate=gate, name="r", outcome=Outcome.ROLLOUT, gate_said="rollout")
        started = timezone.now() - timedelta(seconds=2)
        Job.objects.create(
            kind=JobKind.IMPORT,
            metric=metric,
            status="failed",
            failure="error",
            started_at=started,
            finished_at=timezone.now(),
        )
        source = DataSource.objects.create(owner=owner, name=f"Source {metric.pk}", url="http://127.0.0.1:9")
        Pull.objects.create(
            release=release,
            metric=metric,
            source=source,
            minutes=1,
            outcome="failed",
            query_sent="up",
            error_kind="timeout",
        )


def test_a_scrape_takes_as_many_queries_for_3_metrics_and_gates_as_for_20(client: Client, owner: User) -> None:
    token = metrics_token(owner)
    scrape(client, token)  # its first use is written down (once a minute): not a figure's query

    def queries_for(count: int) -> tuple[int, int]:
        grow_to(count, owner)
        with CaptureQueriesContext(connection) as queries:
            response = scrape(client, token)
        return len(queries), len(family(figures(response.content.decode()), "mbreak_model_accuracy"))

    (few, three), (many, twenty) = queries_for(3), queries_for(20)
    assert (three, twenty) == (3, 20)
    assert few == many


# Who may scrape.


@pytest.mark.parametrize("scope", [TokenScope.READ, TokenScope.WRITE])
def test_a_token_of_the_api_is_refused_with_403_and_no_figure(client: Client, owner: User, scope: str) -> None:
    scripted(owner)
    _token, secret = ApiToken.objects.issue(owner, "pipeline", scope)

    response = scrape(client, secret)

    assert response.status_code == 403
    assert response.json()["code"] == "not_a_metrics_token"
    assert b"mbreak_" not in response.content


def test_without_a_token_or_with_a_wrong_one_the_answer_is_401_and_no_figure(client: Client, owner: User) -> None:
    scripted(owner)
    revoked, secret = ApiToken.objects.issue(owner, "old Prometheus", TokenScope.METRICS)
    revoked.revoke()

    answers = [client.get(URL), scrape(client, "mb_not-a-token"), scrape(client, secret)]

    assert [answer.status_code for answer in answers] == [401, 401, 401]
    assert answers[0]["WWW-Authenticate"] == 'Bearer realm="api"'
    assert all(b"mbreak_" not in answer.content for answer in answers)


def test_a_signed_in_browser_is_no_prometheus(client: Client, owner: User) -> None:
    client.force_login(owner)

    assert client.get(URL).status_code == 401


def test_an_allowed_address_scrapes_without_a_token_and_another_is_refused(
    client: Client, owner: User, settings
) -> None:
    scripted(owner)
    settings.MBREAK_METRICS_ALLOWED_ADDRESSES = ["10.0.0.0/8", "192.0.2.7"]

    allowed = [client.get(URL, REMOTE_ADDR="10.1.2.3"), client.get(URL, REMOTE_ADDR="192.0.2.7")]
    refused = [
        client.get(URL, REMOTE_ADDR="192.0.2.8"),
        # What a client writes in X-Forwarded-For is not its address: no trusted proxy wrote it.
        client.get(URL, REMOTE_ADDR="192.0.2.8", HTTP_X_FORWARDED_FOR="10.1.2.3"),
    ]

    assert [answer.status_code for answer in allowed] == [200, 200]
    assert all(b"mbreak_verdicts" in answer.content for answer in allowed)
    assert [answer.status_code for answer in refused] == [401, 401]
    assert all(b"mbreak_" not in answer.content for answer in refused)


def test_an_allowed_address_is_read_past_the_trusted_proxies(client: Client, owner: User, settings) -> None:
    settings.MBREAK_METRICS_ALLOWED_ADDRESSES = ["10.0.0.0/8"]
    settings.MBREAK_TRUSTED_PROXIES = ["127.0.0.1"]

    through_proxy = client.get(URL, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.1.2.3")
    spoofed = client.get(URL, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.1.2.3, 203.0.113.5")

    assert through_proxy.status_code == 200
    assert spoofed.status_code == 401  # the proxy saw 203.0.113.5


def test_a_metrics_token_of_any_active_account_scrapes(client: Client, stranger: User, owner: User) -> None:
    scripted(owner)

    response = scrape(client, metrics_token(stranger))

    assert response.status_code == 200
    assert b'metric="Error rate"' in response.content


def test_counts_of_stored_rows_are_gauges_since_they_go_down_when_rows_are_deleted_or_changed(
    client: Client, owner: User
) -> None:
    # A counter that goes down is a reset to Prometheus: rate() would invent a burst of rollbacks.
    scripted(owner)
    text = scrape(client, metrics_token(owner)).content.decode()
    types = {found.name: found.type for found in text_string_to_metric_families(text)}

    histograms = {"mbreak_job_duration_seconds", "mbreak_verdict_answer_seconds"}
    assert {name for name, kind in types.items() if kind not in ("gauge", "histogram")} == set()
    assert {name for name, kind in types.items() if kind == "histogram"} <= histograms
    assert types["mbreak_gate_judgements"] == "gauge"
    assert types["mbreak_release_outcomes"] == "gauge"
