"""Releases: deployments judged by a gate, their observations and verdict."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.base import Link, NumberField, UtcDateTimeField, ValidatedModelSerializer
from api.serializers.verdicts import VerdictSerializer
from api.strict import StrictTypes
from metrics.models import Metric, Release, VerdictState
from metrics.models.indicator import MINUTES_VALIDATORS, VALUE_VALIDATORS
from metrics.models.metric import LARGEST_ID


class ReleaseSerializer(ValidatedModelSerializer[Release]):
    """A deployment judged by a gate, from its start (which is not in the future)."""

    gate = serializers.IntegerField(source="gate_id", read_only=True)
    started_at = UtcDateTimeField(required=False)
    url = Link("api:release")
    verdict_url = Link("api:release_verdict")
    web_url = Link()

    class Meta:
        model = Release
        fields = ["id", "gate", "name", "version", "key", "started_at", "url", "verdict_url", "web_url"]
        read_only_fields = ["id", "gate", "url", "verdict_url", "web_url"]
        extra_kwargs = {
            "key": {
                "trim_whitespace": False,  # a key is the deployer's, as sent: " abc" is refused, not changed
                "help_text": "The deployer's own name for this deployment, unique in the gate (Argo Rollouts' "
                "pod-template hash, Flagger's namespace/name@checksum...): its observations and verdict can be "
                "sent and asked by it. Empty: none.",
            }
        }


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
    value = NumberField(validators=VALUE_VALIDATORS)
    minutes = NumberField(
        validators=MINUTES_VALIDATORS,
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
