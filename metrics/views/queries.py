"""A metric's production query: binding it to a data source of its owner's, and previewing it."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from mbreak.http import AuthenticatedHttpRequest
from metrics.access import get_metric_for_binding
from metrics.exceptions import MetricDeleted, SourceDeleted
from metrics.forms import MetricQueryForm, PreviewForm
from metrics.models import DataSource, Metric, MetricQuery
from metrics.models.data_source import VARIABLES, Preview


@require_http_methods(["GET", "HEAD", "POST"])
def metric_query(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    metric = get_metric_for_binding(request.user, metric_id)
    query = metric.bound_query()
    form = MetricQueryForm(request.user, request.POST or None, instance=query or MetricQuery(metric=metric))
    if request.method == "POST":
        if form.is_valid():
            try:
                bound = metric.bind(form.cleaned_data["source"], request.user, **form.bound_fields())
            except MetricDeleted as deleted:
                messages.error(request, str(deleted))
                return redirect("metrics:list")
            except SourceDeleted as deleted:
                form.add_error("source", str(deleted))
                return render_query_page(request, metric, query, form, status=400)
            messages.success(
                request,
                _("“%(metric)s” now reads its value from “%(source)s”: preview it below.")
                % {"metric": metric.name, "source": bound.source.name},
            )
            return redirect("metrics:query", metric.pk)
        return render_query_page(request, metric, query, form, status=400)
    return render_query_page(request, metric, query, form)


@require_POST
def metric_query_preview(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    metric = get_metric_for_binding(request.user, metric_id)
    query = metric.bound_query()
    if query is None:
        messages.info(request, _("“%(name)s” is not bound to a data source yet.") % {"name": metric.name})
        return redirect("metrics:query", metric.pk)
    preview_form = PreviewForm(request.POST)
    preview = query.preview(preview_form.variables()) if preview_form.is_valid() else None
    form = MetricQueryForm(request.user, instance=query)
    status = 200 if preview_form.is_valid() else 400
    return render_query_page(request, metric, query, form, preview_form, preview, status=status)


@require_POST
def metric_query_unbind(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    metric = get_metric_for_binding(request.user, metric_id)
    if metric.unbind(request.user):
        messages.success(request, _("“%(name)s” no longer reads its value from a data source.") % {"name": metric.name})
    else:
        messages.info(request, _("“%(name)s” was not bound to a data source.") % {"name": metric.name})
    return redirect(metric)


def render_query_page(
    request: AuthenticatedHttpRequest,
    metric: Metric,
    query: MetricQuery | None,
    form: MetricQueryForm,
    preview_form: PreviewForm | None = None,
    preview: Preview | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "metric": metric,
        "query": query,
        "form": form,
        "preview_form": preview_form or PreviewForm(),
        "preview": preview,
        "has_sources": DataSource.objects.visible_to(request.user).exists(),
        "variables": VARIABLES,
    }
    return render(request, "metrics/metric_query.html", context, status=status)
