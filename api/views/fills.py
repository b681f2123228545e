"""History fills: a metric's past releases read from its data source, stored as an import."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import FillInputSerializer, JobSerializer
from api.views.common import answer, caller, checked, located, sent_job
from metrics.access import get_metric_for_fill


class MetricFills(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": FillInputSerializer},
        responses={
            202: JobSerializer,
            403: OpenApiResponse(description="Only the metric's owner may fill its history."),
            409: OpenApiResponse(
                description="The metric is not bound to a data source (code `not_bound`), or the same file was "
                "filled from its source already (code `duplicate_file`: undo that fill to fill it again)."
            ),
            503: OpenApiResponse(
                description="The job queue is unreachable (code `unqueued`): send the file again later."
            ),
        },
    )
    def post(self, request: Request, metric_id: int) -> Response:
        """Fill the metric's history from its data source (its owner): each past release the file
        lists is read by one range query per side, minute 1 to `minutes` after its start, and
        stored as indicators with its decision, as one import (all or none, undone as an upload
        is). 202 with the job; a release that could not be read fails it, naming its line in
        `file_errors`. In a fill, the query's `{{ window }}` stands for 1 minute."""
        user = caller(request)
        metric = get_metric_for_fill(user, metric_id)
        sent = checked(FillInputSerializer(data=request.data))
        queued = metric.queue_fill(sent["upload"], sent["minutes"], user, file_name=sent["file"].name)
        job = sent_job(user, queued.pk)  # gone, with its metric, if the owner deleted it meanwhile
        return located(answer(JobSerializer, job, request, status_code=status.HTTP_202_ACCEPTED))
