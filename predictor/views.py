from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from mbreak.http import AuthenticatedHttpRequest
from metrics.access import get_metric, get_trained_model
from metrics.models import Metric
from metrics.templatetags.formatting import percent
from predictor import charts
from predictor.artifacts import ArtifactError
from predictor.forms import PredictForm
from predictor.models import TrainedModel
from predictor.training import MIN_INDICATORS, MIN_PER_DECISION, NotEnoughDataError, TrainingDataError

PAIRPLOT_CACHE_SECONDS = 7 * 24 * 3600


@require_POST
def train_metric(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    metric = get_metric(metric_id)
    try:
        model = TrainedModel.objects.train(metric, request.user)
    except NotEnoughDataError as error:
        messages.warning(request, _not_enough_data_message(metric, error))
    except TrainingDataError:
        messages.error(
            request,
            _("“%(name)s” holds values that cannot be learnt from; check its data.") % {"name": metric.name},
        )
    else:
        messages.success(
            request,
            _("Model version %(version)d of “%(name)s” trained: %(accuracy)s accuracy on data it did not see.")
            % {"version": model.version, "name": metric.name, "accuracy": percent(model.accuracy)},
        )
    return _redirect_back(request, metric.get_absolute_url())


@require_POST
def train_all(request: AuthenticatedHttpRequest) -> HttpResponse:
    report = TrainedModel.objects.train_stale(request.user, settings.MBREAK_TRAIN_ALL_BUDGET_SECONDS)
    if report.trained:
        messages.success(
            request,
            ngettext("Trained %(count)d model: %(names)s.", "Trained %(count)d models: %(names)s.", len(report.trained))
            % {"count": len(report.trained), "names": ", ".join(m.metric.name for m in report.trained)},
        )
    if report.not_enough_data:
        messages.warning(
            request,
            _(
                "Not enough data to train: %(names)s. Each metric needs at least %(minimum)d indicators, "
                "with at least %(per_decision)d rollbacks and %(per_decision)d rollouts."
            )
            % {
                "names": ", ".join(m.name for m in report.not_enough_data),
                "minimum": MIN_INDICATORS,
                "per_decision": MIN_PER_DECISION,
            },
        )
    if report.failed:
        messages.error(
            request,
            _("These metrics hold values that cannot be learnt from; check their data: %(names)s.")
            % {"names": ", ".join(m.name for m in report.failed)},
        )
    if report.remaining:
        messages.info(
            request,
            ngettext(
                "%(count)d metric still needs training (%(names)s): press “Train the models” again.",
                "%(count)d metrics still need training (%(names)s): press “Train the models” again.",
                len(report.remaining),
            )
            % {"count": len(report.remaining), "names": ", ".join(m.name for m in report.remaining)},
        )
    if not (report.trained or report.not_enough_data or report.failed or report.remaining):
        messages.info(request, _("Every model is up to date: no metric has new data since its last training."))
    return _redirect_back(request, reverse("metrics:list"))


@require_GET
def predict(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = PredictForm(request.GET if "metric" in request.GET else None, initial={"metric": request.GET.get("for")})
    context: dict[str, object] = {"form": form}
    if form.is_bound and form.is_valid():
        metric: Metric = form.cleaned_data["metric"]
        value, minutes = form.cleaned_data["value"], form.cleaned_data["time"]
        model = metric.trained_models.newest(with_artifact=True)
        context.update(metric=metric, model=model)
        if model is not None:
            try:
                prediction = model.predict(value, minutes)
            except ArtifactError:
                context["model_unusable"] = True
            else:
                context["prediction"] = prediction
                context["scatter"] = _scatter(metric, (value, minutes, prediction.decision))
    return render(request, "predictor/predict.html", context)


@require_GET
def pairplot(request: AuthenticatedHttpRequest, model_id: int) -> HttpResponse:
    model = get_trained_model(model_id)
    # The picture shows the metric's data: it changes with the data, not only with the model.
    key = f"pairplot:{model.pk}:{model.metric.data_version}:{get_language()}"
    png = cache.get(key)
    if png is None:
        values, times, decisions = model.metric.indicators.sample_columns(settings.MBREAK_CHART_MAX_POINTS)
        png = charts.render_pairplot_png(values, times, decisions, _chart_labels())
        cache.set(key, png, PAIRPLOT_CACHE_SECONDS)
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response


def _scatter(metric: Metric, observation: tuple[float, float, int]) -> dict[str, object]:
    values, times, decisions = metric.indicators.sample_columns(settings.MBREAK_CHART_MAX_POINTS)
    return charts.scatter_figure_json(values, times, decisions, _chart_labels(), observation)


def _chart_labels() -> charts.ChartLabels:
    return charts.ChartLabels(
        value=_("Value"),
        time=_("Time (minutes)"),
        decision=_("Decision"),
        rollback=_("Rollback"),
        rollout=_("Rollout"),
        observation=_("Your observation"),
    )


def _not_enough_data_message(metric: Metric, error: NotEnoughDataError) -> str:
    return ngettext(
        "Not enough data to train “%(name)s”: it has %(total)d indicator (%(rollbacks)d rollback, "
        "%(rollouts)d rollout). Add more data: at least %(minimum)d indicators, with at least "
        "%(per_decision)d of each decision.",
        "Not enough data to train “%(name)s”: it has %(total)d indicators (%(rollbacks)d rollback, "
        "%(rollouts)d rollout). Add more data: at least %(minimum)d indicators, with at least "
        "%(per_decision)d of each decision.",
        error.total,
    ) % {
        "name": metric.name,
        "total": error.total,
        "rollbacks": error.rollbacks,
        "rollouts": error.rollouts,
        "minimum": MIN_INDICATORS,
        "per_decision": MIN_PER_DECISION,
    }


def _redirect_back(request: AuthenticatedHttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect(fallback)
