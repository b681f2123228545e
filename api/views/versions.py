"""Versions: a metric's trained models, activating one, and unpinning."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import ActivateSerializer, MetricSerializer, VersionSerializer
from api.views.common import ShowOne, UnderMetric, answer, request_body
from metrics.access import get_metric_for_settings, get_trained_model, get_trained_model_for_activation
from metrics.models import Metric, TrainedModel


class MetricVersions(UnderMetric, generics.ListAPIView[TrainedModel]):
    """A metric's model versions, newest first, with their cards."""

    serializer_class = VersionSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        answering = self.metric().answering_model()
        return {**super().get_serializer_context(), "answering_id": answering.pk if answering else None}

    def get_queryset(self) -> Any:
        return (
            self.metric()
            .trained_models.defer("artifact", "chart_sample")
            .select_related("metric", "trained_by")
            .order_by("-version")
        )


class VersionDetail(ShowOne):
    """One version's model card."""

    serializer_class = VersionSerializer
    fetch = staticmethod(get_trained_model)
    url_kwarg = "version_id"


class VersionActivate(APIView):
    @extend_schema(
        request=ActivateSerializer,
        responses={200: VersionSerializer, 409: OpenApiResponse(description="The version cannot be used here")},
    )
    def post(self, request: Request, version_id: int) -> Response:
        """Make this version the one that answers (the metric's owner only); pinned by default."""
        model = get_trained_model_for_activation(request.user, version_id)
        options = ActivateSerializer(data=request_body(request, optional=True))
        options.is_valid(raise_exception=True)
        model.metric.activate(model, pin=options.validated_data["pin"])
        model.metric.refresh_from_db()
        return answer(VersionSerializer, model, request)


class MetricUnpin(APIView):
    @extend_schema(request=None, responses={200: MetricSerializer})
    def post(self, request: Request, metric_id: int) -> Response:
        """Unpin the active version (the owner only): the next training that is not worse answers."""
        metric = get_metric_for_settings(request.user, metric_id)
        metric.unpin()
        return answer(MetricSerializer, Metric.objects.listed().get(pk=metric.pk), request)
