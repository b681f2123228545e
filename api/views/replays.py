"""Replays: a gate replayed over its past releases, settings tried on them, and applied."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import (
    GateChangeSerializer,
    ReplayedReleaseSerializer,
    ReplayInputSerializer,
    ReplaySerializer,
    WhatIfSerializer,
)
from api.serializers.base import as_drf_errors
from api.views.common import ShowOne, answer, caller, checked, located, request_body, sent_job
from metrics.access import get_gate, get_gate_for_replay, get_replay, get_replay_for_change
from metrics.models import Replay, ReplayedRelease

QUEUED = {
    202: ReplaySerializer,
    503: OpenApiResponse(description="The job queue is unreachable (code `unqueued`): try again later."),
}
OWNER_ONLY = "Not the gate's owner (code `forbidden`): nothing was stored; or a read-only token."


@contextmanager
def rules_of_the_domain() -> Iterator[None]:
    """A use case's `ValidationError` (the model's rules, checked where it acts) as the API's
    400 listing each field's errors, as a serializer's would."""
    try:
        yield
    except DjangoValidationError as error:
        raise exceptions.ValidationError(as_drf_errors(error)) from None


def queued(request: Request, replay: Replay) -> Response:
    """202 with the replay as queued (a 503 if its job could not be sent), its URL in `Location`."""
    sent_job(caller(request), replay.job.pk)
    fresh = get_replay(request.user, replay.pk)
    return located(answer(ReplaySerializer, fresh, request, status_code=status.HTTP_202_ACCEPTED))


class GateReplays(generics.ListAPIView[Replay]):
    """A gate's replays, newest first; replay it (its owner) over its past releases with an outcome."""

    serializer_class = ReplaySerializer

    def get_queryset(self) -> Any:
        gate = get_gate(self.request.user, self.kwargs["gate_id"])
        return Replay.objects.of_gate(gate).select_related("gate").with_jobs()

    @extend_schema(
        request=ReplayInputSerializer,
        responses={
            **QUEUED,
            403: OpenApiResponse(description=OWNER_ONLY),
            409: OpenApiResponse(
                description="No release of the gate in the range has an outcome (code `nothing_to_replay`)."
            ),
        },
    )
    def post(self, request: Request, gate_id: int) -> Response:
        """Replay the gate (its owner) over its releases with an outcome started in [`since`,
        `until`) (all by default; the newest 1,000), under its rules now: each release judged
        minute by minute by models trained only on what was known before it. 202 with the
        replay: poll it until its job is done, then read its `report` and `releases_url`."""
        user = caller(request)
        gate = get_gate_for_replay(user, gate_id)  # refused before the body is read
        sent = checked(ReplayInputSerializer(data=request_body(request, optional=True)))
        with rules_of_the_domain():
            replay = Replay.objects.start(gate, user, since=sent.get("since"), until=sent.get("until"))
        return queued(request, replay)


class ReplayDetail(ShowOne):
    """A replay: its range and rules, its job's progress and, once finished, its report."""

    serializer_class = ReplaySerializer
    fetch = staticmethod(get_replay)
    url_kwarg = "replay_id"


class ReplayReleases(generics.ListAPIView[ReplayedRelease]):
    """What the replay would have said of each release, oldest first, with its verdict at each
    minute: in pages, as a replay holds up to 1,000 releases of up to 1,440 minutes each."""

    serializer_class = ReplayedReleaseSerializer

    def get_queryset(self) -> Any:
        replay = get_replay(self.request.user, self.kwargs["replay_id"])
        return replay.replayed.order_by("started_at", "pk")


class ReplayWhatIf(APIView):
    @extend_schema(
        request=WhatIfSerializer,
        responses={
            **QUEUED,
            403: OpenApiResponse(description=OWNER_ONLY),
            409: OpenApiResponse(description="The replay has not finished (code `replay_not_finished`)."),
        },
    )
    def post(self, request: Request, replay_id: int) -> Response:
        """Replay the same releases with some settings changed (the gate's owner; a metric's
        thresholds, its owner's): 202 with the new replay, compared with this one (or with the
        one this what-if is compared with). The gate itself is not changed: `apply` does that."""
        user = caller(request)
        replay = get_replay_for_change(user, replay_id)
        changes = checked(WhatIfSerializer(data=request_body(request)))
        with rules_of_the_domain():
            what_if = replay.what_if(user, changes)
        return queued(request, what_if)


class ReplayApply(APIView):
    @extend_schema(
        request=None,
        responses={
            200: GateChangeSerializer,
            403: OpenApiResponse(description=OWNER_ONLY),
            409: OpenApiResponse(
                description="The replay has not finished (code `replay_not_finished`), or the gate's metrics "
                "changed since (code `gate_changed`): nothing was changed."
            ),
        },
    )
    def post(self, request: Request, replay_id: int) -> Response:
        """Make the replay's settings the gate's, in one step (its owner), logged: 200 with what
        they were and became."""
        user = caller(request)
        with rules_of_the_domain():
            change = get_replay_for_change(user, replay_id).apply(user)
        return answer(GateChangeSerializer, change, request)
