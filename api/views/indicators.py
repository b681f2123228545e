"""Indicators: a metric's list, adding one or many, and the CSV download."""

from __future__ import annotations

import json
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from api.pagination import NewestFirst
from api.serializers import IndicatorInputSerializer, IndicatorSerializer, IndicatorsInputSerializer, StoredSerializer
from api.views.common import UnderMetric, caller, checked, request_body
from metrics.models import Indicator
from predictor.columns import IndicatorColumns


class MetricIndicators(UnderMetric, generics.ListAPIView[Indicator]):
    """A metric's indicators, newest first (cursor pages: no row is counted or skipped one by one)."""

    serializer_class = IndicatorSerializer
    pagination_class = NewestFirst

    def get_queryset(self) -> Any:
        return self.metric().indicators.select_related("created_by")

    @extend_schema(
        request=IndicatorInputSerializer,
        responses={201: IndicatorSerializer, 400: OpenApiResponse(description="Invalid indicator")},
    )
    def post(self, request: Request, metric_id: int) -> Response:
        """Add one indicator (a past deployment: the value seen, after how many minutes, what was decided)."""
        metric = self.metric()
        row = checked(IndicatorInputSerializer(data=request_body(request)))
        indicator = metric.add_indicator(row["value"], row["decision"], row["minutes"], caller(request))
        return Response(IndicatorSerializer(indicator).data, status=status.HTTP_201_CREATED)


class MetricIndicatorsBulk(UnderMetric):
    @extend_schema(
        request=IndicatorsInputSerializer,
        responses={201: StoredSerializer, 400: OpenApiResponse(description="Some row is invalid: none stored")},
    )
    def post(self, request: Request, metric_id: int) -> Response:
        """Add many indicators in one request, all or nothing; an error names the row (from 0)."""
        metric = self.metric()
        rows = checked(IndicatorsInputSerializer(data=request_body(request)))["indicators"]
        data = IndicatorColumns()
        for row in rows:
            data.append(value=row["value"], time=row["minutes"], decision=row["decision"])
        stored = metric.import_indicators(data, caller(request))
        metric.refresh_from_db(fields=["indicator_count"])
        return Response({"stored": stored, "indicator_count": metric.indicator_count}, status=status.HTTP_201_CREATED)


class CsvRenderer(BaseRenderer):
    """Lets a client that asks for `text/csv` reach the download (its errors stay JSON)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return json.dumps(data).encode()


class MetricIndicatorsCsv(UnderMetric):
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request, metric_id: int) -> StreamingHttpResponse:
        """Every indicator as CSV (the web page's download), streamed."""
        metric = self.metric()
        response = StreamingHttpResponse(metric.indicators.csv_file(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{metric.export_file_name()}"'
        return response
