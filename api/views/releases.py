"""Releases: one release, its observations and its verdict."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import (
    ObservationInputSerializer,
    OutcomeInputSerializer,
    RecordedOutcomeSerializer,
    ReleaseSerializer,
    ReleaseVerdictSerializer,
)
from api.views.common import ShowOne, answer, caller, checked, release_verdict, request_body
from metrics.access import get_metric, get_release, get_release_for_observation, get_release_for_outcome
from metrics.models import Gate, OutcomeVia, Release


def observe_and_answer(request: Request, gate: Gate, release: Callable[[], Release]) -> Response:
    """The observation sent, of one of `gate`'s metrics, pushed to the `release` (found or started
    once the observation is read: a bad one starts nothing), and the release verdict after it (201)."""
    data = ObservationInputSerializer(data=request_body(request), context={"request": request, "gate": gate})
    data.is_valid(raise_exception=True)
    metric = get_metric(request.user, data.validated_data["metric"].pk)
    with transaction.atomic():  # a release started by a refused observation is not kept
        observed = release()
        observed.observe(metric, data.validated_data["value"], caller(request), data.validated_data.get("minutes"))
        verdict = release_verdict(observed, request)
    return answer(ReleaseVerdictSerializer, verdict, request, status_code=status.HTTP_201_CREATED)


def record_and_answer(request: Request, release: Release) -> Response:
    """The outcome sent, recorded for the `release` (`Release.record_outcome`'s rules), and the
    release's outcome after it: 200 whether it was recorded now or was already (`changed`)."""
    sent = checked(OutcomeInputSerializer(data=request_body(request)))
    changed = release.record_outcome(sent["outcome"], caller(request), via=OutcomeVia.API, note=sent["note"])
    return answer(RecordedOutcomeSerializer, release, request, changed=changed)


# The outcome's answers, for the schema: recorded (or already), refused, or a release unknown.
OUTCOME_RESPONSES = {
    200: RecordedOutcomeSerializer,
    403: OpenApiResponse(
        description="Not the gate's owner nor whoever opened the release; or an outcome recorded already, which "
        "only the gate's owner may change (code `forbidden`); or a read-only token."
    ),
    404: OpenApiResponse(description="No such release (an outcome starts none)."),
}


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
        return observe_and_answer(request, release.gate, lambda: release)


class ReleaseVerdictView(APIView):
    @extend_schema(responses=ReleaseVerdictSerializer)
    def get(self, request: Request, release_id: int) -> Response:
        """The release verdict (for Argo Rollouts' web provider: always 200 once the release exists).
        Each answer to the gate's owner is kept: the release page shows them as its verdict over time."""
        release = get_release(request.user, release_id)
        return answer(ReleaseVerdictSerializer, release_verdict(release, request), request)


class ReleaseOutcome(APIView):
    @extend_schema(request=OutcomeInputSerializer, responses=OUTCOME_RESPONSES)
    def post(self, request: Request, release_id: int) -> Response:
        """Record what the team did with the release in the end (the gate's owner, or whoever opened
        it; changing one recorded is the owner's alone, and logged). Its observations become
        labelled indicators of their metrics, in one import batch undone as an upload is. The same
        outcome again changes nothing (`changed`: false)."""
        return record_and_answer(request, get_release_for_outcome(request.user, release_id))
