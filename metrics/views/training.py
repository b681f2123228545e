from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from mbreak.http import AuthenticatedHttpRequest, redirect_back
from metrics.access import get_job, get_job_for_dismissal, get_metric
from metrics.formatting import percent
from metrics.models import MIN_INDICATORS, MIN_PER_DECISION, Failure, Job, JobStatus, Metric


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
    short_of_data = list(mine.exclude(pk__in=[metric.pk for metric in metrics]).values_list("name", flat=True))
    # Others' stale metrics are named, not trained: that is their owners' call.
    others = list(needing.exclude(pk__in=mine.values("pk")).values_list("name", flat=True)[:11])
    jobs = [Job.objects.enqueue_training(metric, request.user)[0] for metric in metrics]
    for job in jobs:
        job.refresh_from_db()
    done = [job for job in jobs if job.status == JobStatus.DONE]
    failed = [job for job in jobs if job.status == JobStatus.FAILED]
    waiting = [job for job in jobs if job.is_active]
    if done:
        messages.success(
            request,
            ngettext("Trained %(count)d model: %(names)s.", "Trained %(count)d models: %(names)s.", len(done))
            % {"count": len(done), "names": ", ".join(job.metric.name for job in done)},
        )
    too_little = short_of_data + [job.metric.name for job in failed if job.failure == Failure.NOT_ENOUGH_DATA]
    if too_little:
        messages.warning(
            request,
            _(
                "Not enough data to train: %(names)s. Each metric needs at least %(minimum)d indicators, "
                "with at least %(per_decision)d rollbacks and %(per_decision)d rollouts."
            )
            % {"names": ", ".join(too_little), "minimum": MIN_INDICATORS, "per_decision": MIN_PER_DECISION},
        )
    unlearnable = [job.metric.name for job in failed if job.failure == Failure.BAD_DATA]
    if unlearnable:
        messages.error(
            request,
            _("These metrics hold values that cannot be learnt from; check their data: %(names)s.")
            % {"names": ", ".join(unlearnable)},
        )
    for job in failed:
        if job.failure not in (Failure.NOT_ENOUGH_DATA, Failure.BAD_DATA):
            messages.error(request, job.outcome())
    if waiting:
        messages.info(
            request,
            ngettext(
                "%(count)d training queued (%(names)s): follow it under Jobs.",
                "%(count)d trainings queued (%(names)s): follow them under Jobs.",
                len(waiting),
            )
            % {"count": len(waiting), "names": ", ".join(job.metric.name for job in waiting)},
        )
    if others:
        messages.info(
            request,
            ngettext(
                "Not trained, as it is not yours (you neither own it nor added data to it): %(names)s.",
                "Not trained, as they are not yours (you neither own them nor added data to them): %(names)s.",
                len(others),
            )
            % {"names": ", ".join(others[:10]) + (", …" if len(others) > 10 else "")},
        )
    if not jobs and not others and not short_of_data:
        messages.info(request, _("Every model is up to date: no metric has new data since its last training."))
    elif not jobs and not short_of_data and Metric.objects.has_any_worked_on_by(request.user):
        messages.info(request, _("The models of your metrics are up to date."))
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
    return redirect_back(request, job.metric.get_absolute_url())
