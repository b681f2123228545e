from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mbreak.http import AuthenticatedHttpRequest
from metrics.access import get_metric_for_fill
from metrics.exceptions import DuplicateFill, MetricDeleted, NotBound, NothingToFill
from metrics.forms import FillForm, IndicatorForm
from metrics.models import Failure, Job, JobStatus
from metrics.views.metrics import render_detail


@require_POST
def metric_fill(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    metric = get_metric_for_fill(request.user, metric_id)
    form = FillForm(request.POST, request.FILES, auto_id="fill_%s")
    if not form.is_valid():
        return render_detail(request, metric, IndicatorForm(), status=400, fill_form=form)
    minutes = form.cleaned_data["minutes"]
    try:
        if form.from_releases:
            queued = metric.queue_fill_from_releases(minutes, request.user)
        elif form.upload is not None:
            queued = metric.queue_fill(form.upload, minutes, request.user, file_name=form.cleaned_data["file"].name)
        else:  # no file (refused by the form)
            return render_detail(request, metric, IndicatorForm(), status=400, fill_form=form)
    except DuplicateFill as duplicate:
        form.duplicate(duplicate)
        return render_detail(request, metric, IndicatorForm(), status=400, fill_form=form)
    except NothingToFill as refused:
        form.add_error(None, str(refused))
        return render_detail(request, metric, IndicatorForm(), status=400, fill_form=form)
    except NotBound as refused:
        messages.error(request, str(refused))
        return redirect(metric)
    except MetricDeleted as deleted:
        messages.error(request, str(deleted))
        return redirect("metrics:list")
    # A worker may have done it already (at once, in development and tests); gone with its metric.
    job = Job.objects.filter(pk=queued.pk).select_related("metric").first()
    if job is None or (job.status == JobStatus.FAILED and job.failure == Failure.METRIC_DELETED):
        messages.error(request, str(MetricDeleted(metric)))
        return redirect("metrics:list")
    if job.status == JobStatus.DONE:
        messages.success(request, job.outcome())
    elif job.is_active:
        messages.info(
            request,
            _("The history of “%(name)s” is being filled from its data source: its progress shows here.")
            % {"name": metric.name},
        )
    # A failed fill is shown at the top of the metric's page, with the line of each release at fault.
    return redirect(metric)
