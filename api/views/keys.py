"""A gate's releases by the deployer's own key (Argo Rollouts' pod-template hash, Flagger's
namespace/name@checksum, a pipeline's name for the deployment): the same answers as by id."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import may_write
from api.serializers import ObservationInputSerializer, OutcomeInputSerializer, ReleaseVerdictSerializer
from api.views.common import answer, caller, release_verdict
from api.views.releases import OUTCOME_RESPONSES, observe_and_answer, record_and_answer
from metrics.access import get_gate_for_release, get_release_by_key, get_release_by_key_for_outcome

KEY = OpenApiParameter(
    "key",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The release's key in the gate: 1 to 400 visible characters, no space; percent-encoded "
    '(a "/" may be sent as is or as %2F).',
)


class KeyObservations(APIView):
    @extend_schema(
        parameters=[KEY],
        request=ObservationInputSerializer,
        responses={201: ReleaseVerdictSerializer, 409: OpenApiResponse(description="The metric has no usable model")},
    )
    def post(self, request: Request, gate_id: int, key: str) -> Response:
        """Push an observation to the gate's release with this key (the gate's owner only); the first
        one of a key starts its release, now. Answers the release verdict after it."""
        gate = get_gate_for_release(request.user, gate_id)
        return observe_and_answer(request, gate, lambda: gate.release_by_key(key, caller(request)))


class KeyVerdict(APIView):
    @extend_schema(parameters=[KEY], responses=ReleaseVerdictSerializer)
    def get(self, request: Request, gate_id: int, key: str) -> Response:
        """The verdict of the gate's release with this key (for Argo Rollouts' web provider). A key the
        gate has no release for yet starts one, now, when the caller may start its releases with a
        read-and-write token or a session: it then waits for its observations (inconclusive). Anyone
        else gets a 404 for it."""
        release = get_release_by_key(request.user, gate_id, key, may_start=may_write(request))
        return answer(ReleaseVerdictSerializer, release_verdict(release, request), request)


class KeyOutcome(APIView):
    @extend_schema(parameters=[KEY], request=OutcomeInputSerializer, responses=OUTCOME_RESPONSES)
    def post(self, request: Request, gate_id: int, key: str) -> Response:
        """Record what the team did with the gate's release with this key (as by its id). A key the
        gate has no release for is a 404: an outcome starts no release."""
        return record_and_answer(request, get_release_by_key_for_outcome(request.user, gate_id, key))
