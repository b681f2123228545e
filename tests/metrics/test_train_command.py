"""`manage.py train` trains as the Train button does: a training job per metric, run in the
command's own process, with its charts drawn, and one training at a time per metric."""

from __future__ import annotations

import io

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from metrics.models import Job, JobKind, JobStatus, Metric, TrainedModel


def train(*arguments: str) -> tuple[str, str, str | None]:
    """What `train` printed, what it wrote to stderr, and the error it exited with (None: exit 0)."""
    output, errors = io.StringIO(), io.StringIO()
    try:
        call_command("train", *arguments, stdout=output, stderr=errors)
    except CommandError as error:
        return output.getvalue(), errors.getvalue(), str(error)
    return output.getvalue(), errors.getvalue(), None


def test_the_command_trains_through_a_job_as_the_page_does_and_draws_the_charts(
    trained_metric: Metric, owner: User
) -> None:
    _printed, _errors, failure = train("--metric", "Requests per minute", "--user", "owner")

    assert failure is None
    model = TrainedModel.objects.get(version=2)
    # Drawn by the training, in every language, so that the first to open it does not wait.
    for language, _name in settings.LANGUAGES:
        assert cache.get(f"pairplot:{model.pk}:{model.artifact_sha256}:{language}") is not None, language
    job = Job.objects.get()
    assert (job.kind, job.status, job.metric, job.requested_by, job.result) == (
        JobKind.TRAINING,
        JobStatus.DONE,
        trained_metric,
        owner,
        model,
    )
    assert job.worker.startswith("command@")


def test_a_metric_being_trained_is_left_to_that_training_and_a_named_one_exits_with_an_error(
    trained_metric: Metric, contributor: User
) -> None:
    running = Job.objects.create(kind=JobKind.TRAINING, metric=trained_metric, status=JobStatus.RUNNING)

    printed, errors, failure = train("--metric", "Requests per minute")

    assert errors == "“Requests per minute” is already being trained: its progress shows on its page.\n"
    assert failure == "Not trained: 'Requests per minute' (Traffic)."
    assert "0 trained" in printed
    assert list(TrainedModel.objects.values_list("version", flat=True)) == [1]
    assert list(Job.objects.values_list("pk", "status")) == [(running.pk, JobStatus.RUNNING)]


def test_a_sweep_leaves_a_metric_being_trained_to_that_training_and_exits_zero(
    trained_metric: Metric, owner: User
) -> None:
    trained_metric.add_indicator(500, 0, 12, owner)  # new data: its model is stale
    Job.objects.create(kind=JobKind.TRAINING, metric=trained_metric, status=JobStatus.QUEUED)

    _printed, errors, failure = train("--stale")

    assert failure is None
    assert errors == "“Requests per minute” is already being trained: its progress shows on its page.\n"
    assert TrainedModel.objects.count() == 1


def test_the_command_words_its_outcomes_in_the_active_language(metric: Metric) -> None:
    with translation.override("pt-br"):
        printed, errors, failure = train("--metric", "Requests per minute")

    assert errors == "Ignorada 'Requests per minute' (Traffic): dados insuficientes para treinar.\n"
    assert "0 treinadas, 1 sem dados suficientes, 0 falharam, 0 restantes." in printed
    assert failure == "Não treinadas: 'Requests per minute' (Traffic)."
