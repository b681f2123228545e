"""What the API answers: read-only shapes of the domain's objects. Input is validated by the
same forms as the web pages', and every change is made by the same model methods."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.strict import StrictTypes
from metrics.csv_io import DELIMITERS, DETECT, LARGEST_NUMBER
from metrics.formatting import rule_text
from metrics.models import (
    Decision,
    Failure,
    Gate,
    GateMetric,
    ImportBatch,
    Indicator,
    Job,
    Metric,
    Release,
    Source,
    TrainedModel,
    Verdict,
    VerdictState,
)
from metrics.models.gate import LARGEST_WEIGHT
from metrics.models.metric import LARGEST_ID, LARGEST_MIN_LEAF_CASES, VERDICT_SETTINGS


@extend_schema_field(OpenApiTypes.URI)
class Link(serializers.Field):  # type: ignore[type-arg]
    """An object's full URL: the named API view's for its id, or its web page's. Without a
    request (a management command, which does not know the server's address): its path."""

    def __init__(self, view_name: str | None = None) -> None:
        self.view_name = view_name
        super().__init__(source="*", read_only=True)

    def to_representation(self, value: Any) -> str:
        path = reverse(self.view_name, args=[value.pk]) if self.view_name else value.get_absolute_url()
        request = self.context.get("request")
        return path if request is None else str(request.build_absolute_uri(path))


class UtcDateTimeField(serializers.DateTimeField):
    """ISO 8601 in UTC, whatever the server's TIME_ZONE."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)


class AnsweringModelSerializer(serializers.Serializer[Metric]):
    version = serializers.IntegerField(source="latest_model_version")
    accuracy = serializers.FloatField(source="latest_model_accuracy", help_text="Held-out accuracy, 0 to 1.")
    trained_at = UtcDateTimeField(source="latest_model_trained_at", allow_null=True)
    is_stale = serializers.SerializerMethodField(help_text="The data changed since this version was trained.")
    is_usable = serializers.BooleanField(source="latest_model_is_usable")

    def get_is_stale(self, metric: Metric) -> bool:
        return bool(metric.latest_model_data_version != metric.data_version)  # type: ignore[attr-defined]


class VerdictSettingsSerializer(serializers.ModelSerializer[Metric]):
    """When a verdict is inconclusive: the owner's to set (PATCH the metric with those to
    change; the "Verdict settings" page's form checks them)."""

    class Meta:
        model = Metric
        fields = list(VERDICT_SETTINGS)
        extra_kwargs = {"min_leaf_cases": {"max_value": LARGEST_MIN_LEAF_CASES}}


class MetricSerializer(serializers.ModelSerializer[Metric]):
    owner = serializers.CharField(source="owner.username", read_only=True)
    created_at = UtcDateTimeField(read_only=True)
    verdict_settings = VerdictSettingsSerializer(source="*", read_only=True)
    answering_model = serializers.SerializerMethodField()
    url = Link("api:metric")
    web_url = Link()

    class Meta:
        model = Metric
        fields = [
            "id",
            "name",
            "category",
            "owner",
            "indicator_count",
            "created_at",
            "verdict_settings",
            "answering_model",
            "url",
            "web_url",
        ]
        read_only_fields = fields

    @extend_schema_field(AnsweringModelSerializer(allow_null=True))
    def get_answering_model(self, metric: Metric) -> dict[str, Any] | None:
        if getattr(metric, "latest_model_version", None) is None:
            return None
        return dict(AnsweringModelSerializer(metric).data)


class MetricInputSerializer(serializers.Serializer[Metric]):
    """For the schema only: the body a metric is created from (checked by the web page's form)."""

    name = serializers.CharField(max_length=120)
    category = serializers.CharField(max_length=120)


class ReasonSerializer(serializers.Serializer[dict[str, Any]]):
    code = serializers.CharField(
        help_text="value_out_of_range, minutes_out_of_range, few_cases, weak_majority, no_better_than_baseline, "
        "could_be_chance (better than the baseline as measured, not beyond chance), stale"
    )
    message = serializers.CharField(help_text="The reason in words, in the request's language (Accept-Language).")


def model_label(model: type[Any], field: str) -> str:
    """The label a ModelSerializer would give the model's field."""
    return str(capfirst(model._meta.get_field(field).verbose_name))


# One side of a verdict's range: its number, and whether that number itself is in the range.
BOUND_SCHEMA = {
    "type": "object",
    "nullable": True,
    "properties": {"number": {"type": "number"}, "inclusive": {"type": "boolean"}},
    "required": ["number", "inclusive"],
}


class VerdictSerializer(serializers.Serializer[Verdict]):
    # Its fields declared rather than read from the model: a ModelSerializer reads them again
    # for every object it shows, which cost as much as giving the verdict.
    id = serializers.IntegerField(read_only=True)
    verdict = serializers.ChoiceField(source="state", choices=VerdictState.values, read_only=True)
    leaning = serializers.ChoiceField(choices=[VerdictState.ROLLBACK.value, VerdictState.ROLLOUT.value], read_only=True)
    metric = serializers.IntegerField(source="metric_id", read_only=True)
    metric_name = serializers.CharField(source="metric.name", read_only=True)
    value = serializers.FloatField(read_only=True)
    minutes = serializers.FloatField(read_only=True, label=model_label(Verdict, "minutes"))
    reasons = serializers.SerializerMethodField()
    rule = serializers.SerializerMethodField()
    conditions = serializers.SerializerMethodField()
    similar_cases = serializers.SerializerMethodField()
    model_version = serializers.IntegerField(read_only=True)
    model_accuracy = serializers.FloatField(read_only=True, label=model_label(Verdict, "model_accuracy"))
    is_stale = serializers.BooleanField(read_only=True)
    asked_by = serializers.CharField(source="asked_by.username", default=None, read_only=True, allow_null=True)
    asked_at = UtcDateTimeField(read_only=True)
    # "source" is also an attribute of every DRF field (a serializer is one): only mypy minds.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=Source.choices, read_only=True, label=model_label(Verdict, "source")
    )
    decided = serializers.SerializerMethodField()
    url = Link("api:verdict")
    web_url = Link()

    @extend_schema_field(ReasonSerializer(many=True))
    def get_reasons(self, verdict: Verdict) -> list[dict[str, str]]:
        """Why it is inconclusive (empty for a clear verdict)."""
        return [
            {"code": str(reason["code"]), "message": text}
            for reason, text in zip(verdict.reasons, verdict.reason_texts(), strict=True)
        ]

    def get_rule(self, verdict: Verdict) -> str:
        """What "similar" means for this verdict: the tree's path, in words."""
        return rule_text(verdict.path)

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "feature": {"type": "string", "enum": ["value", "minutes"]},
                    "lower": BOUND_SCHEMA,
                    "upper": BOUND_SCHEMA,
                },
                "required": ["feature", "lower", "upper"],
            },
        }
    )
    def get_conditions(self, verdict: Verdict) -> list[dict[str, Any]]:
        """The rule as ranges, one per feature, each bound written as people write it (48.2, not
        48.19999694824219), with whether that number itself is in the range (null: open): what
        `rule` says in words."""
        return [condition.as_written() for condition in verdict.path]

    @extend_schema_field(
        {
            "type": "object",
            "properties": {"rollbacks": {"type": "integer"}, "rollouts": {"type": "integer"}},
            "required": ["rollbacks", "rollouts"],
        }
    )
    def get_similar_cases(self, verdict: Verdict) -> dict[str, int]:
        return {"rollbacks": verdict.leaf_rollbacks, "rollouts": verdict.leaf_rollouts}

    @extend_schema_field(serializers.ChoiceField(choices=["rollback", "rollout"], allow_null=True))
    def get_decided(self, verdict: Verdict) -> str | None:
        """What was actually decided, once someone said so."""
        if verdict.decided is None:
            return None
        return "rollback" if verdict.decided == Decision.ROLLBACK else "rollout"


JOB_LINK = (
    "Its import job (the latest, for a file sent again after a failure): its status and errors; "
    "null for a file imported from the command line."
)


class ImportSerializer(serializers.ModelSerializer[ImportBatch]):
    metric = serializers.IntegerField(source="metric_id", read_only=True)
    file = serializers.CharField(source="file_name", read_only=True)
    uploaded_by = serializers.CharField(source="uploaded_by.username", default=None, read_only=True, allow_null=True)
    uploaded_at = UtcDateTimeField(source="created_at", read_only=True)
    undone_at = UtcDateTimeField(read_only=True, allow_null=True)
    job = serializers.SerializerMethodField()
    url = Link("api:import")

    class Meta:
        model = ImportBatch
        fields = ["id", "metric", "file", "size", "rows", "uploaded_by", "uploaded_at", "undone_at", "job", "url"]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True, "description": JOB_LINK})
    def get_job(self, batch: ImportBatch) -> str | None:
        job_id = getattr(batch, "job_id", None)
        if job_id is None:
            return None
        return str(self.context["request"].build_absolute_uri(reverse("api:job", args=[job_id])))


class UndoneImportSerializer(ImportSerializer):
    deleted = serializers.SerializerMethodField(help_text="How many indicators the undo deleted.")

    class Meta(ImportSerializer.Meta):
        fields = [*ImportSerializer.Meta.fields, "deleted"]
        read_only_fields = fields

    def get_deleted(self, batch: ImportBatch) -> int:
        return int(self.context["deleted"])


class AskSerializer(serializers.Serializer[dict[str, Any]]):
    """An observation: a value seen `minutes` after the deployment."""

    value = serializers.FloatField(min_value=-LARGEST_NUMBER, max_value=LARGEST_NUMBER)
    minutes = serializers.FloatField(min_value=0, max_value=LARGEST_NUMBER)


class FeedbackSerializer(serializers.Serializer[dict[str, Any]]):
    decided = serializers.ChoiceField(choices=["rollback", "rollout"], help_text="What was actually decided.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class RowErrorSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField(help_text="The file's line, from 1 (the header is line 1).")
    column = serializers.CharField(allow_null=True, help_text="The column at fault; null when the whole line is.")
    reason = serializers.CharField()


class FileErrorsSerializer(serializers.Serializer[Any]):
    message = serializers.CharField()
    rows = RowErrorSerializer(many=True, help_text="The first errors, line by line.")
    total = serializers.IntegerField(help_text="How many errors the file has in all.")


class ImportInputSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="The CSV file: value, decision, time (minutes), with a header line.")
    delimiter = serializers.ChoiceField(
        choices=[DETECT, *DELIMITERS], default=DETECT, required=False, help_text="How the file's fields are separated."
    )
    import_again = serializers.BooleanField(
        default=False, required=False, help_text="Import a file already imported into this metric once more."
    )


class JobSerializer(serializers.ModelSerializer[Job]):
    metric = serializers.IntegerField(source="metric_id", read_only=True)
    stage = serializers.CharField(source="stage_label", read_only=True, help_text="In the request's language.")
    percent = serializers.IntegerField(source="percent_done", read_only=True)
    failure = serializers.ChoiceField(
        choices=Failure.choices, allow_blank=True, read_only=True, help_text="Why it failed; empty unless it did."
    )
    outcome = serializers.SerializerMethodField(
        help_text="What happened, in words, in the request's language (Accept-Language; English by default), "
        "whatever the language it was queued in; `failure` is the code to act on."
    )
    version = serializers.IntegerField(source="result.version", default=None, read_only=True, allow_null=True)
    file = serializers.CharField(
        source="batch.file_name", default=None, read_only=True, allow_null=True, help_text="An import's file name."
    )
    file_errors = serializers.SerializerMethodField(
        help_text="Why an import refused its file, with the same line-numbered errors as the upload page, "
        "in the request's language."
    )
    created_at = UtcDateTimeField(read_only=True)
    started_at = UtcDateTimeField(read_only=True, allow_null=True)
    finished_at = UtcDateTimeField(read_only=True, allow_null=True)
    url = Link("api:job")

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "metric",
            "status",
            "stage",
            "percent",
            "failure",
            "outcome",
            "version",
            "file",
            "file_errors",
            "created_at",
            "started_at",
            "finished_at",
            "url",
        ]
        read_only_fields = fields

    def get_outcome(self, job: Job) -> str:
        return job.outcome_for(self.context["request"].user)

    @extend_schema_field(FileErrorsSerializer(allow_null=True))
    def get_file_errors(self, job: Job) -> dict[str, Any] | None:
        """Only for who sent the file (`Job.shows_details_to`)."""
        error = job.csv_error() if job.shows_details_to(self.context["request"].user) else None
        if error is None:
            return None
        return {
            "message": error.message,
            "rows": [{"line": e.line, "column": e.column, "reason": e.reason} for e in error.row_errors],
            "total": error.total_errors,
        }


class IndicatorSerializer(serializers.ModelSerializer[Indicator]):
    decision = serializers.SerializerMethodField()
    minutes = serializers.FloatField(source="time", read_only=True)
    registered_by = serializers.CharField(source="created_by.username", default=None, read_only=True, allow_null=True)
    registered_at = UtcDateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Indicator
        fields = ["id", "value", "decision", "minutes", "registered_by", "registered_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=["rollback", "rollout"]))
    def get_decision(self, indicator: Indicator) -> str:
        return "rollback" if indicator.decision == Decision.ROLLBACK else "rollout"


class IndicatorInputSerializer(serializers.Serializer[dict[str, Any]]):
    """For the schema only: one indicator (checked by the same rules as the page's form)."""

    value = serializers.FloatField(min_value=-LARGEST_NUMBER, max_value=LARGEST_NUMBER)
    decision = serializers.ChoiceField(choices=["rollback", "rollout"])
    minutes = serializers.FloatField(min_value=0, max_value=LARGEST_NUMBER)


class IndicatorsInputSerializer(serializers.Serializer[dict[str, Any]]):
    indicators = serializers.ListField(child=IndicatorInputSerializer(), min_length=1, max_length=10_000)


class StoredSerializer(serializers.Serializer[dict[str, Any]]):
    stored = serializers.IntegerField()
    indicator_count = serializers.IntegerField()


class GateMetricSerializer(StrictTypes, serializers.ModelSerializer[GateMetric]):
    metric = serializers.PrimaryKeyRelatedField(queryset=Metric.objects.all())
    metric_name = serializers.CharField(source="metric.name", read_only=True)
    weight = serializers.FloatField(min_value=0, max_value=LARGEST_WEIGHT, default=1.0)

    class Meta:
        model = GateMetric
        fields = ["metric", "metric_name", "weight", "critical", "observe_only"]


SCORE_FIELDS = ("pass_score", "marginal_score")


class GateSerializer(StrictTypes, serializers.ModelSerializer[Gate]):
    owner = serializers.CharField(source="owner.username", read_only=True)
    metrics = GateMetricSerializer(source="gate_metrics", many=True)
    pass_score = serializers.FloatField(min_value=0, max_value=100, default=80.0)
    marginal_score = serializers.FloatField(min_value=0, max_value=100, default=50.0)
    url = Link("api:gate")

    class Meta:
        model = Gate
        fields = ["id", "name", "owner", "pass_score", "marginal_score", "metrics", "url"]
        read_only_fields = ["id", "owner", "url"]

    def validate_name(self, name: str) -> str:
        return Gate.checked_label("name", name)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        # A partial change (PATCH) is checked against what the gate already has.
        scores = {field: data[field] if field in data else getattr(self.instance, field) for field in SCORE_FIELDS}
        if scores["marginal_score"] > scores["pass_score"]:
            raise serializers.ValidationError(
                {"marginal_score": _("The marginal score cannot be above the pass score.")}, code="order"
            )
        if "gate_metrics" not in data:
            return data
        # A PATCH makes DRF take the entries as partial too: each still names its metric.
        unnamed = {
            str(index): {"metric": [serializers.ErrorDetail(_("This field is required."), "required")]}
            for index, item in enumerate(data["gate_metrics"])
            if "metric" not in item
        }
        if unnamed:
            raise serializers.ValidationError({"metrics": unnamed})
        metrics = [item["metric"].pk for item in data["gate_metrics"]]
        if not metrics:
            raise serializers.ValidationError({"metrics": _("A gate needs at least one metric.")}, code="empty")
        if len(set(metrics)) != len(metrics):
            raise serializers.ValidationError({"metrics": _("Each metric may appear once.")}, code="duplicate")
        return data


class GateInputSerializer(GateSerializer):
    """A gate as sent: its name, its scores and at least one metric."""

    # For the schema only (GateSerializer checks the body): the server refuses an empty list
    # of metrics, while a gate's answer may list none (deleting a metric takes it out of its gates).
    metrics = serializers.ListField(child=GateMetricSerializer(), min_length=1)  # type: ignore[assignment]


class ReleaseSerializer(StrictTypes, serializers.ModelSerializer[Release]):
    gate = serializers.IntegerField(source="gate_id", read_only=True)
    started_at = UtcDateTimeField(required=False)
    url = Link("api:release")
    verdict_url = Link("api:release_verdict")
    web_url = Link()

    class Meta:
        model = Release
        fields = ["id", "gate", "name", "version", "started_at", "url", "verdict_url", "web_url"]
        read_only_fields = ["id", "gate", "url", "verdict_url", "web_url"]

    def validate_started_at(self, started_at: datetime) -> datetime:
        return Release.checked_start(started_at)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": -LARGEST_ID, "maximum": LARGEST_ID},
            {"type": "string", "minLength": 1, "maxLength": 241},
        ]
    }
)
class MetricReference(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A metric by its id (a number) or its name (a string, any case; "name/category" when two
    categories share the name), among the metrics the caller may see. With a `gate` in the
    context, a name is looked up among the gate's metrics first: the catalogue is shared, and
    anyone's namesake elsewhere must not make the owner's name ambiguous or point it away."""

    takes_names = True  # api.strict: a string is a name here, not a wrong type
    default_error_messages = {
        "unknown_name": gettext_lazy(
            "No metric is named “{name}”: send its id, or its name as the metric list shows it."
        ),
        "ambiguous": gettext_lazy("“{name}” names several metrics ({choices}): send the id, or name/category."),
    }

    def get_queryset(self) -> Any:
        return Metric.objects.visible_to(self.context["request"].user)

    def to_internal_value(self, data: Any) -> Metric:
        if not isinstance(data, str):
            return super().to_internal_value(data)  # type: ignore[no-any-return]
        if "\x00" in data:  # no name holds one, and PostgreSQL refuses it in a query
            self.fail("unknown_name", name=data.replace("\x00", ""))
        gate = self.context.get("gate")
        in_gate = self.get_queryset().filter(pk__in=gate.gate_metrics.values("metric")) if gate is not None else None
        found: list[Metric] = []
        if in_gate is not None:
            found = list(in_gate.named(data, ids=False).order_by("pk")[:10])
        if not found:
            found = list(self.get_queryset().named(data, ids=False).order_by("pk")[:10])
            if found and in_gate is not None:
                return found[0]  # not one of the gate's: refused as an id outside it is
        if not found:
            self.fail("unknown_name", name=data.strip())
        if len(found) > 1:
            choices = ", ".join(f"{metric.pk}: {metric.name}/{metric.category}" for metric in found)
            self.fail("ambiguous", name=data.strip(), choices=choices)
        return found[0]


class ObservationInputSerializer(StrictTypes, serializers.Serializer[dict[str, Any]]):
    metric = MetricReference(
        queryset=Metric.objects.all(),
        help_text="The metric's id (a number), or its name (a string, any case; name/category when two "
        "categories share it); one of the gate's metrics.",
    )
    value = serializers.FloatField(min_value=-LARGEST_NUMBER, max_value=LARGEST_NUMBER)
    minutes = serializers.FloatField(
        min_value=0,
        max_value=LARGEST_NUMBER,
        required=False,
        help_text="Minutes since the release started; by default, computed by the server from its start.",
    )


class MetricJudgementSerializer(serializers.Serializer[Any]):
    metric = serializers.IntegerField(source="metric.pk")
    metric_name = serializers.CharField(source="metric.name")
    weight = serializers.FloatField()
    critical = serializers.BooleanField()
    observe_only = serializers.BooleanField()
    counted = serializers.BooleanField(source="counts")
    verdict = serializers.SerializerMethodField()

    @extend_schema_field(VerdictSerializer(allow_null=True))
    def get_verdict(self, judgement: Any) -> dict[str, Any] | None:
        if judgement.verdict is None:
            return None
        return dict(VerdictSerializer(judgement.verdict, context=self.context).data)


class ReleaseVerdictSerializer(serializers.Serializer[Any]):
    verdict = serializers.ChoiceField(source="state", choices=VerdictState.values)
    score = serializers.FloatField(allow_null=True, help_text="The weighted score, 0 to 100, of the counted metrics.")
    rule = serializers.ChoiceField(
        choices=["veto", "threshold", "waiting", "nothing_counts"],
        help_text="Which rule decided: a critical metric's veto, the score against the thresholds, waiting for a "
        "counted metric's first observation, or no metric that counts (a person decides).",
    )
    summary = serializers.CharField(help_text="One line, in the request's language.")
    metrics = MetricJudgementSerializer(many=True)


class VersionSerializer(serializers.ModelSerializer[TrainedModel]):
    """A model version and its card: how it was trained and how well it does on data it did not see."""

    metric = serializers.IntegerField(source="metric_id", read_only=True)
    trained_at = UtcDateTimeField(read_only=True)
    trained_by = serializers.CharField(source="trained_by.username", default=None, read_only=True, allow_null=True)
    is_active = serializers.SerializerMethodField()
    is_pinned = serializers.SerializerMethodField()
    is_stale = serializers.SerializerMethodField()
    unusable_because = serializers.SerializerMethodField()
    accuracy_lower_bound = serializers.FloatField(
        read_only=True,
        help_text="What the held-out accuracy is known to be above at 95% confidence (Wilson, over one held-out "
        "prediction per row trained on).",
    )
    is_better_than_baseline = serializers.BooleanField(
        read_only=True,
        help_text="Whether accuracy_lower_bound is above baseline_accuracy: if not, the version rests on too little "
        "data to trust (or learnt nothing) and every verdict it gives is inconclusive.",
    )
    url = Link("api:version")
    web_url = Link("metrics:model_card")

    class Meta:
        model = TrainedModel
        fields = [
            "id",
            "metric",
            "version",
            "accuracy",
            "baseline_accuracy",
            "accuracy_lower_bound",
            "is_better_than_baseline",
            "balanced_accuracy",
            "rollback_precision",
            "rollback_recall",
            "n_indicators",
            "n_trained_on",
            "n_rollback",
            "n_rollout",
            "max_depth",
            "n_leaves",
            "value_min",
            "value_max",
            "minutes_min",
            "minutes_max",
            "sklearn_version",
            "trained_at",
            "trained_by",
            "is_active",
            "is_pinned",
            "is_stale",
            "unusable_because",
            "url",
            "web_url",
        ]
        read_only_fields = fields

    def get_is_active(self, model: TrainedModel) -> bool:
        """Whether this version gives the metric's verdicts now (the view may say which one does,
        once for a whole list)."""
        if "answering_id" not in self.context:
            answering = model.metric.answering_model()
            self.context["answering_id"] = answering.pk if answering is not None else None
        return bool(self.context["answering_id"] == model.pk)

    def get_is_pinned(self, model: TrainedModel) -> bool:
        return bool(model.metric.is_active_model_pinned and model.metric.active_model_id == model.pk)

    def get_is_stale(self, model: TrainedModel) -> bool:
        """The metric's data changed since this version was trained."""
        return model.data_version != model.metric.data_version

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_unusable_because(self, model: TrainedModel) -> str | None:
        cause = model.unusable_cause
        return str(cause.value) if cause is not None else None


class ActivateSerializer(StrictTypes, serializers.Serializer[dict[str, Any]]):
    pin = serializers.BooleanField(
        default=True, help_text="Pinned, it keeps answering through later trainings until unpinned."
    )
