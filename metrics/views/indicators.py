from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mbreak.http import AuthenticatedHttpRequest
from metrics import csv_io
from metrics.access import get_indicator_for_deletion, get_metric
from metrics.forms import IndicatorForm, UploadForm
from metrics.models import MetricDeleted
from metrics.views.metrics import render_detail


@require_POST
def indicator_add(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    metric = get_metric(request.user, metric_id)
    form = IndicatorForm(request.POST)
    if not form.is_valid():
        return render_detail(request, metric, form, status=400)
    try:
        metric.add_indicator(user=request.user, **form.cleaned_data)
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


@require_http_methods(["GET", "POST"])
def indicator_upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = UploadForm(request.user, request.POST, request.FILES)
        if form.is_valid() and form.parsed is not None:
            metric = form.cleaned_data["metric"]
            try:
                count = metric.import_indicators(form.parsed, request.user)
            except MetricDeleted as deleted:
                messages.error(request, str(deleted))
                return redirect("metrics:list")
            messages.success(
                request,
                ngettext(
                    "Imported %(count)d indicator into “%(name)s”.",
                    "Imported %(count)d indicators into “%(name)s”.",
                    count,
                )
                % {"count": count, "name": metric.name},
            )
            return redirect(metric)
        status = 400
    else:
        form = UploadForm(request.user, initial={"metric": request.GET.get("metric")})
        status = 200
    return render(
        request,
        "metrics/indicator_upload.html",
        {"form": form, "max_upload_bytes": settings.MBREAK_MAX_UPLOAD_BYTES},
        status=status,
    )


@require_GET
def indicator_download(request: AuthenticatedHttpRequest, metric_id: int) -> StreamingHttpResponse:
    metric = get_metric(request.user, metric_id)
    filename = f"{slugify(metric.name)[:60] or 'metric'}-{metric.pk}-indicators.csv"
    response = StreamingHttpResponse(
        csv_io.write_indicator_csv(metric.indicators.for_export()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    return response
