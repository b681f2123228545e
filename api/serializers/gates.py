"""Gates: named sets of metrics that judge a release together."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import get_error_detail

from api.serializers.base import Link, ValidatedModelSerializer
from metrics.models import Gate, GateMetric, Metric
from metrics.models.gate import TrackRecord


class GateMetricSerializer(ValidatedModelSerializer[GateMetric]):
    """One of a gate's metrics: how much its verdict weighs, whether it vetoes or only shows, and
    whether it is judged over the release (with its failure and inconclusive limits) or on its
    newest value only."""

    metric = serializers.PrimaryKeyRelatedField(queryset=Metric.objects.all())
    metric_name = serializers.CharField(source="metric.name", read_only=True)

    class Meta:
        model = GateMetric
        fields = [
            "metric",
            "metric_name",
            "weight",
            "critical",
            "observe_only",
            "judged_on",
            "failure_limit",
            "inconclusive_limit",
        ]


class TrackRecordSerializer(serializers.Serializer[TrackRecord]):
    """How often the gate was right about its releases: of those with an outcome, how many it had
    said what the team did (right), the other (wrong), or neither (inconclusive)."""

    right = serializers.IntegerField()
    wrong = serializers.IntegerField()
    inconclusive = serializers.IntegerField()
    with_outcome = serializers.IntegerField(help_text="right + wrong + inconclusive.")
    without_outcome = serializers.IntegerField(help_text="Its releases with no outcome recorded yet.")


class GateSerializer(ValidatedModelSerializer[Gate]):
    """A gate: named metrics that judge a release together, and the scores that decide."""

    owner = serializers.CharField(source="owner.username", read_only=True)
    metrics = GateMetricSerializer(source="gate_metrics", many=True)
    url = Link("api:gate")
    track_record = serializers.SerializerMethodField()

    class Meta:
        model = Gate
        fields = [
            "id",
            "name",
            "owner",
            "pass_score",
            "marginal_score",
            "missing_after_minutes",
            "missing_means",
            "dry_run",
            "pull_interval_seconds",
            "pull_for_minutes",
            "metrics",
            "url",
            "track_record",
        ]
        read_only_fields = ["id", "owner", "url", "track_record"]

    @extend_schema_field(TrackRecordSerializer)
    def get_track_record(self, gate: Gate) -> dict[str, Any]:
        """Whether it was right about its releases with an outcome, and how many have none yet."""
        return dict(TrackRecordSerializer(gate.track_record).data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)  # the gate's own rules (a PATCH: against what it has)
        if "gate_metrics" not in attrs:
            return attrs
        # A PATCH makes DRF take the entries as partial too: each still names its metric.
        unnamed = {
            str(index): {"metric": [serializers.ErrorDetail(_("This field is required."), "required")]}
            for index, item in enumerate(attrs["gate_metrics"])
            if "metric" not in item
        }
        if unnamed:
            raise serializers.ValidationError({"metrics": unnamed})
        try:
            Gate.check_metrics([item["metric"] for item in attrs["gate_metrics"]])
        except DjangoValidationError as error:
            raise serializers.ValidationError({"metrics": get_error_detail(error)}) from None
        return attrs


class GateInputSerializer(GateSerializer):
    """A gate as sent: its name, its scores and at least one metric."""

    # For the schema only (GateSerializer checks the body with `Gate.check_metrics`): the server
    # refuses an empty list of metrics, while a gate's answer may list none (deleting a metric
    # takes it out of its gates).
    metrics = serializers.ListField(child=GateMetricSerializer(), min_length=1)  # type: ignore[assignment]
