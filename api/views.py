"""The JSON API, version 1: thin callers of the same model methods and access helpers as the
web pages (`metrics.access`, `Metric.predict`, `Verdict.add_feedback`...)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import (
    AskSerializer,
    FeedbackSerializer,
    MetricInputSerializer,
    MetricSerializer,
    VerdictSerializer,
)
from metrics.access import get_metric, get_metric_for_deletion, get_verdict, get_verdict_for_feedback
from metrics.forms import ApiFeedbackForm, MetricFilterForm, MetricForm, ObservationForm
from metrics.models import (
    FeedbackAlreadyGiven,
    Metric,
    MetricDeleted,
    ModelUnusable,
    NoTrainedModel,
    Source,
    Verdict,
    VerdictState,
)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def checked(form: forms.BaseForm) -> dict[str, Any]:
    """The form's cleaned data, or a 400 listing each field's errors with their codes."""
    if not form.is_valid():
        raise exceptions.ValidationError(
            {
                field: [exceptions.ErrorDetail(error["message"], error["code"] or "invalid") for error in errors]
                for field, errors in form.errors.get_json_data().items()
            }
        )
    return form.cleaned_data


def caller(request: Request) -> User:
    """The signed-in user (the permission class let no one else in)."""
    if not isinstance(request.user, User):
        raise exceptions.NotAuthenticated()
    return request.user


def request_body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise exceptions.ParseError(_("Send a JSON object."))
    return request.data


NAME_FILTER = OpenApiParameter("name", str, description="Metrics whose name contains this (any case, any accents).")
CATEGORY_FILTER = OpenApiParameter("category", str, description="Metrics whose category contains this.")


class MetricList(generics.ListAPIView[Metric]):
    """The shared catalogue of metrics, as the list page shows it."""

    serializer_class = MetricSerializer

    def get_queryset(self) -> Any:
        filters = MetricFilterForm(self.request.query_params)
        filters.is_valid()
        return (
            Metric.objects.visible_to(self.request.user)
            .search(name=filters.cleaned_data.get("name", ""), category=filters.cleaned_data.get("category", ""))
            .select_related("owner")
            .with_latest_model()
            .order_by("category_key", "name_key", "pk")
        )

    @extend_schema(parameters=[NAME_FILTER, CATEGORY_FILTER])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=MetricInputSerializer,
        responses={201: MetricSerializer, 400: OpenApiResponse(description="Invalid, or the metric exists")},
    )
    def post(self, request: Request) -> Response:
        """Create a metric, owned by the caller."""
        form = MetricForm(request_body(request))
        checked(form)
        metric = form.save(commit=False)
        metric.owner = caller(request)
        try:
            with transaction.atomic():
                metric.save()
        except IntegrityError:
            raise exceptions.ValidationError(
                {"name": [exceptions.ErrorDetail(metric.duplicate_message(), "duplicate")]}
            ) from None
        body = MetricSerializer(self._annotated(metric), context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})

    def _annotated(self, metric: Metric) -> Metric:
        return Metric.objects.select_related("owner").with_latest_model().get(pk=metric.pk)


class MetricDetail(APIView):
    @extend_schema(responses=MetricSerializer)
    def get(self, request: Request, metric_id: int) -> Response:
        metric = get_metric(request.user, metric_id)
        annotated = Metric.objects.select_related("owner").with_latest_model().get(pk=metric.pk)
        return Response(MetricSerializer(annotated, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, metric_id: int) -> Response:
        """Delete the metric and all its data: its owner only."""
        metric = get_metric_for_deletion(request.user, metric_id)
        try:
            metric.delete()
        except MetricDeleted:
            raise exceptions.NotFound() from None
        return Response(status=status.HTTP_204_NO_CONTENT)


STATE_FILTER = OpenApiParameter("verdict", str, enum=VerdictState.values, description="Only verdicts in this state.")


class MetricVerdicts(generics.ListCreateAPIView[Verdict]):
    """A metric's verdict log (newest first), and asking for a new verdict."""

    serializer_class = VerdictSerializer

    def get_queryset(self) -> Any:
        metric = get_metric(self.request.user, self.kwargs["metric_id"])
        verdicts = metric.verdicts.select_related("metric", "asked_by").order_by("-asked_at", "-pk")
        state = self.request.query_params.get("verdict", "")
        if state:
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
        metric = get_metric(request.user, metric_id)
        observation = checked(ObservationForm(request_body(request)))
        try:
            verdict = metric.predict(observation["value"], observation["minutes"], caller(request), source=Source.API)
        except NoTrainedModel as error:
            raise Conflict(str(error), code="no_model") from None
        except ModelUnusable as error:
            raise Conflict(str(error), code="model_unusable") from None
        body = VerdictSerializer(verdict, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


class VerdictDetail(APIView):
    @extend_schema(responses=VerdictSerializer)
    def get(self, request: Request, verdict_id: int) -> Response:
        return Response(VerdictSerializer(get_verdict(request.user, verdict_id), context={"request": request}).data)


class VerdictFeedback(APIView):
    @extend_schema(
        request=FeedbackSerializer,
        responses={200: VerdictSerializer, 409: OpenApiResponse(description="Already recorded")},
    )
    def post(self, request: Request, verdict_id: int) -> Response:
        """Say what was actually decided: one labelled indicator the next training learns from."""
        verdict = get_verdict_for_feedback(request.user, verdict_id)
        feedback = checked(ApiFeedbackForm(request_body(request)))
        try:
            verdict.add_feedback(feedback["decided"], feedback["note"], caller(request))
        except FeedbackAlreadyGiven as error:
            raise Conflict(str(error), code="feedback_already_given") from None
        return Response(VerdictSerializer(verdict, context={"request": request}).data)


@extend_schema(exclude=True)
class Root(APIView):
    def get(self, request: Request) -> Response:
        return Response(
            {
                "metrics": request.build_absolute_uri(reverse("api:metrics")),
                "schema": request.build_absolute_uri(reverse("api:schema")),
                "docs": request.build_absolute_uri(reverse("api:docs")),
            }
        )
