from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from mbreak.http import AuthenticatedHttpRequest
from metrics.access import get_metric, get_metric_for_deletion, get_metric_for_settings
from metrics.exceptions import DuplicateMetric, MetricDeleted
from metrics.forms import FillForm, IndicatorForm, MetricFilterForm, MetricForm, MetricSettingsForm
from metrics.models import ImportBatch, Indicator, Job, Metric, MetricQuery, Release, next_scheduled_retraining
from metrics.models.metric import DEFAULT_FILL_MINUTES, left_out_words

METRICS_PER_PAGE = 20


class CountedPaginator(Paginator[Indicator]):
    """A paginator told its count (the metric's maintained one): a page of a metric of millions
    of indicators reads one page of rows and counts none."""

    def __init__(self, rows: QuerySet[Indicator], per_page: int, count: int) -> None:
        super().__init__(rows, per_page)
        self.rows = rows
        self.known_count = count

    @cached_property
    def count(self) -> int:
        return self.known_count

    def page(self, number: Any) -> Page[Indicator]:
        """A page in the second half is read from the other end: an OFFSET steps over every row
        it skips (the last page of 8.7 million took 2.5 s; read backwards, under 1 ms)."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        if bottom <= self.count // 2:
            return super().page(number)
        rows = list(self.rows.reverse()[self.count - top : self.count - bottom])
        rows.reverse()
        return Page(rows, number, self)


INDICATORS_PER_PAGE = 25


@require_safe
def metric_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    filters = MetricFilterForm(request.GET)
    # A search the form refuses (a NUL character, which no name holds) finds nothing, and says why.
    searched = Metric.objects.visible_to(request.user) if filters.is_valid() else Metric.objects.none()
    metrics = searched.search(
        name=filters.cleaned_data.get("name", ""), category=filters.cleaned_data.get("category", "")
    ).listed()
    page = Paginator(metrics, METRICS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "metrics/metric_list.html",
        {
            "filters": filters,
            "page": page,
            "create_form": MetricForm(auto_id="new_metric_%s"),
            "is_filtered": bool(request.GET.get("name") or request.GET.get("category")),
            # A new account has nothing of its own to train: the banner waits for its data, and
            # its button for a metric of theirs that has new data and enough of it to train.
            "shows_train_banner": Metric.objects.has_any_worked_on_by(request.user),
            "has_training_to_do": Metric.objects.visible_to(request.user)
            .worked_on_by(request.user)
            .needing_training()
            .trainable()
            .exists(),
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
def metric_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = MetricForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        metric = form.save(commit=False)
        metric.owner = request.user
        try:
            metric.add()
        except DuplicateMetric as duplicate:
            form.add_error(None, str(duplicate))
            return render(request, "metrics/metric_create.html", {"form": form})
        messages.success(request, _("Metric “%(name)s” created. Now add some data to it.") % {"name": metric.name})
        return redirect(metric)
    return render(request, "metrics/metric_create.html", {"form": form})


@require_safe
def metric_detail(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    return render_detail(request, get_metric(request.user, metric_id), IndicatorForm())


def render_detail(
    request: AuthenticatedHttpRequest,
    metric: Metric,
    form: IndicatorForm,
    status: int = 200,
    *,
    fill_form: FillForm | None = None,
) -> HttpResponse:
    # A release outcome's label says which release it came from (or that it was deleted since).
    indicators = metric.indicators.newest_first().select_related("observation__release", "batch")
    page = CountedPaginator(indicators, INDICATORS_PER_PAGE, count=metric.indicator_count).get_page(
        request.GET.get("page")
    )
    query = metric.bound_query()
    context = {
        "metric": metric,
        "page": page,
        "indicator_form": form,
        "latest_model": metric.answering_model(),
        "not_enough_data": metric.not_enough_data_reason(),
        "next_retraining": next_scheduled_retraining(),
        "retraining": metric.retraining(),
        "versions": metric.trained_models.defer("artifact", "chart_sample").order_by("-version"),
        "feedback": metric.feedback_summary(),
        "batches": ImportBatch.objects.into(metric).newest_first().filter(rows__gt=0)[:10],
        "jobs": metric.jobs.active().select_related("requested_by", "metric").order_by("created_at"),
        "failed_imports": Job.objects.failed_imports_to_show(request.user).filter(metric=metric),
        "can_delete_metric": metric.can_delete(request.user),
        "can_change_settings": metric.can_change_settings(request.user),
        **fill_context(request, metric, fill_form, query),
        # Its production query: the owner's to see; others only learn there is one.
        "can_bind": metric.can_bind(request.user),
        "store_query": query if metric.can_bind(request.user) else query is not None,
    }
    return render(request, "metrics/metric_detail.html", context, status=status)


def fill_context(
    request: AuthenticatedHttpRequest, metric: Metric, form: FillForm | None, query: MetricQuery | None
) -> dict[str, Any]:
    """The history fill's form and the query it reads with (`query`), for the owner of a bound
    metric, with the releases recorded here it could read instead of a file (`fill_releases`:
    how many have an outcome, which would be read for the minutes asked, and which left out)."""
    if query is None or not metric.can_fill(request.user):
        return {}
    form = form or FillForm(auto_id="fill_%s")
    minutes = getattr(form, "cleaned_data", {}).get("minutes")  # the minutes asked, when they were valid
    to_fill = Release.objects.to_fill(metric, request.user, minutes or DEFAULT_FILL_MINUTES)
    return {
        "fill_form": form,
        "fill_query": query,
        "fill_releases": to_fill,
        "fill_releases_left_out": left_out_words(to_fill.counts),
    }


@require_http_methods(["GET", "HEAD", "POST"])
def metric_delete(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    metric = get_metric_for_deletion(request.user, metric_id)
    if request.method == "POST":
        try:
            metric.delete()
        except MetricDeleted:
            messages.info(request, _("Metric “%(name)s” had already been deleted.") % {"name": metric.name})
        else:
            messages.success(request, _("Metric “%(name)s” and all its data were deleted.") % {"name": metric.name})
        return redirect("metrics:list")
    return render(
        request,
        "metrics/metric_confirm_delete.html",
        {
            "metric": metric,
            "indicator_count": metric.indicator_count,
            "model_count": metric.trained_models.count(),
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
def metric_settings(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    metric = get_metric_for_settings(request.user, metric_id)
    form = MetricSettingsForm(request.POST or None, instance=metric, localize_numbers=True)
    if request.method == "POST" and form.is_valid():
        form.save(commit=False).save_settings()
        messages.success(request, _("Verdict settings of “%(name)s” saved.") % {"name": metric.name})
        return redirect(metric)
    return render(
        request, "metrics/metric_settings.html", {"metric": metric, "form": form}, status=400 if form.errors else 200
    )
