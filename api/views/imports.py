"""Imports: uploading a CSV file, the uploaded files, and undoing one."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import ImportInputSerializer, ImportSerializer, JobSerializer, UndoneImportSerializer
from api.views.common import ShowOne, UnderMetric, answer, caller, checked, located, sent_job
from metrics.access import get_batch, get_batch_for_undo
from metrics.models import ImportBatch


class MetricImports(UnderMetric, generics.ListAPIView[ImportBatch]):
    """A metric's uploaded files, newest first, and uploading one."""

    serializer_class = ImportSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self) -> Any:
        return self.metric().batches.listed()

    @extend_schema(
        request={"multipart/form-data": ImportInputSerializer},
        responses={
            202: JobSerializer,
            409: OpenApiResponse(description="The file was already imported (code `duplicate_file`)."),
            503: OpenApiResponse(
                description="The job queue is unreachable (code `unqueued`): send the file again later."
            ),
        },
    )
    def post(self, request: Request, metric_id: int) -> Response:
        """Upload a CSV file, imported by a job (the upload page's rules, all or nothing): 202 with
        the job; a refused file's job says why, line by line, in `file_errors`."""
        user = caller(request)
        sent = checked(ImportInputSerializer(data=request.data))
        queued = self.metric().queue_import(
            user,
            file_name=sent["file"].name,
            data=sent["upload"].data,
            sha256=sent["upload"].sha256,
            delimiter=sent["delimiter"],
            import_again=sent["import_again"],
        )
        job = sent_job(user, queued.pk)  # gone, with its metric, if the owner deleted it meanwhile
        return located(answer(JobSerializer, job, request, status_code=status.HTTP_202_ACCEPTED))


class ImportDetail(ShowOne):
    """An uploaded file: who sent it, the rows it stored, whether it was undone, and its job."""

    serializer_class = ImportSerializer
    fetch = staticmethod(get_batch)
    url_kwarg = "import_id"


class ImportUndo(APIView):
    @extend_schema(
        request=None,
        responses={
            200: UndoneImportSerializer,
            409: OpenApiResponse(description="Not undone (code `not_finished`, `already_undone` or `nothing_stored`)."),
        },
    )
    def post(self, request: Request, import_id: int) -> Response:
        """Delete every indicator the file stored (who uploaded it, or the metric's owner)."""
        batch = get_batch_for_undo(request.user, import_id)
        return answer(UndoneImportSerializer, batch, request, deleted=batch.undo())
