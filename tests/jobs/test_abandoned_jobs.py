"""A job whose worker died is ended in about a minute: heartbeats from a thread of its own
while it runs, a short timeout, and a worker that starts again ending its previous run's jobs."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from metrics.models import Failure, Job, JobStatus, Metric, TrainedModel
from predictor import training
from tests.data import rule_data
from tests.factories import MetricFactory
from tests.jobs.test_import_files import import_in_hands_of_a_worker


def running_job(metric: Metric, owner: User, *, worker: str = "celery@web-1", silent_for: float = 0) -> Job:
    moment = timezone.now() - timedelta(seconds=silent_for)
    return Job.objects.create(
        kind="training",
        metric=metric,
        requested_by=owner,
        status=JobStatus.RUNNING,
        worker=worker,
        started_at=moment,
        heartbeat_at=moment,
    )


def test_with_the_default_timeout_a_job_silent_for_a_minute_and_a_half_is_swept_as_failed(
    metric: Metric, owner: User
) -> None:
    """A worker killed mid-job is noticed in about a minute, not ten."""
    dead = running_job(metric, owner, silent_for=90)
    alive = running_job(MetricFactory.create(owner=owner, name="Error rate"), owner, silent_for=20)

    assert Job.objects.sweep_abandoned() == 1

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.status, dead.failure, alive.status) == (JobStatus.FAILED, Failure.ABANDONED, JobStatus.RUNNING)
    assert dead.outcome() == (
        "The worker training “Requests per minute” stopped (restarted or killed). Nothing was stored; the previous "
        "version still answers. Train again."
    )


def test_an_import_whose_worker_died_says_so_in_its_outcome(metric: Metric, owner: User) -> None:
    job = import_in_hands_of_a_worker(metric, owner, silent_for=90)

    Job.objects.sweep_abandoned()

    job.refresh_from_db()
    assert (job.status, job.failure) == (JobStatus.FAILED, Failure.ABANDONED)
    assert job.outcome() == (
        "The worker importing into “Requests per minute” stopped (restarted or killed) before it stored the file; "
        "nothing was stored. Upload the file again."
    )


@pytest.mark.django_db(transaction=True)  # the heartbeat thread writes on its own connection
def test_a_long_step_keeps_its_job_alive_while_its_thread_beats(settings) -> None:
    """A tree fitted inside scikit-learn reports nothing for a while: the job still beats."""
    settings.MBREAK_JOB_HEARTBEAT_TIMEOUT = 1
    owner = User.objects.create(username="owner")
    metric = MetricFactory.create(owner=owner)
    metric.import_indicators(rule_data(40), owner)
    fit = training.fit_decision_tree
    swept_during_the_step: list[int] = []

    def long_fit(*args, **kwargs):
        time.sleep(2.5)  # more than twice the timeout, with no progress reported
        swept_during_the_step.append(Job.objects.sweep_abandoned())
        return fit(*args, **kwargs)

    with mock.patch.object(training, "fit_decision_tree", long_fit):
        job, _ = Job.objects.enqueue_training(metric, owner)

    job.refresh_from_db()
    assert swept_during_the_step == [0]
    assert (job.status, job.failure) == (JobStatus.DONE, "")
    # The thread stopped with the job.
    assert not [thread for thread in threading.enumerate() if thread.name.endswith("-heartbeat")]


def test_a_worker_that_starts_again_ends_the_jobs_of_its_previous_run_at_once(metric: Metric, owner: User) -> None:
    """Its previous run was killed a moment ago: no need to wait for the timeout."""
    other_metric = MetricFactory.create(owner=owner, name="Error rate")
    training_left = running_job(metric, owner, worker="celery@web-1", silent_for=5)
    import_left = import_in_hands_of_a_worker(other_metric, owner, worker="celery@web-1", silent_for=5)
    elsewhere = running_job(MetricFactory.create(owner=owner, name="Latency"), owner, worker="celery@web-2")
    waiting = Job.objects.create(kind="import", metric=other_metric, requested_by=owner)

    ended = Job.objects.abandon_previous_run("celery@web-1", started_before=timezone.now())

    assert ended == 2
    for job in (training_left, import_left, elsewhere, waiting):
        job.refresh_from_db()
    assert [(job.status, job.failure) for job in (training_left, import_left)] == [
        (JobStatus.FAILED, Failure.ABANDONED)
    ] * 2
    assert "celery@web-1 started again" in training_left.detail  # for staff, in the logs
    assert training_left.outcome().startswith("The worker training “Requests per minute” stopped (restarted or killed)")
    assert import_left.outcome().startswith("The worker importing into “Error rate” stopped (restarted or killed)")
    # Another host's job, and a job no worker has taken yet, are left alone.
    assert (elsewhere.status, waiting.status) == (JobStatus.RUNNING, JobStatus.QUEUED)


def test_a_training_whose_worker_restarted_after_storing_its_version_is_ended_as_done(
    metric: Metric, owner: User
) -> None:
    metric.import_indicators(rule_data(40), owner)
    model = TrainedModel.objects.train(metric, owner)
    job = running_job(metric, owner)
    Job.objects.filter(pk=job.pk).update(result=model, stage="drawing")

    Job.objects.abandon_previous_run("celery@web-1", started_before=timezone.now())

    job.refresh_from_db()
    assert (job.status, job.result) == (JobStatus.DONE, model)
    assert job.outcome().startswith("Version 1 trained:")


def test_a_job_the_worker_took_after_it_started_is_not_its_previous_runs(metric: Metric, owner: User) -> None:
    started = timezone.now()
    taken_since = running_job(metric, owner)  # started after `started`

    assert Job.objects.abandon_previous_run("celery@web-1", started_before=started) == 0

    taken_since.refresh_from_db()
    assert taken_since.status == JobStatus.RUNNING
