"""Metrics: the catalogue's entries and their verdict settings."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from api.serializers.base import Link, UtcDateTimeField, ValidatedModelSerializer
from metrics.models import (
    Metric,
)
from metrics.models.metric import VERDICT_SETTINGS


class AnsweringModelSerializer(serializers.Serializer[Metric]):
    version = serializers.IntegerField(source="latest_model_version")
    accuracy = serializers.FloatField(source="latest_model_accuracy", help_text="Held-out accuracy, 0 to 1.")
    trained_at = UtcDateTimeField(source="latest_model_trained_at", allow_null=True)
    is_stale = serializers.SerializerMethodField(help_text="The data changed since this version was trained.")
    is_usable = serializers.BooleanField(source="latest_model_is_usable")

    def get_is_stale(self, metric: Metric) -> bool:
        return bool(metric.latest_model_data_version != metric.data_version)  # type: ignore[attr-defined]


class VerdictSettingsSerializer(ValidatedModelSerializer[Metric]):
    """When a verdict is inconclusive: the owner's to set (PATCH the metric with those to
    change; checked as the "Verdict settings" page checks them)."""

    class Meta:
        model = Metric
        fields = list(VERDICT_SETTINGS)
        # Changed by a PATCH: a setting not sent stays as it is, whatever the model's default.
        extra_kwargs = {field: {"default": empty} for field in VERDICT_SETTINGS}


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


class MetricInputSerializer(ValidatedModelSerializer[Metric]):
    """A metric as sent: its name and category, checked as the page checks them."""

    class Meta:
        model = Metric
        fields = ["name", "category"]


class MetricFilterSerializer(serializers.Serializer[dict[str, str]]):
    """The list's search (no length limit: a search longer than any name finds nothing)."""

    name = serializers.CharField(required=False, allow_blank=True, default="")
    category = serializers.CharField(required=False, allow_blank=True, default="")
