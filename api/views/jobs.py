"""Jobs: queueing a training, and the caller's jobs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.serializers import JobSerializer
from api.views.common import ShowOne, UnderMetric, answer, caller, located, sent_job
from metrics.access import get_job
from metrics.models import Job


class TrainMetric(UnderMetric):
    @extend_schema(
        request=None,
        responses={
            202: JobSerializer,
            503: OpenApiResponse(description="The job queue is unreachable (code `unqueued`): try again later."),
        },
    )
    def post(self, request: Request, metric_id: int) -> Response:
        """Queue a training of the metric (or find the one already queued or running): 202 with its job."""
        job, _created = Job.objects.enqueue_training(self.metric(), caller(request))
        job = sent_job(caller(request), job.pk)
        return located(answer(JobSerializer, job, request, status_code=status.HTTP_202_ACCEPTED))


class JobList(generics.ListAPIView[Job]):
    """The caller's jobs, and the scheduled trainings of the metrics they own, newest first."""

    serializer_class = JobSerializer

    def get_queryset(self) -> Any:
        return Job.objects.for_user(self.request.user)


class JobDetail(ShowOne):
    """A job's status and progress (poll it until `status` is done or failed)."""

    serializer_class = JobSerializer
    fetch = staticmethod(get_job)
    url_kwarg = "job_id"
