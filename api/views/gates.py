"""Gates: named sets of metrics, and starting their releases."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import prefetch_related_objects
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import GateInputSerializer, GateSerializer, ReleaseSerializer
from api.views.common import answer, caller, request_body
from metrics.access import get_gate, get_gate_for_change, get_gate_for_release
from metrics.models import Gate, Release


class GateList(generics.ListCreateAPIView[Gate]):
    """Gates: named sets of metrics that judge a release together."""

    serializer_class = GateSerializer

    def get_queryset(self) -> Any:
        if not self.request.user.is_authenticated:
            return Gate.objects.none()
        gates = Gate.objects.select_related("owner").prefetch_related("gate_metrics__metric")
        # Ordered as the model is: a query that counts (GROUP BY) leaves its default order out.
        return gates.with_track_records().order_by("name", "pk")

    @extend_schema(request=GateInputSerializer, responses={201: GateSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)

    def perform_create(self, serializer: Any) -> None:
        items = serializer.validated_data.pop("gate_metrics")
        with transaction.atomic():
            gate = Gate.objects.create(owner=caller(self.request), **serializer.validated_data)
            gate.set_metrics(items)
        serializer.instance = gate


def with_metrics(gate: Gate) -> Gate:
    """The gate with its metrics read in one query, as its answer lists them."""
    prefetch_related_objects([gate], "gate_metrics__metric")
    return gate


class GateDetail(APIView):
    @extend_schema(responses=GateSerializer)
    def get(self, request: Request, gate_id: int) -> Response:
        return answer(GateSerializer, with_metrics(get_gate(request.user, gate_id)), request)

    @extend_schema(request=GateInputSerializer, responses=GateSerializer)
    def put(self, request: Request, gate_id: int) -> Response:
        """Replace the gate's name, scores and metrics (its owner only)."""
        return self.change(request, gate_id, partial=False)

    @extend_schema(request=GateInputSerializer, responses=GateSerializer)
    def patch(self, request: Request, gate_id: int) -> Response:
        """Change some of the gate's name, scores and metrics (its owner only); `metrics`, when
        sent, replaces the whole list."""
        return self.change(request, gate_id, partial=True)

    def change(self, request: Request, gate_id: int, *, partial: bool) -> Response:
        with transaction.atomic():
            gate = get_gate_for_change(request.user, gate_id, lock=True)
            serializer = GateSerializer(gate, data=request_body(request), partial=partial, context={"request": request})
            serializer.is_valid(raise_exception=True)
            changes = dict(serializer.validated_data)
            items = changes.pop("gate_metrics", None)
            for field, value in changes.items():
                setattr(gate, field, value)
            if changes:
                gate.save(update_fields=list(changes))
            if items is not None:
                gate.set_metrics(items)
            # Read back under the lock: the answer is what this change saved, even when the owner
            # deletes the gate the moment the lock is let go.
            return answer(GateSerializer, with_metrics(get_gate(request.user, gate.pk)), request)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, gate_id: int) -> Response:
        """Delete the gate with its releases and their observations (its owner only)."""
        get_gate_for_change(request.user, gate_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class GateReleases(generics.ListCreateAPIView[Release]):
    """A gate's releases, newest first; start one for a deployment."""

    serializer_class = ReleaseSerializer

    def gate(self) -> Gate:
        return get_gate(self.request.user, self.kwargs["gate_id"])

    def get_queryset(self) -> Any:
        releases = Release.objects.visible_to(self.request.user).filter(gate=self.gate())
        return releases.with_newest_pulls().with_outcomes()

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Start a release (the gate's owner only)."""
        self.started_on = get_gate_for_release(request.user, self.kwargs["gate_id"])  # refused before reading
        return super().post(request, *args, **kwargs)

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = self.started_on.start_release(caller(self.request), **serializer.validated_data)
