"""With the cache or the job broker unreachable, pages still render, jobs fail with a
message, and /healthz says 503."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, TokenScope
from metrics.models import Failure, Job, JobStatus, Metric
from tests.data import rule_data
from tests.pages import messages_of

CACHE_DOWN = ConnectionError("Error 111 connecting to redis:6379. Connection refused.")


@pytest.fixture
def cache_down():
    with (
        mock.patch("metrics.models.trained_model.cache.get", side_effect=CACHE_DOWN),
        mock.patch("metrics.models.trained_model.cache.set", side_effect=CACHE_DOWN),
    ):
        yield


def test_a_verdict_and_its_charts_render_without_the_cache(
    client: Client, trained_metric: Metric, owner: User, cache_down: None
) -> None:
    client.force_login(owner)

    page = client.post(
        reverse("metrics:predict"), {"metric": trained_metric.pk, "value": 200, "minutes": 30}, follow=True
    )
    model = trained_metric.trained_models.get()
    pairplot = client.get(reverse("metrics:pairplot", args=[model.pk]))

    assert page.status_code == 200
    assert 'id="regions-data"' in page.content.decode()
    assert pairplot.status_code == 200
    assert pairplot["Content-Type"] == "image/png"


def test_a_training_with_the_broker_down_fails_at_once_saying_so(client: Client, owner: User, metric: Metric) -> None:
    metric.import_indicators(rule_data(40), owner)
    client.force_login(owner)

    with mock.patch("metrics.tasks.run_job.apply_async", side_effect=ConnectionError("broker down")):
        response = client.post(reverse("metrics:train", args=[metric.pk]))

    job = Job.objects.get()
    assert (job.status, job.failure) == (JobStatus.FAILED, Failure.UNQUEUED)
    assert messages_of(response) == [
        "The training of “Requests per minute” could not be queued: the job queue is unreachable. "
        "Try again in a moment; the version that answers still does."
    ]
    assert not metric.trained_models.exists()
    # Once the broker is back, Train queues again: the failed job blocks nothing.
    client.post(reverse("metrics:train", args=[metric.pk]))
    assert metric.trained_models.count() == 1


def test_healthz_names_an_unreachable_broker_without_taking_the_instance_out(client: Client, db: None) -> None:
    with mock.patch("mbreak.health.check_broker", return_value=False):
        response = client.get("/healthz")
    assert response.status_code == 200  # the broker is shared: a new instance would not reach it either
    assert response.json() == {"database": True, "cache": True, "broker": False}


def test_the_broker_check_fails_when_no_broker_answers(settings, db: None) -> None:
    from mbreak import health
    from mbreak.celery import app

    with mock.patch.object(app, "connection_for_write", side_effect=ConnectionError("refused")):
        assert health.check_broker() is False
    assert health.check_broker() is True  # the test settings' broker: the local folder


def test_the_api_answers_a_training_with_the_broker_down_with_503_and_when_to_retry(
    client: Client, owner: User, metric: Metric
) -> None:
    metric.import_indicators(rule_data(40), owner)
    _token, secret = ApiToken.objects.issue(owner, "pipeline", TokenScope.WRITE)
    headers = {"Authorization": f"Bearer {secret}"}

    with mock.patch("metrics.tasks.run_job.apply_async", side_effect=ConnectionError("broker down")):
        refused = client.post(reverse("api:train", args=[metric.pk]), headers=headers)
    retried = client.post(reverse("api:train", args=[metric.pk]), headers=headers)

    assert (refused.status_code, refused["Retry-After"], refused.json()["code"]) == (503, "30", "unqueued")
    assert "could not be queued" in refused.json()["detail"]
    assert retried.status_code == 202
    assert metric.trained_models.count() == 1


def test_the_api_answers_an_import_with_the_broker_down_with_503_and_the_same_file_can_be_sent_again(
    client: Client, owner: User, metric: Metric
) -> None:
    # A 202 of a job that already failed reads as "accepted" to a pipeline that only checks the
    # status; like a training, a file the queue did not take is a 503 to retry.
    _token, secret = ApiToken.objects.issue(owner, "pipeline", TokenScope.WRITE)
    headers = {"Authorization": f"Bearer {secret}"}
    url = reverse("api:imports", args=[metric.pk])

    def upload() -> SimpleUploadedFile:
        return SimpleUploadedFile("deploys.csv", b"valor,decisao,tempo\n480,1,12\n1310,0,45\n", "text/csv")

    with mock.patch("metrics.tasks.run_job.apply_async", side_effect=ConnectionError("broker down")):
        refused = client.post(url, {"file": upload()}, headers=headers)
    assert (refused.status_code, refused["Retry-After"], refused.json()["code"]) == (503, "30", "unqueued")
    assert "could not be queued" in refused.json()["detail"]
    assert metric.indicators.count() == 0

    retried = client.post(url, {"file": upload()}, headers=headers)
    assert retried.status_code == 202
    assert metric.indicators.count() == 2
