"""Jobs: queueing a training, and the caller's jobs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import JobSerializer
from api.views.common import caller, sent_job
from metrics.access import get_job, get_metric
from metrics.models import Job


class TrainMetric(APIView):
    @extend_schema(
        request=None,
        responses={
            202: JobSerializer,
            503: OpenApiResponse(description="The job queue is unreachable (code `unqueued`): try again later."),
        },
    )
    def post(self, request: Request, metric_id: int) -> Response:
        """Queue a training of the metric (or find the one already queued or running): 202 with its job."""
        metric = get_metric(request.user, metric_id)
        job, _created = Job.objects.enqueue_training(metric, caller(request))
        job = sent_job(caller(request), job.pk)
        body = JobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class JobList(generics.ListAPIView[Job]):
    """The caller's jobs, newest first."""

    serializer_class = JobSerializer

    def get_queryset(self) -> Any:
        return Job.objects.for_user(self.request.user)


class JobDetail(APIView):
    @extend_schema(responses=JobSerializer)
    def get(self, request: Request, job_id: int) -> Response:
        """A job's status and progress (poll it until `status` is done or failed)."""
        return Response(JobSerializer(get_job(request.user, job_id), context={"request": request}).data)
