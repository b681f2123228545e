"""`manage.py import_indicators` is an upload run from the shell: the same lock, batch and job as
the upload page's, the job run in the command's own process."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from metrics.models import ImportBatch, Indicator, Job, JobKind, JobStatus, Metric
from tests.pages import messages_of

CSV = b"valor,decisao,tempo\n500,1,10\n600,0,60\n700,0,5\n"


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    path = tmp_path / "deploy-42.csv"
    path.write_bytes(CSV)
    return path


def import_command(metric: Metric, path: Path, username: str, *options: str) -> str:
    output = io.StringIO()
    call_command("import_indicators", str(metric.pk), str(path), "--user", username, *options, stdout=output)
    return output.getvalue()


def upload(client: Client, metric: Metric, data: bytes = CSV, name: str = "deploy-42.csv"):
    file = io.BytesIO(data)
    file.name = name
    return client.post(reverse("metrics:upload"), {"metric": metric.pk, "delimiter": "detect", "file": file})


def test_the_command_records_a_batch_and_a_job_as_an_upload_does_undone_on_the_page(
    client: Client, metric: Metric, contributor: User, csv_path: Path
) -> None:
    import_command(metric, csv_path, "contributor")

    batch = ImportBatch.objects.get()
    job = Job.objects.get()
    assert (job.kind, job.status, job.batch, job.requested_by, job.done) == (
        JobKind.IMPORT,
        JobStatus.DONE,
        batch,
        contributor,
        3,
    )
    assert job.worker.startswith("command@")
    assert (batch.uploaded_by, batch.file_name, batch.rows, bytes(batch.data)) == (contributor, "deploy-42.csv", 3, b"")
    assert set(Indicator.objects.values_list("batch_id", flat=True)) == {batch.pk}

    client.force_login(contributor)
    undone = client.post(reverse("metrics:undo_import", args=[batch.pk]), follow=True)

    assert messages_of(undone) == ["Undone: the 3 indicators of “deploy-42.csv” were deleted."]
    assert not Indicator.objects.exists()


def test_an_upload_of_the_file_the_command_is_importing_is_refused_as_being_imported(
    client: Client, metric: Metric, owner: User, csv_path: Path
) -> None:
    """The command's import holds the metric as an upload's does: the same file uploaded while it
    runs is told it is being imported, and its rows are stored once."""
    client.force_login(owner)
    import_indicators = Metric.import_indicators
    uploads: list[Any] = []
    calls = 0

    def upload_meanwhile(self: Metric, *args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:  # the command's
            uploads.append(upload(client, metric))
        return import_indicators(self, *args, **kwargs)

    with patch.object(Metric, "import_indicators", upload_meanwhile):
        import_command(metric, csv_path, "owner")

    [meanwhile] = uploads
    assert meanwhile.status_code == 400
    assert "This file is being imported into “Requests per minute”" in meanwhile.content.decode()
    assert Indicator.objects.count() == 3
    assert ImportBatch.objects.count() == 1


def test_the_command_refuses_a_file_an_upload_is_importing_and_says_how_to_import_it_again(
    client: Client, metric: Metric, owner: User, csv_path: Path
) -> None:
    client.force_login(owner)
    with patch("metrics.models.job._send"):  # no worker takes it yet
        upload(client, metric)

        with pytest.raises(CommandError) as refused:
            import_command(metric, csv_path, "owner")

    assert re.fullmatch(
        r"This file is being imported into “Requests per minute” \(owner uploaded it on .+\)\. "
        r"Pass --again to import it a second time\.",
        str(refused.value),
    )
    assert ImportBatch.objects.count() == 1


def test_an_import_that_loses_the_database_exits_with_why_and_keeps_nothing(
    metric: Metric, owner: User, csv_path: Path
) -> None:
    finish = Job._finish

    def connection_lost_when_done(job: Job, status: str, **fields: Any) -> None:
        if status == JobStatus.DONE:
            raise OperationalError("server closed the connection unexpectedly")
        finish(job, status, **fields)

    with patch.object(Job, "_finish", connection_lost_when_done), pytest.raises(CommandError) as failed:
        import_command(metric, csv_path, "owner")

    assert str(failed.value) == (
        "The import into “Requests per minute” lost its connection to the database; nothing was stored. "
        "Upload the file again."
    )
    assert not Indicator.objects.exists()
    assert ImportBatch.objects.get().rows == 0
