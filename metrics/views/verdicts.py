from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from mbreak.http import AuthenticatedHttpRequest
from metrics.access import get_trained_model
from metrics.forms import PredictForm
from metrics.models import Metric, ModelUnusable, NoTrainedModel
from predictor.charts import ChartLabels


@require_GET
def predict(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = PredictForm(
        request.user, request.GET if "metric" in request.GET else None, initial={"metric": request.GET.get("for")}
    )
    context: dict[str, object] = {"form": form}
    if form.is_bound and form.is_valid():
        metric: Metric = form.cleaned_data["metric"]
        context["metric"] = metric
        try:
            prediction = metric.predict(form.cleaned_data["value"], form.cleaned_data["time"], request.user)
        except NoTrainedModel as missing:
            context["no_model"] = missing
        except ModelUnusable as unusable:
            context["unusable"] = unusable
        else:
            context.update(
                prediction=prediction, model=prediction.model, scatter=prediction.scatter_figure(chart_labels())
            )
    return render(request, "metrics/predict.html", context)


@require_GET
def pairplot(request: AuthenticatedHttpRequest, model_id: int) -> HttpResponse:
    model = get_trained_model(request.user, model_id)
    response = HttpResponse(model.pairplot_png(chart_labels()), content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response


def chart_labels() -> ChartLabels:
    return ChartLabels(
        value=_("Value"),
        time=_("Time (minutes)"),
        decision=_("Decision"),
        rollback=_("Rollback"),
        rollout=_("Rollout"),
        observation=_("Your observation"),
    )
