"""`GET /metrics`: Make or Break's own figures for a Prometheus server (`metrics.prometheus`).

Beside the API, not in it (Prometheus asks /metrics by default), with the API's bearer tokens,
its rates and its problem details; only a metrics token, or an allowed address, reads it.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from api.authentication import BearerTokenAuthentication
from api.permissions import MayScrapeMetrics
from metrics import prometheus


@extend_schema(exclude=True)
class PrometheusScrape(APIView):
    # A bearer token only: a browser's session is no Prometheus.
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [MayScrapeMetrics]

    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(prometheus.exposition(), content_type=prometheus.CONTENT_TYPE)
        response["Cache-Control"] = "no-store"
        return response
