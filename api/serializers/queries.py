"""A metric's production query: the data source it is read from, what is asked, and its preview."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.base import TextField, UtcDateTimeField, ValidatedModelSerializer, WholeNumberField, absolute_url
from api.strict import StrictTypes
from metrics.models import DataSource, MetricQuery
from metrics.models.data_source import (
    LONGEST_DIMENSION_NAME,
    LONGEST_DIMENSION_VALUE,
    MOST_DIMENSIONS,
    PREVIEW_WINDOW_MINUTES,
    SourceKind,
    Variables,
)
from metrics.models.gate import KEY_MAX_LENGTH, LONGEST_PULL_MINUTES


class DimensionSerializer(StrictTypes, serializers.Serializer[dict[str, str]]):
    """One dimension of a CloudWatch metric; its value may use the variables."""

    name = TextField(max_length=LONGEST_DIMENSION_NAME)
    value = TextField(max_length=LONGEST_DIMENSION_VALUE)


class MetricQuerySerializer(ValidatedModelSerializer[MetricQuery]):
    """How a metric's value is read in production: from one of its owner's data sources, by a
    PromQL template (`query`) or a CloudWatch metric (`namespace`, `metric_name`, `dimensions`,
    `statistic`, `period_seconds`), as the canary's value or compared with the baseline's
    (`compare`, with each side's selector). Variables: {{ key }}, {{ version }}, {{ selector }},
    {{ window }}."""

    metric = serializers.IntegerField(source="metric_id", read_only=True)
    # A field named as DRF's `Field.source` attribute, which the stubs type as the attribute.
    source = serializers.PrimaryKeyRelatedField(  # type: ignore[assignment]
        queryset=DataSource.objects.none(), help_text="The id of one of the caller's own data sources."
    )
    source_name = serializers.CharField(source="source.name", read_only=True)
    source_kind = serializers.ChoiceField(source="source.kind", choices=SourceKind.choices, read_only=True)
    # `many=True` makes a ListSerializer, which takes max_length (the stubs type the child's arguments).
    dimensions = DimensionSerializer(many=True, required=False, max_length=MOST_DIMENSIONS)  # type: ignore[call-arg]
    created_at = UtcDateTimeField(read_only=True)
    updated_at = UtcDateTimeField(read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = MetricQuery
        fields = [
            "metric",
            "source",
            "source_name",
            "source_kind",
            "query",
            "namespace",
            "metric_name",
            "dimensions",
            "statistic",
            "period_seconds",
            "compare",
            "canary_selector",
            "baseline_selector",
            "created_at",
            "updated_at",
            "url",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:  # the caller's own sources, and no one else's
            self.fields["source"].queryset = DataSource.objects.visible_to(request.user)

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, query: MetricQuery) -> str:
        return absolute_url(reverse("api:metric_query", args=[query.metric_id]), self.context.get("request"))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "dimensions" in attrs:  # as the model stores them
            attrs["dimensions"] = [dict(item) for item in attrs["dimensions"]]
        return super().validate(attrs)


class PreviewInputSerializer(StrictTypes, serializers.Serializer[Any]):
    """What a preview stands for: a release's key and version, and the minutes since its start."""

    key = serializers.CharField(required=False, allow_blank=True, max_length=KEY_MAX_LENGTH, default="")
    version = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    window = WholeNumberField(
        required=False,
        min_value=1,
        max_value=LONGEST_PULL_MINUTES,
        default=PREVIEW_WINDOW_MINUTES,
        help_text="Whole minutes since the release started: {{ window }}.",
    )

    def variables(self) -> Variables:
        return Variables(**self.validated_data)


class PreviewSerializer(serializers.Serializer[Any]):
    """What the query gives now: the value as the metric defines it with the canary's and the
    baseline's raw numbers, or (`value` null) the reason it gives none; and the queries as sent."""

    has_value = serializers.BooleanField(read_only=True)
    value = serializers.FloatField(read_only=True, allow_null=True)
    canary = serializers.FloatField(read_only=True, allow_null=True)
    baseline = serializers.FloatField(read_only=True, allow_null=True)
    sampled_at = UtcDateTimeField(read_only=True, allow_null=True)
    query_sent = serializers.CharField(read_only=True)
    baseline_query_sent = serializers.CharField(read_only=True, help_text="Empty when the value is the canary's own.")
    error = serializers.CharField(
        source="error_kind",
        read_only=True,
        help_text="Empty with a value; otherwise what went wrong: no_data, not_a_number, several_series, bad_query, "
        "not_a_value, dns, refused, tls, timeout, unauthorized, http_status, not_a_store.",
    )
    reason = serializers.CharField(read_only=True, help_text="Why there is no value, in words; empty with a value.")
    key = serializers.CharField(source="variables.key", read_only=True)
    version = serializers.CharField(source="variables.version", read_only=True)
    window = serializers.IntegerField(source="variables.window", read_only=True)
