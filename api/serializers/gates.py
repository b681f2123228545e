"""Gates: named sets of metrics that judge a release together."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers

from api.serializers.base import Link
from api.strict import StrictTypes
from metrics.models import (
    Gate,
    GateMetric,
    Metric,
)
from metrics.models.gate import LARGEST_WEIGHT


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
