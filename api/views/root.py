"""The API's entry point, and the problem-details 404 for any other path."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


@extend_schema(exclude=True)
class Root(APIView):
    def get(self, request: Request) -> Response:
        return Response(
            {
                "metrics": request.build_absolute_uri(reverse("api:metrics")),
                "schema": request.build_absolute_uri(reverse("api:schema")),
                "docs": request.build_absolute_uri(reverse("api:docs")),
            }
        )


@extend_schema(exclude=True)
class NotFound(APIView):
    """Any other path under /api/: a problem-details 404, not the HTML page."""

    permission_classes: list[Any] = []
    throttle_classes: list[Any] = []

    def dispatch_not_found(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise exceptions.NotFound()

    # Whatever the method: DRF would describe the view to OPTIONS, and refuse others with 405.
    get = post = put = patch = delete = options = http_method_not_allowed = dispatch_not_found
