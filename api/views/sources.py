"""Data sources: the metric stores a user connects, their own alone (anyone else gets a 404)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers.sources import ConnectionCheckSerializer, DataSourceSerializer
from api.views.common import answer, caller, checked, request_body
from metrics.access import get_data_source
from metrics.models import DataSource


class SourceList(generics.ListAPIView[DataSource]):
    """The caller's data sources."""

    serializer_class = DataSourceSerializer

    def get_queryset(self) -> Any:
        return DataSource.objects.visible_to(self.request.user).order_by("name", "pk")

    @extend_schema(
        request=DataSourceSerializer,
        responses={
            201: DataSourceSerializer,
            409: OpenApiResponse(description="The caller has a data source of that name (code `duplicate`)."),
        },
    )
    def post(self, request: Request) -> Response:
        """Add a data source, owned by the caller."""
        source = DataSource(owner=caller(request))
        for field, value in checked(DataSourceSerializer(source, data=request_body(request))).items():
            setattr(source, field, value)
        source.add()
        response = answer(DataSourceSerializer, source, request, status_code=status.HTTP_201_CREATED)
        response["Location"] = response.data["link"]
        return response


class SourceDetail(APIView):
    @extend_schema(responses=DataSourceSerializer)
    def get(self, request: Request, source_id: int) -> Response:
        return answer(DataSourceSerializer, get_data_source(request.user, source_id), request)

    @extend_schema(request=DataSourceSerializer, responses=DataSourceSerializer)
    def put(self, request: Request, source_id: int) -> Response:
        """Replace the source's settings; its secret is kept when not sent (unless `auth` changes)."""
        return self.change(request, source_id, partial=False)

    @extend_schema(request=DataSourceSerializer(partial=True), responses=DataSourceSerializer)
    def patch(self, request: Request, source_id: int) -> Response:
        """Change some of the source's settings."""
        return self.change(request, source_id, partial=True)

    def change(self, request: Request, source_id: int, *, partial: bool) -> Response:
        with transaction.atomic():
            source = get_data_source(request.user, source_id, lock=True)
            serializer = DataSourceSerializer(source, data=request_body(request), partial=partial)
            changes = checked(serializer)
            for field, value in changes.items():
                setattr(source, field, value)
            source.save(update_fields=list(changes))
        return answer(DataSourceSerializer, source, request)

    @extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(description="Metrics are bound to it (code `in_use`): nothing was deleted."),
        }
    )
    def delete(self, request: Request, source_id: int) -> Response:
        """Delete the source; refused while a metric reads its values from it."""
        get_data_source(request.user, source_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class SourceTest(APIView):
    @extend_schema(request=None, responses=ConnectionCheckSerializer)
    def post(self, request: Request, source_id: int) -> Response:
        """Test the connection: ask the store whether it answers with these credentials. A store
        that cannot be asked is an answer (200, `ok` false, why in `result` and `detail`), kept
        as the source's `last_check`."""
        source = get_data_source(request.user, source_id)
        source.check_connection()
        return answer(ConnectionCheckSerializer, source, request)
