"""Every upload is an import batch: recorded, run as a job, listed, and undoable."""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any
from unittest.mock import patch

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from metrics.exceptions import DuplicateFile
from metrics.forms import UploadForm
from metrics.models import ImportBatch, Indicator, Job, JobStatus, Metric
from tests.data import imports_state
from tests.pages import messages_of
from tests.refusals import changes_nothing

CSV = b"valor,decisao,tempo\n500,1,10\n600,0,60\n700,0,5\n"
UPLOAD_URL = reverse("metrics:upload")


def upload(client: Client, metric: Metric, data: bytes = CSV, name: str = "deploy-42.csv", **extra: str):
    file = io.BytesIO(data)
    file.name = name
    return client.post(UPLOAD_URL, {"metric": metric.pk, "delimiter": "detect", "file": file, **extra})


def test_an_upload_is_recorded_as_a_batch_run_as_a_job_and_its_file_dropped_after(
    client: Client, metric: Metric, contributor: User
) -> None:
    client.force_login(contributor)

    response = upload(client, metric)

    batch = ImportBatch.objects.get()
    assert (batch.metric, batch.uploaded_by, batch.file_name, batch.rows, batch.size) == (
        metric,
        contributor,
        "deploy-42.csv",
        3,
        len(CSV),
    )
    assert batch.sha256 == hashlib.sha256(CSV).hexdigest()
    assert bytes(batch.data) == b""  # kept only for the job
    assert set(Indicator.objects.values_list("batch_id", flat=True)) == {batch.pk}
    job = Job.objects.get()
    assert (job.kind, job.status, job.batch, job.done) == ("import", JobStatus.DONE, batch, 3)
    assert messages_of(response) == ["Imported 3 indicators into “Requests per minute”."]
    page = client.get(metric.get_absolute_url()).content.decode()
    assert "deploy-42.csv" in page
    assert "3 rows, by contributor on" in page


def test_the_same_file_again_into_the_same_metric_asks_first_and_imports_nothing(
    client: Client, metric: Metric, owner: User
) -> None:
    client.force_login(owner)
    upload(client, metric)
    with changes_nothing(imports_state):
        response = upload(client, metric, name="renamed.csv")

    assert response.status_code == 400
    html = response.content.decode()
    assert "This file was already imported into “Requests per minute” on" in html
    assert "by owner (3 rows). Tick “Import it again” to import it twice." in html
    assert 'name="import_again"' in html

    upload(client, metric, name="renamed.csv", import_again="on")
    assert metric.indicators.count() == 6


def test_the_same_file_into_another_metric_is_not_questioned(client: Client, metric: Metric, owner: User) -> None:
    other = Metric.objects.create(name="Error rate", category="Reliability", owner=owner)
    client.force_login(owner)
    upload(client, metric)

    assert upload(client, other).status_code == 302
    assert other.indicators.count() == 3


@pytest.mark.parametrize("undoer", ["uploader", "owner"])
def test_undo_deletes_exactly_the_rows_of_the_file_and_the_model_goes_stale(
    client: Client, metric: Metric, owner: User, contributor: User, undoer: str
) -> None:
    metric.add_indicator(value=1, decision=1, time=20, user=owner)
    client.force_login(contributor)
    upload(client, metric)
    batch = ImportBatch.objects.get()
    version = Metric.objects.get(pk=metric.pk).data_version
    client.force_login(contributor if undoer == "uploader" else owner)

    response = client.post(reverse("metrics:undo_import", args=[batch.pk]))

    assert messages_of(response)[-1] == "Undone: the 3 indicators of “deploy-42.csv” were deleted."
    metric.refresh_from_db()
    assert list(metric.indicators.values_list("value", flat=True)) == [1.0]
    assert (metric.indicator_count, metric.data_version) == (1, version + 1)
    batch.refresh_from_db()
    assert batch.undone_at is not None
    assert "undone" in client.get(metric.get_absolute_url()).content.decode()


@pytest.mark.parametrize("who", ["stranger", "contributor"])
def test_undo_by_anyone_else_is_refused_and_changes_nothing(
    client: Client, metric: Metric, owner: User, contributor: User, stranger: User, who: str
) -> None:
    client.force_login(owner)
    upload(client, metric)
    batch = ImportBatch.objects.get()
    client.force_login(stranger if who == "stranger" else contributor)
    with changes_nothing(imports_state):
        response = client.post(reverse("metrics:undo_import", args=[batch.pk]))

    assert response.status_code == 403


def test_a_file_with_a_bad_line_shows_its_errors_and_stores_nothing(
    client: Client, metric: Metric, owner: User
) -> None:
    client.force_login(owner)

    response = upload(client, metric, data=b"valor,decisao,tempo\n500,1,10\n600,2,60\n")

    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was imported: the file has 1 error." in html
    assert "Line 3, column “decisao”: expected 0 (rollout) or 1 (rollback), got “2”" in html
    assert not Indicator.objects.exists()
    batch = ImportBatch.objects.get()
    assert (batch.rows, bytes(batch.data)) == (0, b"")
    job = Job.objects.get()
    assert (job.status, job.failure) == (JobStatus.FAILED, "csv_errors")
    assert "Nothing was imported: the file has 1 error." in client.get(reverse("metrics:jobs")).content.decode()


def test_an_import_reports_the_rows_it_has_read_then_how_many_it_stores(
    client: Client, metric: Metric, contributor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metrics import csv_io

    monkeypatch.setattr(csv_io, "PLAIN_BLOCK_BYTES", 1000)
    monkeypatch.setattr("metrics.models.job.REPORT_EVERY_SECONDS", 0)
    labels: list[str] = []
    report = Job.report

    def record(job: Job, stage: str, done: int = 0, total: int = 0) -> None:
        report(job, stage, done, total)
        labels.append(job.stage_label)

    client.force_login(contributor)
    data = b"valor,decisao,tempo\n" + b"".join(b"%d,1,10\n" % n for n in range(2500))
    monkeypatch.setattr(Job, "report", record)

    upload(client, metric, data)

    assert labels[0] == "Reading the file"
    assert "Reading the file: 2,500 rows read" in labels
    assert labels[-1] == "Storing the rows: 2,500 rows, all or none"
    assert Job.objects.get().status == JobStatus.DONE


def test_a_second_file_waits_behind_one_still_queued(
    client: Client, owner: User, metric: Metric, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Imports into one metric queue up (only trainings are one at a time)."""
    sent: list[int] = []
    monkeypatch.setattr("metrics.models.job._send", lambda job: sent.append(job.pk))
    client.force_login(owner)

    first = upload(client, metric, CSV, name="monday.csv")
    second = upload(client, metric, b"valor,decisao,tempo\n1,0,1\n", name="tuesday.csv")

    assert (first.status_code, second.status_code) == (302, 302)
    assert list(Job.objects.order_by("pk").values_list("status", "batch__file_name")) == [
        (JobStatus.QUEUED, "monday.csv"),
        (JobStatus.QUEUED, "tuesday.csv"),
    ]
    for job_id in sent:  # what the worker does, in order
        Job.objects.run(job_id)
    assert metric.indicators.count() == 4
    assert list(Job.objects.values_list("status", flat=True)) == [JobStatus.DONE, JobStatus.DONE]


def test_undo_twice_says_it_was_already_undone_and_changes_nothing(client: Client, metric: Metric, owner: User) -> None:
    client.force_login(owner)
    upload(client, metric)
    batch = ImportBatch.objects.get()
    client.post(reverse("metrics:undo_import", args=[batch.pk]))
    with changes_nothing(imports_state):
        response = client.post(reverse("metrics:undo_import", args=[batch.pk]), follow=True)

    assert response.redirect_chain == [(metric.get_absolute_url(), 302)]
    assert messages_of(response)[-1] == "The import of “deploy-42.csv” was already undone."


def test_the_same_file_sent_twice_at_once_is_queued_once(metric: Metric, owner: User) -> None:
    """A pipeline retrying while its first upload still runs: both requests pass the form's
    checks before either stores its file; the second to queue it is told it is being imported."""

    def checked_form() -> UploadForm:
        file = SimpleUploadedFile("deploy-42.csv", CSV, content_type="text/csv")
        form = UploadForm(owner, {"metric": metric.pk, "delimiter": "detect"}, {"file": file})
        assert form.is_valid(), form.errors
        return form

    def queue(form: UploadForm, *, import_again: bool = False) -> None:
        metric.queue_import(
            owner,
            file_name="deploy-42.csv",
            data=form.data_bytes,
            sha256=form.sha256,
            delimiter="detect",
            import_again=import_again,
        )

    first, second = checked_form(), checked_form()
    with patch("metrics.models.job._send"):  # no worker takes it yet
        queue(first)

        being_imported = re.escape("This file is being imported into “Requests per minute” (owner uploaded it on ")
        with pytest.raises(DuplicateFile, match=being_imported):
            queue(second)
        assert ImportBatch.objects.count() == 1

        queue(second, import_again=True)
    assert ImportBatch.objects.count() == 2


def test_an_import_whose_end_cannot_be_recorded_keeps_none_of_its_rows(
    client: Client, metric: Metric, owner: User
) -> None:
    """The rows, the file's count and the job's end are stored together: a worker that loses
    the database (or dies) before recording the end leaves no rows, and the job says so truly."""
    finish = Job._finish

    def connection_lost_when_done(job: Job, status: str, **fields: Any) -> None:
        if status == JobStatus.DONE:
            raise OperationalError("server closed the connection unexpectedly")
        finish(job, status, **fields)

    client.force_login(owner)
    with patch.object(Job, "_finish", connection_lost_when_done):
        upload(client, metric)

    job = Job.objects.get()
    assert job.status == JobStatus.FAILED
    assert job.outcome() == (
        "The import into “Requests per minute” lost its connection to the database; nothing was stored. "
        "Upload the file again."
    )
    assert not Indicator.objects.exists()
    assert Metric.objects.get(pk=metric.pk).indicator_count == 0
    assert ImportBatch.objects.get().rows == 0
