"""Argo Rollouts' notifications: how a rollout ended is its release's outcome."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import ReleaseSerializer
from api.serializers.argo import ArgoNotificationSerializer
from api.views.common import answer, caller, request_body
from metrics.access import get_release_by_key_for_outcome
from metrics.argo import ArgoEvent, record_notification


class ArgoNotifications(APIView):
    @extend_schema(request=ArgoNotificationSerializer, responses=ReleaseSerializer)
    def post(self, request: Request, gate_id: int) -> Response:
        """Record the outcome of the gate's release with this key, as Argo Rollouts' webhook
        notification service sends it (see the README): on-rollout-aborted, rolled back;
        on-rollout-completed, rolled out; the message as its note. The same outcome again changes
        nothing (200 both times). Who may record it: the gate's owner, or whoever opened the
        release; changing one already recorded, the gate's owner alone (403 otherwise). A key the
        gate has no release for is a 404, and nothing is started. Answers the release."""
        data = ArgoNotificationSerializer(data=request_body(request))
        data.is_valid(raise_exception=True)
        sent = data.validated_data
        release = get_release_by_key_for_outcome(request.user, gate_id, sent["key"])
        record_notification(release, caller(request), ArgoEvent(sent["event"]), sent["message"])
        return answer(ReleaseSerializer, release, request)
