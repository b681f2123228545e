"""Training as a background job, in the test's process (Celery's eager mode)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from metrics.models import Failure, Job, JobStatus, Metric, TrainedModel
from tests.data import rule_data
from tests.pages import messages_of


@pytest.fixture
def data_metric(metric: Metric, owner: User) -> Metric:
    metric.import_indicators(rule_data(40), owner)
    return metric


def test_train_queues_a_job_that_a_worker_runs_to_a_new_version(
    client: Client, data_metric: Metric, contributor: User
) -> None:
    client.force_login(contributor)

    response = client.post(reverse("metrics:train", args=[data_metric.pk]))

    job = Job.objects.get()
    assert (job.status, job.metric, job.requested_by, job.attempts) == (JobStatus.DONE, data_metric, contributor, 1)
    assert job.result == data_metric.trained_models.get()
    assert job.started_at is not None
    assert job.finished_at is not None
    assert messages_of(response)[0].startswith(f"Model version 1 of “{data_metric.name}” trained:")


def test_a_job_reports_each_stage_of_a_training(data_metric: Metric, owner: User) -> None:
    stages: list[tuple[str, int, int]] = []
    report = Job.report

    def record(job: Job, stage: str, done: int = 0, total: int = 0) -> None:
        stages.append((stage, done, total))
        report(job, stage, done, total)

    with mock.patch.object(Job, "report", record):
        Job.objects.enqueue_training(data_metric, owner)

    folds = [(stage, done, total) for stage, done, total in stages if stage == "folds"]
    assert [stage for stage, _, _ in stages] == ["reading", *["folds"] * len(folds), "final_fit", "storing", "drawing"]
    assert folds == [("folds", fold, len(folds)) for fold in range(len(folds))]


def test_pressing_train_again_while_a_job_waits_starts_no_second_one(
    client: Client, data_metric: Metric, owner: User
) -> None:
    waiting = Job.objects.create(kind="training", metric=data_metric, requested_by=owner)
    client.force_login(owner)

    response = client.post(reverse("metrics:train", args=[data_metric.pk]))

    assert list(Job.objects.all()) == [waiting]
    assert messages_of(response) == [f"“{data_metric.name}” is already being trained: its progress shows on its page."]
    assert not TrainedModel.objects.exists()


def test_the_database_allows_one_active_training_per_metric(data_metric: Metric, owner: User) -> None:
    Job.objects.create(kind="training", metric=data_metric, requested_by=owner, status=JobStatus.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(kind="training", metric=data_metric, requested_by=owner)
    Job.objects.update(status=JobStatus.DONE)
    Job.objects.create(kind="training", metric=data_metric, requested_by=owner)  # once the first has ended


def test_a_training_without_enough_data_fails_with_the_counts(metric: Metric, owner: User) -> None:
    metric.import_indicators(rule_data(6), owner)

    job, _ = Job.objects.enqueue_training(metric, owner)

    job.refresh_from_db()
    assert (job.status, job.failure) == (JobStatus.FAILED, Failure.NOT_ENOUGH_DATA)
    assert job.outcome().startswith("Not enough data to train “Requests per minute”: it has 6 indicators")
    assert not TrainedModel.objects.exists()


def test_an_unexpected_error_fails_the_job_and_the_previous_version_still_answers(
    trained_metric: Metric, owner: User
) -> None:
    with mock.patch("predictor.training.fit_decision_tree", side_effect=MemoryError("out of memory")):
        job, _ = Job.objects.enqueue_training(trained_metric, owner)

    job.refresh_from_db()
    assert (job.status, job.failure) == (JobStatus.FAILED, Failure.ERROR)
    assert "MemoryError" in job.detail
    assert trained_metric.trained_models.count() == 1
    assert trained_metric.predict(200, 30, owner).is_rollback


def test_a_job_whose_worker_went_silent_is_swept_as_failed(data_metric: Metric, owner: User, settings) -> None:
    settings.MBREAK_JOB_HEARTBEAT_TIMEOUT = 60
    silent = timezone.now() - timedelta(seconds=61)
    lost = Job.objects.create(
        kind="training", metric=data_metric, requested_by=owner, status=JobStatus.RUNNING, heartbeat_at=silent
    )
    alive = Job.objects.create(
        kind="training",
        metric=Metric.objects.create(name="Error rate", category="Reliability", owner=owner),
        requested_by=owner,
        status=JobStatus.RUNNING,
        heartbeat_at=timezone.now(),
    )

    assert Job.objects.sweep_abandoned() == 1

    lost.refresh_from_db()
    alive.refresh_from_db()
    assert (lost.status, lost.failure, alive.status) == (JobStatus.FAILED, Failure.ABANDONED, JobStatus.RUNNING)
    assert "stopped (restarted or killed). Nothing was stored" in lost.outcome()


def test_a_training_whose_worker_stopped_while_drawing_its_charts_is_swept_as_done(
    data_metric: Metric, owner: User, settings
) -> None:
    """Its version was stored before the worker stopped: the job says so, not that nothing was."""
    settings.MBREAK_JOB_HEARTBEAT_TIMEOUT = 60
    with (
        mock.patch.object(TrainedModel, "draw_charts", side_effect=SystemExit("worker killed")),
        pytest.raises(SystemExit),
    ):
        Job.objects.enqueue_training(data_metric, owner)
    Job.objects.update(heartbeat_at=timezone.now() - timedelta(seconds=61))

    assert Job.objects.sweep_abandoned() == 1

    job = Job.objects.get()
    assert (job.status, job.result) == (JobStatus.DONE, data_metric.trained_models.get())
    assert job.outcome().startswith("Version 1 trained:")


def test_a_job_run_again_after_it_ended_changes_nothing(data_metric: Metric, owner: User) -> None:
    job, _ = Job.objects.enqueue_training(data_metric, owner)

    Job.objects.run(job.pk)  # the broker delivered it twice

    assert data_metric.trained_models.count() == 1


def test_the_jobs_page_lists_the_users_own_jobs_newest_first(
    client: Client, data_metric: Metric, owner: User, stranger: User
) -> None:
    Job.objects.enqueue_training(data_metric, owner)
    Job.objects.enqueue_training(data_metric, owner)
    client.force_login(owner)

    html = client.get(reverse("metrics:jobs")).content.decode()

    assert html.index("Version 2 trained") < html.index("Version 1 trained")
    client.force_login(stranger)
    assert "Version 1 trained" not in client.get(reverse("metrics:jobs")).content.decode()


def test_a_waiting_job_shows_its_progress_on_the_metric_page_and_as_json(
    client: Client, data_metric: Metric, owner: User, stranger: User
) -> None:
    job = Job.objects.create(kind="training", metric=data_metric, requested_by=owner, status=JobStatus.RUNNING)
    Job.objects.filter(pk=job.pk).update(stage="folds", done=2, total=5, heartbeat_at=timezone.now())
    client.force_login(stranger)

    page = client.get(data_metric.get_absolute_url()).content.decode()
    progress = client.get(reverse("metrics:job_progress", args=[job.pk])).json()

    assert "Training of “Requests per minute”, asked by owner" in page
    assert "Cross-validation: fold 3 of 5" in page
    assert progress == {
        "status": "running",
        "stage": "Cross-validation: fold 3 of 5",
        "percent": 40,
        "outcome": "Cross-validation: fold 3 of 5",
        "is_active": True,
    }


def test_an_anonymous_visitor_sees_no_job(client: Client, data_metric: Metric, owner: User) -> None:
    job, _ = Job.objects.enqueue_training(data_metric, owner)
    assert client.get(reverse("metrics:job_progress", args=[job.pk])).status_code == 302
    assert client.get(reverse("metrics:jobs")).status_code == 302


def test_a_training_job_draws_the_new_versions_pairplot_in_each_language_so_no_page_waits_for_it(
    client: Client, data_metric: Metric, owner: User
) -> None:
    from predictor import charts

    Job.objects.enqueue_training(data_metric, owner)
    model = data_metric.trained_models.get()
    client.force_login(owner)

    with mock.patch.object(charts, "render_pairplot_png") as render:
        english = client.get(reverse("metrics:pairplot", args=[model.pk]))
        portuguese = client.get(reverse("metrics:pairplot", args=[model.pk]), headers={"accept-language": "pt-br"})

    render.assert_not_called()
    assert english.content.startswith(b"\x89PNG")
    assert portuguese.content.startswith(b"\x89PNG")
    assert english.content != portuguese.content  # the labels are in each reader's language


def test_an_uploads_errors_are_worded_in_the_readers_language_whatever_the_workers(metric: Metric, owner: User) -> None:
    """A worker runs in its own language (the site's): the job keeps the uploader's words as
    stored text, and message ids to word them again for each reader."""
    data = b"valor,decisao,tempo\nabc,0,2\n"
    with mock.patch("metrics.models.job._send"), translation.override("pt-br"):
        job = metric.queue_import(
            owner, file_name="deploy.csv", data=data, sha256=hashlib.sha256(data).hexdigest(), delimiter="detect"
        )

    with translation.override("en"):
        Job.objects.run(job.pk)  # as the worker does

    job.refresh_from_db()
    assert (job.status, job.failure, job.language) == (JobStatus.FAILED, Failure.CSV_ERRORS, "pt-br")
    assert job.errors is not None
    assert job.errors["message"].startswith("Nada foi importado")
    assert job.outcome().startswith("Nothing was imported")
    with translation.override("pt-br"):
        assert job.outcome().startswith("Nada foi importado")


def test_a_job_delivered_again_while_another_worker_runs_it_is_left_to_that_worker(
    data_metric: Metric, owner: User
) -> None:
    job = Job.objects.create(kind="training", metric=data_metric, requested_by=owner)
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, heartbeat_at=timezone.now(), worker="celery@a", attempts=1
    )

    Job.objects.run(job.pk, worker="celery@b")  # the same job, delivered twice at once

    job.refresh_from_db()
    assert not data_metric.trained_models.exists()
    assert (job.status, job.worker, job.attempts) == (JobStatus.RUNNING, "celery@a", 1)


def test_a_job_whose_worker_went_silent_is_run_by_the_worker_it_is_delivered_to_again(
    data_metric: Metric, owner: User, settings
) -> None:
    settings.MBREAK_JOB_HEARTBEAT_TIMEOUT = 60
    job = Job.objects.create(kind="training", metric=data_metric, requested_by=owner)
    silent = timezone.now() - timedelta(seconds=61)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, heartbeat_at=silent, worker="celery@a", attempts=1)

    Job.objects.run(job.pk, worker="celery@b")

    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == (JobStatus.DONE, "celery@b", 2)
    assert data_metric.trained_models.count() == 1


def test_a_training_kept_as_a_candidate_says_so_in_its_outcome(data_metric: Metric, owner: User) -> None:
    first, _ = Job.objects.enqueue_training(data_metric, owner)
    data_metric.refresh_from_db()
    data_metric.activate(data_metric.trained_models.get(), pin=True)

    second, _ = Job.objects.enqueue_training(data_metric, owner)
    second = Job.objects.listed().get(pk=second.pk)

    assert second.outcome().startswith("Version 2 trained:")
    assert second.outcome().endswith("Kept as a candidate: the active version is pinned (version 1, 95.0%).")
    assert not Job.objects.listed().get(pk=first.pk).outcome().endswith(")")


def test_a_job_still_queued_long_after_it_was_sent_is_sent_again_once_and_runs(
    data_metric: Metric, owner: User, settings
) -> None:
    """Its message was lost (Redis flushed): without a new one it waited for ever, and Train
    found it waiting and queued nothing."""
    settings.MBREAK_JOB_RESEND_AFTER = 3600
    long_ago = timezone.now() - timedelta(seconds=3601)
    lost = Job.objects.create(kind="training", metric=data_metric, requested_by=owner, created_at=long_ago)
    recent = Job.objects.create(
        kind="training",
        metric=Metric.objects.create(name="Error rate", category="Reliability", owner=owner),
        requested_by=owner,
    )

    with mock.patch("metrics.tasks.run_job.apply_async") as send:
        assert Job.objects.send_lost_again() == 1
        assert Job.objects.send_lost_again() == 0  # sent again just now: not again at once
    send.assert_called_once_with((lost.pk,), {})  # the job's id, sent to the task by its name
    recent.refresh_from_db()
    assert recent.status == JobStatus.QUEUED

    Job.objects.filter(pk=lost.pk).update(heartbeat_at=long_ago)
    Job.objects.send_lost_again()  # this time the worker gets it (eager in tests)

    lost.refresh_from_db()
    assert (lost.status, data_metric.trained_models.count()) == (JobStatus.DONE, 1)
