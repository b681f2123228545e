"""Indicators: the past deployments a metric's model learns from."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.fields import empty

from api.serializers.base import DecisionField, NumberField, UtcDateTimeField
from api.strict import StrictTypes
from metrics.models import Indicator
from metrics.models.indicator import MAX_BULK_INDICATORS, MINUTES_VALIDATORS, VALUE_VALIDATORS


class IndicatorSerializer(serializers.ModelSerializer[Indicator]):
    decision = DecisionField(read_only=True)
    minutes = serializers.FloatField(source="time", read_only=True)
    registered_by = serializers.CharField(source="created_by.username", default=None, read_only=True, allow_null=True)
    registered_at = UtcDateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Indicator
        fields = ["id", "value", "decision", "minutes", "registered_by", "registered_at"]
        read_only_fields = fields


class IndicatorInputSerializer(StrictTypes, serializers.Serializer[dict[str, Any]]):
    """One indicator: the value seen, what was decided, after how many minutes, within the page's limits."""

    value = NumberField(validators=VALUE_VALIDATORS)
    decision = DecisionField()
    minutes = NumberField(validators=MINUTES_VALIDATORS)


class IndicatorList(serializers.ListField):
    """Rows of indicators, 1 to `MAX_BULK_INDICATORS`, each checked as one is."""

    default_error_messages = {
        "invalid": gettext_lazy("Send a non-empty list of indicators as “indicators”."),
        "too_many": gettext_lazy("At most %(count)d indicators a request; upload a CSV file for more."),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=IndicatorInputSerializer(), min_length=1, max_length=MAX_BULK_INDICATORS, **kwargs)

    def run_validation(self, data: Any = empty) -> Any:
        if not isinstance(data, list) or not data:  # missing, or not a list: one message
            self.fail("invalid")
        if len(data) > MAX_BULK_INDICATORS:
            message = self.error_messages["too_many"] % {"count": MAX_BULK_INDICATORS}
            raise serializers.ValidationError(message, code="too_many")
        # A row that is not an object lacks every field.
        return super().run_validation([row if isinstance(row, dict) else {} for row in data])


class IndicatorsInputSerializer(StrictTypes, serializers.Serializer[dict[str, Any]]):
    """Many indicators at once, all stored or none."""

    indicators = IndicatorList()


class StoredSerializer(serializers.Serializer[dict[str, Any]]):
    stored = serializers.IntegerField()
    indicator_count = serializers.IntegerField()
