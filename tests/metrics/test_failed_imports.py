"""Why an import failed stays where its sender looks (the metric's page and the upload page),
with its first errors and their total, until they dismiss it; only they see it or dismiss it."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import Job, JobKind, JobStatus, Metric
from tests.metrics.test_upload_view import UPLOAD_URL, upload
from tests.refusals import changes_nothing

# 25 bad lines: the first 20 are kept, all are counted.
MANY_BAD = b"valor,decisao,tempo\n" + b"".join(b"%d,maybe,10\n" % n for n in range(25))
FIRST_ERROR = "Line 2, column “decisao”: expected 0 (rollout) or 1 (rollback), got “maybe”"
TWENTIETH_ERROR = "Line 21, column “decisao”"
TWENTY_FIRST_ERROR = "Line 22, column “decisao”"


def dismiss_url(job: Job) -> str:
    return reverse("metrics:job_dismiss", args=[job.pk])


@pytest.fixture
def failed_import(client: Client, owner: User, metric: Metric) -> Job:
    """An import of the owner's that was refused for 25 bad lines."""
    client.force_login(owner)
    upload(client, metric, MANY_BAD)
    client.logout()
    return Job.objects.get(kind=JobKind.IMPORT, status=JobStatus.FAILED)


def jobs_state() -> list[tuple]:
    return list(Job.objects.order_by("pk").values_list("pk", "status", "failure", "dismissed_at"))


def test_a_failed_import_shows_its_errors_on_the_metric_page_and_the_upload_page(
    client: Client, owner: User, metric: Metric, failed_import: Job
) -> None:
    client.force_login(owner)

    for url in (metric.get_absolute_url(), UPLOAD_URL):
        html = client.get(url).content.decode()
        assert 'data-testid="failed-import"' in html, url
        assert "The import of “indicators.csv” into “Requests per minute”" in html, url
        assert "Nothing was imported: the file has 25 errors." in html, url
        assert FIRST_ERROR in html, url
        assert TWENTIETH_ERROR in html, url
        assert TWENTY_FIRST_ERROR not in html, url
        assert "Showing the first 20 of 25 errors." in html, url
        assert f'action="{dismiss_url(failed_import)}"' in html, url


def test_dismissing_a_failed_import_hides_it_from_both_pages_and_keeps_the_job(
    client: Client, owner: User, metric: Metric, failed_import: Job
) -> None:
    client.force_login(owner)

    response = client.post(dismiss_url(failed_import), {"next": UPLOAD_URL})

    assert response.status_code == 302
    assert response["Location"] == UPLOAD_URL
    for url in (metric.get_absolute_url(), UPLOAD_URL):
        assert 'data-testid="failed-import"' not in client.get(url).content.decode(), url
    failed_import.refresh_from_db()
    assert failed_import.dismissed_at is not None
    assert failed_import.status == JobStatus.FAILED
    assert "Nothing was imported: the file has 25 errors." in client.get(reverse("metrics:jobs")).content.decode()


def test_dismissing_goes_back_to_the_metric_page_by_default(
    client: Client, owner: User, metric: Metric, failed_import: Job
) -> None:
    client.force_login(owner)

    response = client.post(dismiss_url(failed_import))

    assert response["Location"] == metric.get_absolute_url()


def test_a_failed_import_is_shown_to_its_sender_only(
    client: Client, owner: User, stranger: User, metric: Metric, failed_import: Job
) -> None:
    # Not even to the metric's owner when someone else sent the file: it words the file's cells.
    sent_by_stranger = Job.objects.filter(pk=failed_import.pk)
    sent_by_stranger.update(requested_by=stranger)
    client.force_login(owner)

    for url in (metric.get_absolute_url(), UPLOAD_URL):
        html = client.get(url).content.decode()
        assert 'data-testid="failed-import"' not in html, url
        assert "maybe" not in html, url


def test_a_stranger_cannot_dismiss_a_failed_import_and_nothing_changes(
    client: Client, stranger: User, failed_import: Job
) -> None:
    client.force_login(stranger)
    with changes_nothing(jobs_state):
        response = client.post(dismiss_url(failed_import))

    assert response.status_code == 403


def test_a_visitor_cannot_dismiss_a_failed_import_and_nothing_changes(client: Client, failed_import: Job) -> None:
    with changes_nothing(jobs_state):
        response = client.post(dismiss_url(failed_import))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_dismissing_by_get_is_not_allowed_and_changes_nothing(client: Client, owner: User, failed_import: Job) -> None:
    client.force_login(owner)
    with changes_nothing(jobs_state):
        response = client.get(dismiss_url(failed_import))

    assert response.status_code == 405


def test_dismissing_needs_the_csrf_token(owner: User, failed_import: Job) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    with changes_nothing(jobs_state):
        response = client.post(dismiss_url(failed_import))

    assert response.status_code == 403


def test_a_training_is_not_dismissed(client: Client, owner: User, metric: Metric) -> None:
    # Only a failed import is shown until dismissed; a training says why it failed once.
    job, _created = Job.objects.enqueue_training(metric, owner)
    client.force_login(owner)
    with changes_nothing(jobs_state):
        response = client.post(dismiss_url(job))

    assert response.status_code == 403


def test_a_missing_job_is_not_found(client: Client, owner: User) -> None:
    client.force_login(owner)

    assert client.post(reverse("metrics:job_dismiss", args=[987654])).status_code == 404


def test_the_upload_that_refuses_a_file_lists_its_errors_once(client: Client, owner: User, metric: Metric) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = upload(client, metric, MANY_BAD)

    assert response.status_code == 400
    html = response.content.decode()
    assert html.count(FIRST_ERROR) == 1
    assert 'data-testid="failed-import"' not in html


def test_an_import_that_fails_in_the_background_shows_on_the_metric_page_once_it_ends(
    client: Client, owner: User, metric: Metric
) -> None:
    # As with a real worker: the upload answers while the job waits, and the job fails later.
    with mock.patch("metrics.models.job._send"):
        client.force_login(owner)
        response = upload(client, metric, MANY_BAD)
    assert response.status_code == 302
    job = Job.objects.get()
    assert 'data-testid="failed-import"' not in client.get(metric.get_absolute_url()).content.decode()

    Job.objects.run(job.pk)

    html = client.get(metric.get_absolute_url()).content.decode()
    assert 'data-testid="failed-import"' in html
    assert "Showing the first 20 of 25 errors." in html
