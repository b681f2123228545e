"""A job's outcome is worded in the reader's language when shown, whatever the language of the
page that queued it: jobs store codes and figures. Outcomes stored as English text before that
still show."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, TokenScope
from metrics.models import Job, JobKind, JobStatus, Metric
from predictor.columns import ROLLBACK, ROLLOUT
from tests.data import rule_data
from tests.factories import MetricFactory
from tests.metrics.test_train_views import SMALL, rows

BAD_CSV = b"valor,decisao,tempo\n500,1,10\n600,maybe,60\n"


@pytest.fixture
def three_jobs(client: Client, owner: User, metric: Metric) -> dict[str, Job]:
    """Queued from English pages: a training that succeeded, one refused for too little data,
    and an import whose file was refused."""
    metric.import_indicators(rule_data(SMALL), owner)
    thin = MetricFactory.create(name="Error rate", owner=owner)
    thin.import_indicators(rows([ROLLBACK, ROLLOUT, ROLLBACK]), owner)
    client.force_login(owner)
    client.post(reverse("metrics:train", args=[metric.pk]))
    client.post(reverse("metrics:train", args=[thin.pk]))
    client.post(
        reverse("metrics:upload"),
        {"metric": metric.pk, "delimiter": "detect", "file": SimpleUploadedFile("bad.csv", BAD_CSV)},
    )
    jobs = {
        "trained": Job.objects.get(kind=JobKind.TRAINING, status=JobStatus.DONE),
        "too_little": Job.objects.get(kind=JobKind.TRAINING, status=JobStatus.FAILED),
        "refused": Job.objects.get(kind=JobKind.IMPORT, status=JobStatus.FAILED),
    }
    assert {job.language for job in jobs.values()} == {"en"}
    return jobs


PORTUGUESE = {
    "trained": "Versão 1 treinada",
    "too_little": "Dados insuficientes para treinar “Error rate”",
    "refused": "Nada foi importado: o arquivo tem 1 erro.",
}
ENGLISH = {
    "trained": "Version 1 trained",
    "too_little": "Not enough data to train",
    "refused": "Nothing was imported",
}
PORTUGUESE_REASON = "era esperado 0 (rollout) ou 1 (rollback), mas veio “maybe”"
PORTUGUESE_ROW_ERROR = f"Linha 3, coluna “decisao”: {PORTUGUESE_REASON}"


def choose_portuguese(client: Client) -> None:
    client.post(reverse("set_language"), {"language": "pt-br", "next": "/"})


def test_the_jobs_page_words_each_outcome_in_portuguese(client: Client, three_jobs: dict[str, Job]) -> None:
    choose_portuguese(client)

    html = client.get(reverse("metrics:jobs")).content.decode()

    for kind, words in PORTUGUESE.items():
        assert words in html, kind
    for kind, words in ENGLISH.items():
        assert words not in html, kind


def test_the_progress_json_words_each_outcome_in_portuguese(client: Client, three_jobs: dict[str, Job]) -> None:
    choose_portuguese(client)

    for kind, job in three_jobs.items():
        progress = client.get(reverse("metrics:job_progress", args=[job.pk])).json()
        assert PORTUGUESE[kind] in progress["outcome"], kind
        assert progress["stage"] == "Terminado", kind


def test_the_failed_import_panel_words_the_file_errors_in_portuguese(
    client: Client, metric: Metric, three_jobs: dict[str, Job]
) -> None:
    choose_portuguese(client)

    html = client.get(metric.get_absolute_url()).content.decode()

    assert "Nada foi importado: o arquivo tem 1 erro." in html
    assert PORTUGUESE_ROW_ERROR in html
    assert "expected 0 (rollout)" not in html


def test_the_api_words_a_job_in_the_requests_language_and_keeps_its_codes(
    client: Client, owner: User, three_jobs: dict[str, Job]
) -> None:
    _token, secret = ApiToken.objects.issue(owner, "ci", TokenScope.READ)
    headers = {"Authorization": f"Bearer {secret}", "Accept-Language": "pt-BR"}

    refused = client.get(reverse("api:job", args=[three_jobs["refused"].pk]), headers=headers).json()
    too_little = client.get(reverse("api:job", args=[three_jobs["too_little"].pk]), headers=headers).json()
    in_english = client.get(
        reverse("api:job", args=[three_jobs["refused"].pk]), headers={"Authorization": f"Bearer {secret}"}
    ).json()

    assert refused["failure"] == "csv_errors"
    assert refused["outcome"] == "Nada foi importado: o arquivo tem 1 erro."
    assert refused["file_errors"]["message"] == "Nada foi importado: o arquivo tem 1 erro."
    assert refused["file_errors"]["rows"] == [
        {
            "line": 3,
            "column": "decisao",
            "reason": PORTUGUESE_REASON,
        }
    ]
    assert too_little["failure"] == "not_enough_data"
    assert too_little["outcome"].startswith("Dados insuficientes para treinar “Error rate”")
    assert in_english["outcome"] == "Nothing was imported: the file has 1 error."
    assert in_english["file_errors"]["rows"][0]["reason"] == "expected 0 (rollout) or 1 (rollback), got “maybe”"


def test_a_refusal_stored_as_text_before_still_shows(client: Client, owner: User, metric: Metric) -> None:
    # Stored by an earlier version: the words of the language it was sent in, and no codes.
    job = Job.objects.create(
        kind=JobKind.IMPORT,
        metric=metric,
        requested_by=owner,
        status=JobStatus.FAILED,
        failure="csv_errors",
        stage="finished",
        errors={
            "message": "Nothing was imported: the file has 1 error.",
            "rows": [[3, "decisao", "expected 0 (rollout) or 1 (rollback), got “maybe”"]],
            "total": 1,
        },
    )
    client.force_login(owner)
    choose_portuguese(client)

    progress = client.get(reverse("metrics:job_progress", args=[job.pk])).json()
    html = client.get(metric.get_absolute_url()).content.decode()

    assert progress["outcome"] == "Nothing was imported: the file has 1 error."
    assert "Linha 3, coluna “decisao”: expected 0 (rollout) or 1 (rollback), got “maybe”" in html
