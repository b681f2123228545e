"""Indicators: the past deployments a metric's model learns from."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.base import UtcDateTimeField
from metrics.csv_io import LARGEST_NUMBER
from metrics.models import (
    Decision,
    Indicator,
)


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
