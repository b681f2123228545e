from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import number_format
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from mbreak.http import AuthenticatedHttpRequest
from metrics import csv_io
from metrics.access import get_batch_for_undo, get_indicator_for_deletion, get_metric
from metrics.exceptions import CannotUndo, DuplicateFile, MetricDeleted
from metrics.forms import IndicatorForm, UploadForm
from metrics.models import Failure, Job, JobStatus, Metric
from metrics.views.metrics import render_detail


@require_POST
def indicator_add(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    metric = get_metric(request.user, metric_id)
    form = IndicatorForm(request.POST)
    if not form.is_valid():
        return render_detail(request, metric, form, status=400)
    try:
        row = form.cleaned_data
        metric.add_indicator(row["value"], row["decision"], row["minutes"], request.user)
    except MetricDeleted as deleted:
        messages.error(request, str(deleted))
        return redirect("metrics:list")
    messages.success(request, _("Indicator added."))
    return redirect(metric)


@require_POST
def indicator_delete(request: AuthenticatedHttpRequest, metric_id: int, indicator_id: int) -> HttpResponse:
    indicator = get_indicator_for_deletion(request.user, metric_id, indicator_id)
    indicator.delete()
    messages.success(request, _("Indicator deleted."))
    return redirect(indicator.metric)


@require_http_methods(["GET", "HEAD", "POST"])
def indicator_upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    shown_above = []
    if request.method == "POST":
        form = UploadForm(request.user, request.POST, request.FILES)
        if form.is_valid():
            metric = form.cleaned_data["metric"]
            try:
                queued = metric.queue_import(
                    request.user,
                    file_name=form.cleaned_data["file"].name,
                    data=form.data_bytes,
                    sha256=form.sha256,
                    delimiter=form.cleaned_data["delimiter"],
                    import_again=form.cleaned_data["import_again"],
                )
            except DuplicateFile as duplicate:
                form.duplicate(duplicate)
            except MetricDeleted as deleted:
                messages.error(request, str(deleted))
                return redirect("metrics:list")
            else:
                answer = after_upload(request, form, metric, queued.pk)
                if answer is not None:
                    return answer
                shown_above = [queued.pk]  # its errors are the form's
        status = 400
    else:
        form = UploadForm(request.user, initial={"metric": request.GET.get("metric")})
        status = 200
    return render(
        request,
        "metrics/indicator_upload.html",
        {
            "form": form,
            "max_upload_bytes": settings.MBREAK_MAX_UPLOAD_BYTES,
            "failed_imports": Job.objects.failed_imports_to_show(request.user).exclude(pk__in=shown_above),
        },
        status=status,
    )


def after_upload(
    request: AuthenticatedHttpRequest, form: UploadForm, metric: Metric, job_id: int
) -> HttpResponse | None:
    """Where an upload leads once its import is queued; None to show the form again, saying
    why the file was refused."""
    # A worker may have done it already (at once, in development and tests); the job is
    # gone if the metric was deleted meanwhile (with its jobs).
    job = Job.objects.filter(pk=job_id).select_related("metric").first()
    if job is None:
        messages.error(request, str(MetricDeleted(metric)))
        return redirect("metrics:list")
    if job.status == JobStatus.DONE:
        messages.success(request, job.outcome())
        return redirect(metric)
    if job.status == JobStatus.FAILED and job.failure == Failure.METRIC_DELETED:
        messages.error(request, job.outcome())
        return redirect("metrics:list")
    if job.status == JobStatus.FAILED and (refusal := job.csv_error()) is not None:
        form.refused(refusal)
        return None
    if job.status == JobStatus.FAILED:
        messages.error(request, job.outcome())
        return redirect(metric)
    messages.info(
        request,
        _("“%(file)s” is being imported into “%(name)s”: its progress shows on its page.")
        % {"file": form.cleaned_data["file"].name[:255], "name": metric.name},
    )
    return redirect(metric)


@require_POST
def batch_undo(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    batch = get_batch_for_undo(request.user, batch_id)
    try:
        deleted = batch.undo()
    except CannotUndo as refused:
        messages.error(request, str(refused))
        return redirect(batch)
    count = number_format(deleted, force_grouping=True)
    if batch.release is not None:  # a release's labels: its outcome stays
        said = ngettext(
            "Labels undone: the %(count)s indicator the outcome of “%(release)s” labelled was deleted. "
            "The outcome stays recorded.",
            "Labels undone: the %(count)s indicators the outcome of “%(release)s” labelled were deleted. "
            "The outcome stays recorded.",
            deleted,
        ) % {"count": count, "release": batch.release}
    else:
        said = ngettext(
            "Undone: the %(count)s indicator of “%(file)s” was deleted.",
            "Undone: the %(count)s indicators of “%(file)s” were deleted.",
            deleted,
        ) % {"count": count, "file": batch.file_name}
    messages.success(request, said)
    return redirect(batch)


@require_safe
def indicator_sample(request: AuthenticatedHttpRequest) -> HttpResponse:
    response = HttpResponse(csv_io.sample_indicator_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, "make-or-break-sample.csv") or "attachment"
    return response


@require_safe
def indicator_download(request: AuthenticatedHttpRequest, metric_id: int) -> StreamingHttpResponse:
    metric = get_metric(request.user, metric_id)
    response = StreamingHttpResponse(metric.indicators.csv_file(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, metric.export_file_name()) or "attachment"
    return response
