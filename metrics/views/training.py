from __future__ import annotations

from dataclasses import replace

from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from mbreak.http import AuthenticatedHttpRequest, redirect_back
from metrics.access import get_job, get_job_for_dismissal, get_metric
from metrics.formatting import percent
from metrics.models import Failure, Job, JobStatus, Metric
from metrics.training_outcomes import NOT_YOURS_LISTED


@require_POST
def train_metric(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    metric = get_metric(request.user, metric_id)
    job, created = Job.objects.enqueue_training(metric, request.user)
    job.refresh_from_db()  # a worker may have done it already (at once, in development and tests)
    if job.status == JobStatus.DONE and job.result is not None:
        messages.success(
            request,
            _("Model version %(version)d of “%(name)s” trained: %(accuracy)s accuracy on data it did not see.")
            % {"version": job.result.version, "name": metric.name, "accuracy": percent(job.result.accuracy)},
        )
    elif job.status == JobStatus.FAILED:
        level = messages.warning if job.failure == Failure.NOT_ENOUGH_DATA else messages.error
        level(request, job.outcome())
    elif created:
        messages.info(
            request, _("Training of “%(name)s” queued: its progress shows on its page.") % {"name": metric.name}
        )
    else:
        messages.info(
            request, _("“%(name)s” is already being trained: its progress shows on its page.") % {"name": metric.name}
        )
    return redirect_back(request, metric.get_absolute_url())


@require_POST
def train_all(request: AuthenticatedHttpRequest) -> HttpResponse:
    needing = Metric.objects.visible_to(request.user).needing_training()
    mine = needing.worked_on_by(request.user)
    metrics = list(mine.trainable())
    # Too little data: named, with no job that could only fail saying so.
    short_of_data = list(mine.exclude(pk__in=[metric.pk for metric in metrics]))
    # Others' stale metrics are named, not trained: that is their owners' call.
    others = list(needing.exclude(pk__in=mine.values("pk")).values_list("name", flat=True)[: NOT_YOURS_LISTED + 1])
    outcomes = replace(Job.objects.train_each(metrics, request.user), short_of_data=short_of_data, not_yours=others)
    for level, text in outcomes.messages(request.user):
        messages.add_message(request, level, text)
    return redirect_back(request, reverse("metrics:list"))


@require_safe
def job_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    Job.objects.sweep_abandoned()
    return render(request, "metrics/job_list.html", {"jobs": Job.objects.for_user(request.user)[:100]})


@require_safe
def job_progress(request: AuthenticatedHttpRequest, job_id: int) -> JsonResponse:
    return JsonResponse(get_job(request.user, job_id).as_progress(request.user))


@require_POST
def job_dismiss(request: AuthenticatedHttpRequest, job_id: int) -> HttpResponse:
    job = get_job_for_dismissal(request.user, job_id)
    job.dismiss()
    return redirect_back(request, job.target_metric.get_absolute_url())
