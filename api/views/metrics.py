"""Metrics: the catalogue, one metric and its verdict settings."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.serializers import (
    MetricFilterSerializer,
    MetricInputSerializer,
    MetricSerializer,
    VerdictSettingsSerializer,
)
from api.views.common import UnderMetric, answer, caller, checked, located, request_body
from metrics.access import get_metric_for_deletion, get_metric_for_settings
from metrics.models import Metric

NAME_FILTER = OpenApiParameter("name", str, description="Metrics whose name contains this, ignoring case.")
CATEGORY_FILTER = OpenApiParameter("category", str, description="Metrics whose category contains this, ignoring case.")


class MetricList(generics.ListAPIView[Metric]):
    """The shared catalogue of metrics, as the list page shows it."""

    serializer_class = MetricSerializer

    def get_queryset(self) -> Any:
        searched = checked(MetricFilterSerializer(data=self.request.query_params))
        return (
            Metric.objects.visible_to(self.request.user)
            .search(name=searched["name"], category=searched["category"])
            .listed()
            .order_by("category_key", "name_key", "pk")
        )

    @extend_schema(parameters=[NAME_FILTER, CATEGORY_FILTER])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=MetricInputSerializer,
        responses={
            201: MetricSerializer,
            409: OpenApiResponse(description="A metric of that name and category exists (code `duplicate`)."),
        },
    )
    def post(self, request: Request) -> Response:
        """Create a metric, owned by the caller."""
        metric = Metric(owner=caller(request), **checked(MetricInputSerializer(data=request_body(request))))
        metric.add()
        return located(
            answer(
                MetricSerializer,
                Metric.objects.listed().get(pk=metric.pk),
                request,
                status_code=status.HTTP_201_CREATED,
            )
        )


class MetricDetail(UnderMetric):
    @extend_schema(responses=MetricSerializer)
    def get(self, request: Request, metric_id: int) -> Response:
        return answer(MetricSerializer, Metric.objects.listed().get(pk=self.metric().pk), request)

    @extend_schema(request=VerdictSettingsSerializer(partial=True), responses=MetricSerializer)
    def patch(self, request: Request, metric_id: int) -> Response:
        """Change the verdict settings (its owner only): the thresholds, the minimum of similar
        cases, the out-of-range margin, and whether a stale model is refused."""
        metric = get_metric_for_settings(request.user, metric_id)
        sent = request_body(request)
        settings = checked(VerdictSettingsSerializer(metric, data=sent, partial=True))  # the page's rules
        for field, value in settings.items():
            setattr(metric, field, value)
        # Only what was sent: two requests changing different settings at once keep both.
        metric.save_settings(fields=sent)
        return answer(MetricSerializer, Metric.objects.listed().get(pk=metric.pk), request)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, metric_id: int) -> Response:
        """Delete the metric and all its data: its owner only."""
        metric = get_metric_for_deletion(request.user, metric_id)
        metric.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
