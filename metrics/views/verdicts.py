from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from mbreak.http import AuthenticatedHttpRequest
from metrics.access import get_metric, get_trained_model, get_verdict, get_verdict_for_feedback
from metrics.exceptions import FeedbackAlreadyGiven, MetricDeleted, ModelUnusable, NoTrainedModel
from metrics.forms import FeedbackForm, PredictForm, VerdictFilterForm
from metrics.models import Decision, Metric, Verdict
from metrics.models.trained_model import chart_labels

VERDICTS_PER_PAGE = 25


@require_http_methods(["GET", "HEAD", "POST"])
def predict(request: AuthenticatedHttpRequest) -> HttpResponse:
    # GET shows the form (filled from a link's query); POST gives a verdict, logged, and shows it at its own URL.
    if request.method == "POST":
        form = PredictForm(request.user, request.POST)
    else:
        initial = {key: request.GET[key] for key in ("value", "minutes") if key in request.GET}
        form = PredictForm(
            request.user, initial={"metric": request.GET.get("for") or request.GET.get("metric"), **initial}
        )
    context: dict[str, object] = {"form": form}
    if request.method == "POST" and form.is_valid():
        metric: Metric = form.cleaned_data["metric"]
        try:
            verdict = metric.predict(form.cleaned_data["value"], form.cleaned_data["minutes"], request.user)
        except (NoTrainedModel, ModelUnusable) as refused:
            # After training, come back to this form filled in as it was.
            query = urlencode(
                {"metric": str(metric.pk), "value": request.POST["value"], "minutes": request.POST["minutes"]}
            )
            context.update(
                metric=metric,
                refused=refused,
                unusable=isinstance(refused, ModelUnusable),
                # A Train button that could only fail: say what the metric needs instead.
                not_enough_data=metric.not_enough_data_reason(),
                back_after_training=f"{reverse('metrics:predict')}?{query}",
            )
        else:
            return redirect(verdict)
    return render(request, "metrics/predict.html", context, status=400 if form.errors else 200)


@require_safe
def verdict_detail(request: AuthenticatedHttpRequest, verdict_id: int) -> HttpResponse:
    verdict = get_verdict(request.user, verdict_id)
    return render_verdict(request, verdict, FeedbackForm())


def render_verdict(
    request: AuthenticatedHttpRequest, verdict: Verdict, feedback_form: FeedbackForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "metrics/verdict_detail.html",
        {
            "verdict": verdict,
            "metric": verdict.metric,
            "figure": verdict.figure(chart_labels()),
            "feedback_form": feedback_form,
            "labelled_by": (labelled_by := verdict.labelled_by),
            "can_give_feedback": verdict.can_give_feedback(request.user)
            and verdict.decided is None
            and labelled_by is None,
            # Where and how a pulled value was read is its source's owner's to see.
            "shows_source": verdict.provenance is not None and verdict.provenance.shows_source_to(request.user),
            "current_candidate": verdict.metric.current_candidate() if verdict.is_stale else None,
            "predict_form": PredictForm.of_verdict(request.user, verdict),
        },
        status=status,
    )


@require_POST
def verdict_feedback(request: AuthenticatedHttpRequest, verdict_id: int) -> HttpResponse:
    verdict = get_verdict_for_feedback(request.user, verdict_id)
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        return render_verdict(request, verdict, form, status=400)
    decided: int = form.cleaned_data["decided"]
    try:
        verdict.add_feedback(decided, form.cleaned_data["note"], request.user)
    except FeedbackAlreadyGiven as given:
        messages.info(request, str(given))
    except MetricDeleted as deleted:
        messages.error(request, str(deleted))
        return redirect("metrics:list")
    else:
        messages.success(
            request,
            _("Thank you: “%(decision)s” is now an indicator of “%(name)s”, for the next training to learn from.")
            % {"decision": Decision(decided).label, "name": verdict.metric.name},
        )
    return redirect(verdict)


@require_safe
def verdict_list(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    metric = get_metric(request.user, metric_id)
    filters = VerdictFilterForm(request.GET)
    verdicts = metric.verdicts.newest_first()
    if filters.is_valid() and filters.cleaned_data["state"]:
        verdicts = verdicts.filter(state=filters.cleaned_data["state"])
    page = Paginator(verdicts, VERDICTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "metrics/verdict_list.html",
        {"metric": metric, "page": page, "filters": filters, "summary": metric.feedback_summary()},
    )


@require_safe
def pairplot(request: AuthenticatedHttpRequest, model_id: int) -> HttpResponse:
    model = get_trained_model(request.user, model_id)
    response = HttpResponse(model.pairplot_png(), content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response
