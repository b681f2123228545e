"""Releases: one release, its observations and its verdict."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import ObservationInputSerializer, ReleaseSerializer, ReleaseVerdictSerializer
from api.views.common import ShowOne, answer, caller, request_body
from metrics.access import get_metric, get_release, get_release_for_observation


class ReleaseDetail(ShowOne):
    serializer_class = ReleaseSerializer
    fetch = staticmethod(get_release)
    url_kwarg = "release_id"


class ReleaseObservations(APIView):
    @extend_schema(
        request=ObservationInputSerializer,
        responses={201: ReleaseVerdictSerializer, 409: OpenApiResponse(description="The metric has no usable model")},
    )
    def post(self, request: Request, release_id: int) -> Response:
        """Push an observation of one of the gate's metrics (the gate's owner only); answers the
        release verdict after it."""
        release = get_release_for_observation(request.user, release_id)
        data = ObservationInputSerializer(
            data=request_body(request), context={"request": request, "gate": release.gate}
        )
        data.is_valid(raise_exception=True)
        metric = get_metric(request.user, data.validated_data["metric"].pk)
        release.observe(metric, data.validated_data["value"], caller(request), data.validated_data.get("minutes"))
        return answer(
            ReleaseVerdictSerializer, release.answer(caller(request)), request, status_code=status.HTTP_201_CREATED
        )


class ReleaseVerdictView(APIView):
    @extend_schema(responses=ReleaseVerdictSerializer)
    def get(self, request: Request, release_id: int) -> Response:
        """The release verdict (for Argo Rollouts' web provider: always 200 once the release exists).
        Each answer to the gate's owner is kept: the release page shows them as its verdict over time."""
        release = get_release(request.user, release_id)
        return answer(ReleaseVerdictSerializer, release.answer(caller(request)), request)
