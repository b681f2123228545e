"""Flagger's webhooks: one URL per gate takes every hook type that gates a canary."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.views import APIView

from api.authentication import FlaggerMetadataAuthentication
from api.serializers.flagger import FlaggerPayloadSerializer
from api.views.common import caller, request_body
from metrics.access import get_gate_for_release
from metrics.flagger import answer_hook

ANSWER = "One line for Flagger's events: the release verdict's summary, and the release page."


class FlaggerWebhook(APIView):
    authentication_classes = [FlaggerMetadataAuthentication]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A method the view does not take is a 405, before the token is looked for in its body.
        if not hasattr(self, str(request.method).lower()):
            raise exceptions.MethodNotAllowed(str(request.method))
        super().initial(request, *args, **kwargs)

    @extend_schema(
        request=FlaggerPayloadSerializer,
        responses={
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description=f"Yes: Flagger goes on. {ANSWER}"),
            (412, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description=f"No: Flagger holds back. {ANSWER}"),
        },
        auth=[],
    )
    def post(self, request: Request, gate_id: int) -> HttpResponse:
        """Flagger's webhook payload as Flagger sends it, with `metadata.token` (a read-and-write API
        token of the gate's owner) and `metadata.hook` (the webhook's type). 200 is yes and 412 no, for
        each hook's meaning (see the README): confirm-rollout, yes when every counted metric has a
        trained model; pre-rollout, starts the release of `namespace/name@checksum`; rollout, yes
        unless the verdict is rollback; confirm-promotion, yes only on rollout; rollback, yes only on
        rollback, and then the release's outcome is recorded as rolled back; post-rollout, records the
        outcome of the release with the canary's key (Succeeded: rolled out, Failed: rolled back) and
        answers 200, also when the gate has no such release (nothing is recorded nor started), or 403
        when the token's user may not record it (Flagger only writes its answer into an event)."""
        gate = get_gate_for_release(request.user, gate_id)
        payload = FlaggerPayloadSerializer(data=request_body(request))
        payload.is_valid(raise_exception=True)
        said = answer_hook(gate, caller(request), payload.call())
        text = said.text
        if said.release is not None:
            text = f"{text} {request.build_absolute_uri(said.release.get_absolute_url())}"
        code = status.HTTP_200_OK if said.passes else status.HTTP_412_PRECONDITION_FAILED
        return HttpResponse(text, status=code, content_type="text/plain; charset=utf-8")
