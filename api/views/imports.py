"""Imports: uploading a CSV file, the uploaded files, and undoing one."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import ImportInputSerializer, ImportSerializer, JobSerializer, UndoneImportSerializer
from api.views.common import caller, checked_form, sent_job
from metrics.access import get_batch, get_batch_for_undo, get_metric
from metrics.csv_io import DETECT
from metrics.forms import ApiUploadForm
from metrics.models import ImportBatch


class MetricImports(generics.ListAPIView[ImportBatch]):
    """A metric's uploaded files, newest first, and uploading one."""

    serializer_class = ImportSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self) -> Any:
        metric = get_metric(self.request.user, self.kwargs["metric_id"])
        return metric.batches.listed()

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
        metric = get_metric(request.user, metric_id)
        user = caller(request)
        import_again = request.data.get("import_again", "false")
        if import_again not in ("true", "false"):
            message = _("Send true or false.")
            raise exceptions.ValidationError({"import_again": [exceptions.ErrorDetail(message, "type")]})
        fields = {
            "metric": metric.pk,
            "delimiter": request.data.get("delimiter", DETECT),
            "import_again": import_again == "true",
        }
        form = ApiUploadForm(user, fields, request.FILES)
        cleaned = checked_form(form)
        queued = metric.queue_import(
            user,
            file_name=cleaned["file"].name,
            data=form.data_bytes,
            sha256=form.sha256,
            delimiter=cleaned["delimiter"],
            import_again=cleaned["import_again"],
        )
        job = sent_job(user, queued.pk)  # gone, with its metric, if the owner deleted it meanwhile
        body = JobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class ImportDetail(APIView):
    @extend_schema(responses=ImportSerializer)
    def get(self, request: Request, import_id: int) -> Response:
        """An uploaded file: who sent it, the rows it stored, whether it was undone, and its job."""
        return Response(ImportSerializer(get_batch(request.user, import_id), context={"request": request}).data)


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
        deleted = batch.undo()
        context = {"request": request, "deleted": deleted}
        return Response(UndoneImportSerializer(batch, context=context).data)
