"""The JSON API, version 1: thin callers of the same model methods and access helpers as the
web pages (`metrics.access`, `Metric.predict`, `Verdict.add_feedback`...)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import prefetch_related_objects
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.pagination import NewestFirst
from api.serializers import (
    ActivateSerializer,
    AskSerializer,
    FeedbackSerializer,
    GateInputSerializer,
    GateSerializer,
    ImportInputSerializer,
    ImportSerializer,
    IndicatorInputSerializer,
    IndicatorSerializer,
    IndicatorsInputSerializer,
    JobSerializer,
    MetricInputSerializer,
    MetricSerializer,
    ObservationInputSerializer,
    ReleaseSerializer,
    ReleaseVerdictSerializer,
    StoredSerializer,
    UndoneImportSerializer,
    VerdictSerializer,
    VerdictSettingsSerializer,
    VersionSerializer,
)
from api.strict import type_errors, unknown_fields
from metrics.access import (
    get_batch,
    get_batch_for_undo,
    get_gate,
    get_gate_for_change,
    get_gate_for_release,
    get_job,
    get_metric,
    get_metric_for_deletion,
    get_metric_for_settings,
    get_release,
    get_release_for_observation,
    get_trained_model,
    get_trained_model_for_activation,
    get_verdict,
    get_verdict_for_feedback,
)
from metrics.csv_io import DETECT
from metrics.forms import (
    ApiFeedbackForm,
    ApiIndicatorForm,
    ApiUploadForm,
    MetricFilterForm,
    MetricForm,
    MetricSettingsForm,
    ObservationForm,
)
from metrics.models import (
    CannotUndo,
    DuplicateFile,
    Failure,
    FeedbackAlreadyGiven,
    Gate,
    ImportBatch,
    Indicator,
    Job,
    Metric,
    MetricDeleted,
    ModelUnusable,
    NotInGate,
    NoTrainedModel,
    Release,
    Source,
    TrainedModel,
    Verdict,
    VerdictState,
)
from metrics.models.metric import VERDICT_SETTINGS
from predictor.columns import IndicatorColumns

MAX_BULK_INDICATORS = 10_000


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


# Form errors about what is already stored, not about what was sent: 409, not 400.
CONFLICTS = {"duplicate"}  # a duplicate file is found when the import is queued


def checked(form: forms.BaseForm, *, json_body: bool = True) -> dict[str, Any]:
    """The form's cleaned data, or a 400 listing each field's errors with their codes. A form
    filled from a JSON body first has each value of its field's JSON type."""
    if json_body and (wrong_types := type_errors(form.fields, form.data)):
        raise exceptions.ValidationError(wrong_types)
    if not form.is_valid():
        found = [error for field_errors in form.errors.get_json_data().values() for error in field_errors]
        if all(error["code"] in CONFLICTS for error in found):
            raise Conflict(found[0]["message"], code=found[0]["code"])
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


def request_body(request: Request, *, optional: bool = False) -> dict[str, Any]:
    """The JSON object sent; `optional`: no body at all stands for an empty object."""
    if optional and request.stream is None:
        return {}
    if not isinstance(request.data, dict):
        raise exceptions.ParseError(_("Send a JSON object."))
    return request.data


NAME_FILTER = OpenApiParameter("name", str, description="Metrics whose name contains this, ignoring case.")
CATEGORY_FILTER = OpenApiParameter("category", str, description="Metrics whose category contains this, ignoring case.")


class MetricList(generics.ListAPIView[Metric]):
    """The shared catalogue of metrics, as the list page shows it."""

    serializer_class = MetricSerializer

    def get_queryset(self) -> Any:
        searched = checked(MetricFilterForm(self.request.query_params), json_body=False)
        return (
            Metric.objects.visible_to(self.request.user)
            .search(name=searched["name"], category=searched["category"])
            .select_related("owner")
            .with_latest_model()
            .order_by("category_key", "name_key", "pk")
        )

    @extend_schema(parameters=[NAME_FILTER, CATEGORY_FILTER])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=MetricInputSerializer,
        responses={
            201: MetricSerializer,
            409: OpenApiResponse(description="A metric of that name and category exists (code `duplicate`)."),
        },
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
        except IntegrityError:  # made by another request since the form looked
            raise Conflict(metric.duplicate_message(), code="duplicate") from None
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

    @extend_schema(request=VerdictSettingsSerializer(partial=True), responses=MetricSerializer)
    def patch(self, request: Request, metric_id: int) -> Response:
        """Change the verdict settings (its owner only): the thresholds, the minimum of similar
        cases, the out-of-range margin, and whether a stale model is refused."""
        metric = get_metric_for_settings(request.user, metric_id)
        sent = request_body(request)
        if unknown := unknown_fields(VERDICT_SETTINGS, sent):
            raise exceptions.ValidationError(unknown)
        data = {field: sent.get(field, getattr(metric, field)) for field in VERDICT_SETTINGS}
        form = MetricSettingsForm(data, instance=metric)  # the web page's: its rules and messages
        checked(form)
        # Only what was sent: two requests changing different settings at once keep both.
        form.save(commit=False).save_settings(fields=sent)
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
        except MetricDeleted:
            raise exceptions.NotFound() from None
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


class QueueUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unqueued"
    wait = 30  # seconds: DRF's handler sends it as Retry-After


class TrainMetric(APIView):
    @extend_schema(
        request=None,
        responses={
            202: JobSerializer,
            503: OpenApiResponse(description="The job queue is unreachable (code `unqueued`): try again later."),
        },
    )
    def post(self, request: Request, metric_id: int) -> Response:
        """Queue a training of the metric (or find the one already queued or running): 202 with its job."""
        metric = get_metric(request.user, metric_id)
        job, _created = Job.objects.enqueue_training(metric, caller(request))
        job = get_job(request.user, job.pk)  # as sent to the queue, or not
        if job.failure == Failure.UNQUEUED:  # a pipeline retries a 503, not a 202 of a failed job
            raise QueueUnavailable(job.outcome())
        body = JobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class JobList(generics.ListAPIView[Job]):
    """The caller's jobs, newest first."""

    serializer_class = JobSerializer

    def get_queryset(self) -> Any:
        return Job.objects.for_user(self.request.user)


class JobDetail(APIView):
    @extend_schema(responses=JobSerializer)
    def get(self, request: Request, job_id: int) -> Response:
        """A job's status and progress (poll it until `status` is done or failed)."""
        return Response(JobSerializer(get_job(request.user, job_id), context={"request": request}).data)


class MetricIndicators(generics.ListAPIView[Indicator]):
    """A metric's indicators, newest first (cursor pages: no row is counted or skipped one by one)."""

    serializer_class = IndicatorSerializer
    pagination_class = NewestFirst

    def get_queryset(self) -> Any:
        metric = get_metric(self.request.user, self.kwargs["metric_id"])
        return metric.indicators.select_related("created_by")

    @extend_schema(
        request=IndicatorInputSerializer,
        responses={201: IndicatorSerializer, 400: OpenApiResponse(description="Invalid indicator")},
    )
    def post(self, request: Request, metric_id: int) -> Response:
        """Add one indicator (a past deployment: the value seen, after how many minutes, what was decided)."""
        metric = get_metric(request.user, metric_id)
        row = checked(ApiIndicatorForm(request_body(request)))
        try:
            indicator = metric.add_indicator(row["value"], row["decision"], row["minutes"], caller(request))
        except MetricDeleted:
            raise exceptions.NotFound() from None
        return Response(IndicatorSerializer(indicator).data, status=status.HTTP_201_CREATED)


class MetricIndicatorsBulk(APIView):
    @extend_schema(
        request=IndicatorsInputSerializer,
        responses={201: StoredSerializer, 400: OpenApiResponse(description="Some row is invalid: none stored")},
    )
    def post(self, request: Request, metric_id: int) -> Response:
        """Add many indicators in one request, all or nothing; an error names the row (from 0)."""
        metric = get_metric(request.user, metric_id)
        body = request_body(request)
        if unknown := unknown_fields(["indicators"], body):
            raise exceptions.ValidationError(unknown)
        rows = body.get("indicators")
        if not isinstance(rows, list) or not rows:
            message = _("Send a non-empty list of indicators as “indicators”.")
            raise exceptions.ValidationError({"indicators": [exceptions.ErrorDetail(message, "invalid")]})
        if len(rows) > MAX_BULK_INDICATORS:
            message = _("At most %(count)d indicators a request; upload a CSV file for more.") % {
                "count": MAX_BULK_INDICATORS
            }
            raise exceptions.ValidationError({"indicators": [exceptions.ErrorDetail(message, "too_many")]})
        data = IndicatorColumns()
        errors: dict[str, Any] = {}
        for index, row in enumerate(rows):
            form = ApiIndicatorForm(row if isinstance(row, dict) else {})
            if wrong_types := type_errors(form.fields, form.data):
                errors[f"indicators.{index}"] = wrong_types
            elif form.is_valid():
                data.append(
                    value=form.cleaned_data["value"],
                    time=form.cleaned_data["minutes"],
                    decision=form.cleaned_data["decision"],
                )
            else:
                errors[f"indicators.{index}"] = {
                    field: [exceptions.ErrorDetail(e["message"], e["code"] or "invalid") for e in field_errors]
                    for field, field_errors in form.errors.get_json_data().items()
                }
        if errors:
            raise exceptions.ValidationError(errors)
        try:
            stored = metric.import_indicators(data, caller(request))
        except MetricDeleted:
            raise exceptions.NotFound() from None
        metric.refresh_from_db(fields=["indicator_count"])
        return Response({"stored": stored, "indicator_count": metric.indicator_count}, status=status.HTTP_201_CREATED)


class MetricImports(generics.ListAPIView[ImportBatch]):
    """A metric's uploaded files, newest first, and uploading one."""

    serializer_class = ImportSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self) -> Any:
        metric = get_metric(self.request.user, self.kwargs["metric_id"])
        return metric.batches.listed()

    @extend_schema(
        request={"multipart/form-data": ImportInputSerializer},
        responses={
            202: JobSerializer,
            409: OpenApiResponse(description="The file was already imported (code `duplicate_file`)."),
            503: OpenApiResponse(
                description="The job queue is unreachable (code `unqueued`): send the file again later."
            ),
        },
    )
    def post(self, request: Request, metric_id: int) -> Response:
        """Upload a CSV file, imported by a job (the upload page's rules, all or nothing): 202 with
        the job; a refused file's job says why, line by line, in `file_errors`."""
        metric = get_metric(request.user, metric_id)
        user = caller(request)
        import_again = request.data.get("import_again", "false")
        if import_again not in ("true", "false"):
            message = _("Send true or false.")
            raise exceptions.ValidationError({"import_again": [exceptions.ErrorDetail(message, "type")]})
        fields = {
            "metric": metric.pk,
            "delimiter": request.data.get("delimiter", DETECT),
            "import_again": import_again == "true",
        }
        form = ApiUploadForm(user, fields, request.FILES)
        cleaned = checked(form, json_body=False)
        try:
            queued = metric.queue_import(
                user,
                file_name=cleaned["file"].name,
                data=form.data_bytes,
                sha256=form.sha256,
                delimiter=cleaned["delimiter"],
                import_again=cleaned["import_again"],
            )
        except DuplicateFile as duplicate:
            raise Conflict(f"{duplicate} {form.import_again_hint}", code="duplicate_file") from None
        except MetricDeleted:
            raise exceptions.NotFound() from None
        job = get_job(user, queued.pk)  # gone, with its metric, if the owner deleted it meanwhile
        if job.failure == Failure.UNQUEUED:  # as for a training: a 503 to retry, not a 202 of a failed job
            raise QueueUnavailable(job.outcome())
        body = JobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class ImportDetail(APIView):
    @extend_schema(responses=ImportSerializer)
    def get(self, request: Request, import_id: int) -> Response:
        """An uploaded file: who sent it, the rows it stored, whether it was undone, and its job."""
        return Response(ImportSerializer(get_batch(request.user, import_id), context={"request": request}).data)


class ImportUndo(APIView):
    @extend_schema(
        request=None,
        responses={
            200: UndoneImportSerializer,
            409: OpenApiResponse(description="Not undone (code `not_finished`, `already_undone` or `nothing_stored`)."),
        },
    )
    def post(self, request: Request, import_id: int) -> Response:
        """Delete every indicator the file stored (who uploaded it, or the metric's owner)."""
        batch = get_batch_for_undo(request.user, import_id)
        try:
            deleted = batch.undo()
        except CannotUndo as refused:
            raise Conflict(str(refused), code=refused.code) from None
        context = {"request": request, "deleted": deleted}
        return Response(UndoneImportSerializer(batch, context=context).data)


class CsvRenderer(BaseRenderer):
    """Lets a client that asks for `text/csv` reach the download (its errors stay JSON)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return json.dumps(data).encode()


class MetricIndicatorsCsv(APIView):
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request, metric_id: int) -> StreamingHttpResponse:
        """Every indicator as CSV (the web page's download), streamed."""
        metric = get_metric(request.user, metric_id)
        response = StreamingHttpResponse(metric.indicators.csv_file(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{metric.export_file_name()}"'
        return response


class GateList(generics.ListCreateAPIView[Gate]):
    """Gates: named sets of metrics that judge a release together."""

    serializer_class = GateSerializer

    def get_queryset(self) -> Any:
        if not self.request.user.is_authenticated:
            return Gate.objects.none()
        return Gate.objects.select_related("owner").prefetch_related("gate_metrics__metric")

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
        gate = with_metrics(get_gate(request.user, gate_id))
        return Response(GateSerializer(gate, context={"request": request}).data)

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
        gate = with_metrics(get_gate(request.user, gate.pk))
        return Response(GateSerializer(gate, context={"request": request}).data)

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
        return Release.objects.visible_to(self.request.user).filter(gate=self.gate())

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Start a release (the gate's owner only)."""
        self.started_on = get_gate_for_release(request.user, self.kwargs["gate_id"])  # refused before reading
        return super().post(request, *args, **kwargs)

    def perform_create(self, serializer: Any) -> None:
        serializer.save(gate=self.started_on, created_by=caller(self.request))


class ReleaseDetail(APIView):
    @extend_schema(responses=ReleaseSerializer)
    def get(self, request: Request, release_id: int) -> Response:
        return Response(ReleaseSerializer(get_release(request.user, release_id), context={"request": request}).data)


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
        try:
            release.observe(metric, data.validated_data["value"], caller(request), data.validated_data.get("minutes"))
        except NotInGate as error:
            raise exceptions.ValidationError({"metric": [exceptions.ErrorDetail(str(error), "not_in_gate")]}) from None
        except NoTrainedModel as error:
            raise Conflict(str(error), code="no_model") from None
        except ModelUnusable as error:
            raise Conflict(str(error), code="model_unusable") from None
        body = ReleaseVerdictSerializer(release.answer(caller(request)), context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class ReleaseVerdictView(APIView):
    @extend_schema(responses=ReleaseVerdictSerializer)
    def get(self, request: Request, release_id: int) -> Response:
        """The release verdict (for Argo Rollouts' web provider: always 200 once the release exists).
        Each answer to the gate's owner is kept: the release page shows them as its verdict over time."""
        release = get_release(request.user, release_id)
        return Response(ReleaseVerdictSerializer(release.answer(caller(request)), context={"request": request}).data)


@extend_schema(exclude=True)
class NotFound(APIView):
    """Any other path under /api/: a problem-details 404, not the HTML page."""

    permission_classes: list[Any] = []
    throttle_classes: list[Any] = []

    def dispatch_not_found(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise exceptions.NotFound()

    # Whatever the method: DRF would describe the view to OPTIONS, and refuse others with 405.
    get = post = put = patch = delete = options = http_method_not_allowed = dispatch_not_found


class MetricVersions(generics.ListAPIView[TrainedModel]):
    """A metric's model versions, newest first, with their cards."""

    serializer_class = VersionSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        answering = get_metric(self.request.user, self.kwargs["metric_id"]).answering_model()
        return {**super().get_serializer_context(), "answering_id": answering.pk if answering else None}

    def get_queryset(self) -> Any:
        metric = get_metric(self.request.user, self.kwargs["metric_id"])
        return (
            metric.trained_models.defer("artifact", "chart_sample")
            .select_related("metric", "trained_by")
            .order_by("-version")
        )


class VersionDetail(APIView):
    @extend_schema(responses=VersionSerializer)
    def get(self, request: Request, version_id: int) -> Response:
        """One version's model card."""
        model = get_trained_model(request.user, version_id)
        return Response(VersionSerializer(model, context={"request": request}).data)


class VersionActivate(APIView):
    @extend_schema(
        request=ActivateSerializer,
        responses={200: VersionSerializer, 409: OpenApiResponse(description="The version cannot be used here")},
    )
    def post(self, request: Request, version_id: int) -> Response:
        """Make this version the one that answers (the metric's owner only); pinned by default."""
        model = get_trained_model_for_activation(request.user, version_id)
        options = ActivateSerializer(data=request_body(request, optional=True))
        options.is_valid(raise_exception=True)
        try:
            model.metric.activate(model, pin=options.validated_data["pin"])
        except ModelUnusable as error:
            raise Conflict(str(error), code="model_unusable") from None
        model.metric.refresh_from_db()
        return Response(VersionSerializer(model, context={"request": request}).data)


class MetricUnpin(APIView):
    @extend_schema(request=None, responses={200: MetricSerializer})
    def post(self, request: Request, metric_id: int) -> Response:
        """Unpin the active version (the owner only): the next training that is not worse answers."""
        metric = get_metric_for_settings(request.user, metric_id)
        metric.unpin()
        annotated = Metric.objects.select_related("owner").with_latest_model().get(pk=metric.pk)
        return Response(MetricSerializer(annotated, context={"request": request}).data)
