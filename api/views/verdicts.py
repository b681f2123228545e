"""Verdicts: a metric's log, asking for one, and the feedback on it."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import AskSerializer, FeedbackSerializer, VerdictSerializer
from api.views.common import ShowOne, UnderMetric, answer, caller, checked, located, request_body
from metrics.access import get_verdict, get_verdict_for_feedback
from metrics.models import Source, Verdict, VerdictState

STATE_FILTER = OpenApiParameter("verdict", str, enum=VerdictState.values, description="Only verdicts in this state.")


class MetricVerdicts(UnderMetric, generics.ListCreateAPIView[Verdict]):
    """A metric's verdict log (newest first), and asking for a new verdict."""

    serializer_class = VerdictSerializer

    def get_queryset(self) -> Any:
        verdicts = self.metric().verdicts.select_related("metric", "asked_by").order_by("-asked_at", "-pk")
        if "verdict" in self.request.query_params:  # "?verdict=" names no state: refused, not ignored
            state = self.request.query_params["verdict"]
            if state not in VerdictState.values:
                unknown = exceptions.ErrorDetail(_("Unknown verdict."), "invalid")
                raise exceptions.ValidationError({"verdict": [unknown]})
            verdicts = verdicts.filter(state=state)
        return verdicts

    @extend_schema(parameters=[STATE_FILTER])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=AskSerializer,
        responses={
            201: VerdictSerializer,
            400: OpenApiResponse(description="Invalid observation"),
            409: OpenApiResponse(description="No usable model yet (code no_model or model_unusable)"),
        },
    )
    def post(self, request: Request, metric_id: int) -> Response:
        """Ask for a verdict on an observation; it is logged, and has its own permanent URL."""
        observation = checked(AskSerializer(data=request_body(request)))
        verdict = self.metric().predict(
            observation["value"], observation["minutes"], caller(request), source=Source.API
        )
        return located(answer(VerdictSerializer, verdict, request, status_code=status.HTTP_201_CREATED))


class VerdictDetail(ShowOne):
    serializer_class = VerdictSerializer
    fetch = staticmethod(get_verdict)
    url_kwarg = "verdict_id"


class VerdictFeedback(APIView):
    @extend_schema(
        request=FeedbackSerializer,
        responses={200: VerdictSerializer, 409: OpenApiResponse(description="Already recorded")},
    )
    def post(self, request: Request, verdict_id: int) -> Response:
        """Say what was actually decided: one labelled indicator the next training learns from."""
        verdict = get_verdict_for_feedback(request.user, verdict_id)
        feedback = checked(FeedbackSerializer(data=request_body(request)))
        verdict.add_feedback(feedback["decided"], feedback["note"], caller(request))
        return answer(VerdictSerializer, verdict, request)
