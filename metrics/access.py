"""The one way views fetch the objects a user touches: 404 if missing, 403 if not allowed."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from metrics.models import Indicator, Metric
from predictor.models import TrainedModel


def get_metric(metric_id: int) -> Metric:
    return get_object_or_404(Metric.objects.select_related("owner"), pk=metric_id)


def get_trained_model(model_id: int) -> TrainedModel:
    return get_object_or_404(TrainedModel.objects.defer("artifact").select_related("metric"), pk=model_id)


def get_metric_for_deletion(request: HttpRequest, metric_id: int) -> Metric:
    metric = get_metric(metric_id)
    if not metric.can_delete(request.user):
        raise PermissionDenied(_("Only the metric's owner may delete it."))
    return metric


def get_indicator_for_deletion(request: HttpRequest, metric_id: int, indicator_id: int) -> Indicator:
    indicator = get_object_or_404(Indicator.objects.select_related("metric"), pk=indicator_id, metric_id=metric_id)
    if not indicator.can_delete(request.user):
        raise PermissionDenied(_("Only the indicator's author or the metric's owner may delete it."))
    return indicator
