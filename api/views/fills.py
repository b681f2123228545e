"""History fills: a metric's past releases read from its data source, stored as an import."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.parsers import StrictJSONParser
from api.serializers import FillInputSerializer, JobSerializer
from api.views.common import answer, caller, checked, located, sent_job
from metrics.access import get_metric_for_fill
from metrics.models.metric import FILL_FROM_RELEASES


class MetricFills(APIView):
    # A file comes as multipart; `{"from": "releases"}` may come as JSON too.
    parser_classes = [MultiPartParser, StrictJSONParser]

    @extend_schema(
        request={"multipart/form-data": FillInputSerializer, "application/json": FillInputSerializer},
        responses={
            202: JobSerializer,
            403: OpenApiResponse(description="Only the metric's owner may fill its history."),
            409: OpenApiResponse(
                description="The metric is not bound to a data source (code `not_bound`), the same file, or the "
                "releases recorded here, were filled from its source already (code `duplicate_file`: undo that "
                "fill to fill it again), or no release recorded here is left to fill it from (code `no_releases`)."
            ),
            503: OpenApiResponse(
                description="The job queue is unreachable (code `unqueued`): send the file again later."
            ),
        },
    )
    def post(self, request: Request, metric_id: int) -> Response:
        """Fill the metric's history from its data source (its owner): each past release the file
        lists (or, `from` `releases`, each release recorded here with an outcome) is read by one
        range query per side, minute 1 to `minutes` after its start, and stored as indicators
        with its decision, as one import (all or none, undone as an upload is). 202 with the
        job, whose `outcome` says which releases recorded here it read and left out; a release
        that could not be read fails it, naming its line (and a release recorded here by its
        name) in `file_errors`. In a fill, the query's `{{ window }}` stands for 1 minute."""
        user = caller(request)
        metric = get_metric_for_fill(user, metric_id)
        sent = checked(FillInputSerializer(data=request.data))
        if sent["from"] == FILL_FROM_RELEASES:
            queued = metric.queue_fill_from_releases(sent["minutes"], user)
        else:
            queued = metric.queue_fill(sent["upload"], sent["minutes"], user, file_name=sent["file"].name)
        job = sent_job(user, queued.pk)  # gone, with its metric, if the owner deleted it meanwhile
        return located(answer(JobSerializer, job, request, status_code=status.HTTP_202_ACCEPTED))
