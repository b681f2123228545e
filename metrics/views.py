from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mbreak.http import AuthenticatedHttpRequest
from metrics import csv_io
from metrics.access import get_indicator_for_deletion, get_metric, get_metric_for_deletion
from metrics.forms import IndicatorForm, MetricFilterForm, MetricForm, UploadForm
from metrics.models import Metric

METRICS_PER_PAGE = 20
INDICATORS_PER_PAGE = 25


@require_GET
def metric_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    filters = MetricFilterForm(request.GET)
    filters.is_valid()
    metrics = (
        Metric.objects.search(
            name=filters.cleaned_data.get("name", ""), category=filters.cleaned_data.get("category", "")
        )
        .select_related("owner")
        .with_indicator_counts()
        .with_latest_model()
    )
    page = Paginator(metrics, METRICS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "metrics/metric_list.html",
        {
            "filters": filters,
            "page": page,
            "create_form": MetricForm(auto_id="new_metric_%s"),
            "is_filtered": bool(request.GET.get("name") or request.GET.get("category")),
        },
    )


@require_http_methods(["GET", "POST"])
def metric_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = MetricForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        metric = form.save(commit=False)
        metric.owner = request.user
        try:
            with transaction.atomic():
                metric.save()
        except IntegrityError:
            # Someone created the same metric between the check and the insert.
            form.add_error(None, metric.duplicate_message())
            return render(request, "metrics/metric_create.html", {"form": form})
        messages.success(request, _("Metric “%(name)s” created. Now add some data to it.") % {"name": metric.name})
        return redirect(metric)
    return render(request, "metrics/metric_create.html", {"form": form})


@require_GET
def metric_detail(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    return _render_detail(request, get_metric(metric_id), IndicatorForm())


@require_POST
def indicator_add(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    metric = get_metric(metric_id)
    form = IndicatorForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, metric, form, status=400)
    metric.add_indicator(user=request.user, **form.cleaned_data)
    messages.success(request, _("Indicator added."))
    return redirect(metric)


def _render_detail(
    request: AuthenticatedHttpRequest, metric: Metric, form: IndicatorForm, status: int = 200
) -> HttpResponse:
    page = Paginator(metric.indicators.newest_first(), INDICATORS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "metric": metric,
        "page": page,
        "indicator_form": form,
        "latest_model": metric.trained_models.newest(),
        "can_delete_metric": metric.can_delete(request.user),
    }
    return render(request, "metrics/metric_detail.html", context, status=status)


@require_POST
def indicator_delete(request: AuthenticatedHttpRequest, metric_id: int, indicator_id: int) -> HttpResponse:
    indicator = get_indicator_for_deletion(request, metric_id, indicator_id)
    indicator.delete_and_mark_changed()
    messages.success(request, _("Indicator deleted."))
    return redirect(indicator.metric)


@require_http_methods(["GET", "POST"])
def metric_delete(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    metric = get_metric_for_deletion(request, metric_id)
    if request.method == "POST":
        name = metric.name
        metric.delete()
        messages.success(request, _("Metric “%(name)s” and all its data were deleted.") % {"name": name})
        return redirect("metrics:list")
    return render(
        request,
        "metrics/metric_confirm_delete.html",
        {
            "metric": metric,
            "indicator_count": metric.indicators.count(),
            "model_count": metric.trained_models.count(),
        },
    )


@require_http_methods(["GET", "POST"])
def indicator_upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid() and form.parsed is not None:
            metric = form.cleaned_data["metric"]
            count = metric.import_indicators(form.parsed, request.user)
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
        form = UploadForm(initial={"metric": request.GET.get("metric")})
        status = 200
    return render(
        request,
        "metrics/indicator_upload.html",
        {"form": form, "max_upload_bytes": settings.MBREAK_MAX_UPLOAD_BYTES},
        status=status,
    )


@require_GET
def indicator_download(request: AuthenticatedHttpRequest, metric_id: int) -> StreamingHttpResponse:
    metric = get_metric(metric_id)
    filename = f"{slugify(metric.name)[:60] or 'metric'}-{metric.pk}-indicators.csv"
    response = StreamingHttpResponse(
        csv_io.write_indicator_csv(metric.indicators.for_export()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
