"""Verdicts: what a model answered about an observation, and what was decided."""

from __future__ import annotations

from typing import Any

from django.core.validators import MaxLengthValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.base import (
    DecisionField,
    Link,
    NumberField,
    UtcDateTimeField,
    absolute_urls,
    model_label,
    path_of,
)
from api.strict import StrictTypes
from metrics.formatting import rule_text
from metrics.models import (
    Source,
    Verdict,
    VerdictState,
)
from metrics.models.indicator import MINUTES_VALIDATORS, VALUE_VALIDATORS


class ReasonSerializer(serializers.Serializer[dict[str, Any]]):
    code = serializers.CharField(
        help_text="value_out_of_range, minutes_out_of_range, few_cases, weak_majority, no_better_than_baseline, "
        "could_be_chance (better than the baseline as measured, not beyond chance), stale; or beyond_bad_side "
        "(the only reason of a rollback: the value lies beyond anything seen, on the metric's bad side)"
    )
    message = serializers.CharField(help_text="The reason in words, in the request's language (Accept-Language).")


# One side of a verdict's range: its number, and whether that number itself is in the range.
BOUND_SCHEMA = {
    "type": "object",
    "nullable": True,
    "properties": {"number": {"type": "number"}, "inclusive": {"type": "boolean"}},
    "required": ["number", "inclusive"],
}


# How `VerdictSerializer.to_representation` words a time and a decision: as its fields do.
ASKED_AT = UtcDateTimeField()
DECIDED = DecisionField()


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
    decided = DecisionField(
        read_only=True, allow_null=True, help_text="What was actually decided, once someone said so."
    )
    url = Link("api:verdict")
    web_url = Link()

    def to_representation(self, verdict: Verdict) -> dict[str, Any]:
        """The fields declared above, in their order, each as its field words it, built in one
        go: DRF's way (every field copied for each serializer, then asked in turn) cost a
        verdict's answer as much as giving the verdict. Kept equal to DRF's by
        tests/api/test_verdict_representation.py."""
        request = self.context.get("request")
        api_url, web_url = absolute_urls(
            request, path_of("api:verdict", verdict.pk), path_of("metrics:verdict", verdict.pk)
        )
        return {
            "id": verdict.pk,
            "verdict": str(verdict.state),
            "leaning": str(verdict.leaning),
            "metric": verdict.metric_id,
            "metric_name": verdict.metric.name,
            "value": float(verdict.value),
            "minutes": float(verdict.minutes),
            "reasons": self.get_reasons(verdict),
            "rule": self.get_rule(verdict),
            "conditions": self.get_conditions(verdict),
            "similar_cases": self.get_similar_cases(verdict),
            "model_version": verdict.model_version,
            "model_accuracy": float(verdict.model_accuracy),
            "is_stale": bool(verdict.is_stale),
            "asked_by": verdict.asked_by.username if verdict.asked_by is not None else None,
            "asked_at": ASKED_AT.to_representation(verdict.asked_at),
            "source": str(verdict.source),
            "decided": None if verdict.decided is None else DECIDED.to_representation(verdict.decided),
            "url": api_url,
            "web_url": web_url,
        }

    @extend_schema_field(ReasonSerializer(many=True))
    def get_reasons(self, verdict: Verdict) -> list[dict[str, str]]:
        """Why it is inconclusive, or why it is a rollback beyond the data on the metric's bad side
        (empty for a verdict the tree gave)."""
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


class AskSerializer(StrictTypes, serializers.Serializer[dict[str, Any]]):
    """An observation: a value seen `minutes` after the deployment, within an indicator's limits."""

    value = NumberField(validators=VALUE_VALIDATORS)
    minutes = NumberField(validators=MINUTES_VALIDATORS)


class FeedbackSerializer(StrictTypes, serializers.Serializer[dict[str, Any]]):
    """What was actually decided about a verdict, with a note."""

    decided = DecisionField(help_text="What was actually decided.")
    note = serializers.CharField(
        required=False, allow_blank=True, default="", validators=[MaxLengthValidator(Verdict.NOTE_MAX_LENGTH)]
    )
