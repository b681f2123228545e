from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from mbreak.http import AuthenticatedHttpRequest, redirect_back
from metrics.access import get_metric
from metrics.models import (
    MIN_INDICATORS,
    MIN_PER_DECISION,
    Metric,
    NotEnoughDataError,
    TrainedModel,
    TrainingDataError,
)
from metrics.templatetags.formatting import percent


@require_POST
def train_metric(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    metric = get_metric(request.user, metric_id)
    try:
        model = TrainedModel.objects.train(metric, request.user)
    except NotEnoughDataError as error:
        messages.warning(request, not_enough_data_message(metric, error))
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
    return redirect_back(request, metric.get_absolute_url())


@require_POST
def train_all(request: AuthenticatedHttpRequest) -> HttpResponse:
    report = Metric.objects.visible_to(request.user).train_stale(
        request.user, budget_seconds=settings.MBREAK_TRAIN_ALL_BUDGET_SECONDS
    )
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
    if report.did_nothing:
        messages.info(request, _("Every model is up to date: no metric has new data since its last training."))
    return redirect_back(request, reverse("metrics:list"))


def not_enough_data_message(metric: Metric, error: NotEnoughDataError) -> str:
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
