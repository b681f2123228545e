"""An uploaded file is kept in the database only until its import ends, however it ends."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from unittest import mock

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from metrics.exceptions import MetricDeleted
from metrics.models import Failure, ImportBatch, Job, JobStatus, Metric
from metrics.tasks import sweep_abandoned_jobs
from tests.pages import messages_of

GOOD_CSV = b"valor,decisao,tempo\n500,0,10\n612.5,1,60\n-3,0,0.25\n"


def upload(client: Client, metric: Metric, content: bytes):
    data = {"metric": metric.pk, "delimiter": "detect", "file": SimpleUploadedFile("deploys.csv", content)}
    return client.post(reverse("metrics:upload"), data, follow=True)


def kept_files() -> list[bytes]:
    return [bytes(data) for data in ImportBatch.objects.values_list("data", flat=True)]


def import_in_hands_of_a_worker(metric: Metric, owner: User, *, worker: str = "celery@web-1", silent_for: float = 0):
    """An import as a worker leaves it when it is killed: running, its file still kept."""
    batch = ImportBatch.objects.create(
        metric=metric,
        uploaded_by=owner,
        file_name="deploys.csv",
        sha256=hashlib.sha256(GOOD_CSV).hexdigest(),
        size=len(GOOD_CSV),
        delimiter="detect",
        data=GOOD_CSV,
    )
    moment = timezone.now() - timedelta(seconds=silent_for)
    return Job.objects.create(
        kind="import",
        metric=metric,
        requested_by=owner,
        batch=batch,
        status=JobStatus.RUNNING,
        stage="parsing",
        worker=worker,
        started_at=moment,
        heartbeat_at=moment,
    )


def test_an_imported_file_is_dropped(client: Client, metric: Metric, owner: User) -> None:
    client.force_login(owner)

    upload(client, metric, GOOD_CSV)

    assert ImportBatch.objects.get().rows == 3
    assert kept_files() == [b""]


def test_a_refused_file_is_dropped(client: Client, metric: Metric, owner: User) -> None:
    client.force_login(owner)

    upload(client, metric, b"valor,decisao,tempo\n500,2,10\n")

    assert Job.objects.get().failure == Failure.CSV_ERRORS
    assert kept_files() == [b""]


def test_a_file_whose_import_could_not_be_queued_is_dropped_and_the_page_says_why(
    client: Client, metric: Metric, owner: User
) -> None:
    client.force_login(owner)

    with mock.patch("metrics.tasks.run_job.delay", side_effect=ConnectionError("broker down")):
        response = upload(client, metric, GOOD_CSV)

    assert Job.objects.get().failure == Failure.UNQUEUED
    assert kept_files() == [b""]
    assert messages_of(response) == [
        "The import into “Requests per minute” could not be queued: the job queue is unreachable. Nothing was "
        "stored; upload the file again in a moment."
    ]
    assert not metric.indicators.exists()


def test_the_file_of_an_import_whose_worker_died_is_dropped_by_the_sweep(metric: Metric, owner: User) -> None:
    job = import_in_hands_of_a_worker(metric, owner, silent_for=120)
    alive = import_in_hands_of_a_worker(metric, owner, silent_for=5)

    Job.objects.sweep_abandoned()

    job.refresh_from_db()
    assert job.failure == Failure.ABANDONED
    assert bytes(ImportBatch.objects.get(pk=job.batch_id).data) == b""
    # The import still running keeps its file: its worker reads it.
    assert bytes(ImportBatch.objects.get(pk=alive.batch_id).data) == GOOD_CSV


def test_the_file_of_an_import_ended_when_its_worker_started_again_is_dropped(metric: Metric, owner: User) -> None:
    job = import_in_hands_of_a_worker(metric, owner, silent_for=5)

    Job.objects.abandon_previous_run("celery@web-1", started_before=timezone.now())

    job.refresh_from_db()
    assert job.failure == Failure.ABANDONED
    assert kept_files() == [b""]


def test_a_file_left_by_an_import_that_ended_without_dropping_it_is_dropped_by_the_sweep(
    metric: Metric, owner: User
) -> None:
    """Its worker lost the database as the job ended; or the file was left before this was fixed."""
    job = import_in_hands_of_a_worker(metric, owner)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, failure=Failure.DATABASE)
    waiting = import_in_hands_of_a_worker(metric, owner)
    Job.objects.filter(pk=waiting.pk).update(status=JobStatus.QUEUED, worker="", started_at=None)

    sweep_abandoned_jobs()

    assert bytes(ImportBatch.objects.get(pk=job.batch_id).data) == b""
    assert bytes(ImportBatch.objects.get(pk=waiting.batch_id).data) == GOOD_CSV  # a worker has yet to read it


def test_an_undone_import_keeps_no_file(client: Client, metric: Metric, owner: User) -> None:
    client.force_login(owner)
    upload(client, metric, GOOD_CSV)
    batch = ImportBatch.objects.get()
    ImportBatch.objects.filter(pk=batch.pk).update(data=GOOD_CSV)  # a file left before this was fixed

    batch.undo()

    assert kept_files() == [b""]


def test_a_deleted_metric_takes_its_waiting_imports_file_with_it(metric: Metric, owner: User) -> None:
    job = import_in_hands_of_a_worker(metric, owner)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED, worker="", started_at=None)

    metric.delete()

    assert not ImportBatch.objects.exists()
    assert not Job.objects.exists()


def test_a_file_whose_metric_was_deleted_while_it_was_imported_is_dropped(metric: Metric, owner: User) -> None:
    """The metric goes between the upload and the import: the job fails, saying so, and keeps nothing."""
    job = import_in_hands_of_a_worker(metric, owner)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED, worker="", started_at=None)

    with mock.patch.object(Metric, "_lock", side_effect=MetricDeleted(metric)):
        Job.objects.run(job.pk)

    job.refresh_from_db()
    assert job.failure == Failure.METRIC_DELETED
    assert kept_files() == [b""]
