"""Model versions: their cards, and which one answers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.base import Link, UtcDateTimeField
from api.strict import StrictTypes
from metrics.models import (
    TrainedModel,
)


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
