"""Releases: deployments judged by a gate, their observations and verdict."""

from __future__ import annotations

from typing import Any

from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.base import ChoiceField, Link, NumberField, UtcDateTimeField, ValidatedModelSerializer
from api.serializers.verdicts import VerdictSerializer
from api.strict import StrictTypes
from metrics.models import (
    DecidedBy,
    ImportBatch,
    JudgedOn,
    Metric,
    MetricCause,
    Outcome,
    OutcomeVia,
    Pull,
    PullingEnded,
    PullOutcome,
    Release,
    ReleaseRule,
    ReleaseVerdict,
    VerdictState,
)
from metrics.models.gate import OUTCOME_NOTE_MAX_LENGTH, SHOWN_CAUSES, MetricJudgement
from metrics.models.indicator import MINUTES_VALIDATORS, VALUE_VALIDATORS
from metrics.models.metric import LARGEST_ID


class PulledMetricSerializer(serializers.Serializer[Any]):
    """A metric's newest pull in the release."""

    metric = serializers.IntegerField(source="metric_id")
    name = serializers.CharField(source="metric.name")
    outcome = serializers.ChoiceField(
        choices=PullOutcome.values,
        help_text="ok (observed), no_data (the store had no value), failed (the store could not be asked, or the "
        "value could not be judged).",
    )
    error = serializers.SerializerMethodField()
    failures_in_a_row = serializers.IntegerField(help_text="Failed pulls of it in a row, this one included.")
    pulled_at = UtcDateTimeField()

    def get_error(self, pull: Pull) -> str | None:
        """What went wrong, in words in the request's language (with what the store answered, for
        the source's owner alone); null when it was observed."""
        return pull.error_words_for(self.context["request"].user) or None


class PullingSerializer(serializers.Serializer[Any]):
    """How a release's bound metrics are pulled from their data sources."""

    next_pull_at = UtcDateTimeField(allow_null=True, help_text="Null once pulling ended.")
    ended_at = UtcDateTimeField(source="pulling_ended_at", allow_null=True)
    ended_because = serializers.SerializerMethodField()
    metrics = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=PullingEnded.values, allow_null=True))
    def get_ended_because(self, release: Release) -> str | None:
        """rollback (its verdict), limit (the gate's pulling time is over), nothing_bound; null while it goes on."""
        return release.pulling_ended_because or None

    @extend_schema_field(PulledMetricSerializer(many=True))
    def get_metrics(self, release: Release) -> list[dict[str, Any]]:
        """Each metric pulled in the release, with its newest pull."""
        pulls = sorted(release.newest_pulls().values(), key=lambda pull: pull.metric_id)
        return list(PulledMetricSerializer(pulls, many=True, context=self.context).data)


class OutcomeLabelsSerializer(serializers.Serializer[Any]):
    """The labelled indicators an outcome gave: its release's observations, each an indicator of
    its metric with the outcome's decision, in one import batch that is undone as an upload is."""

    id = serializers.IntegerField(source="pk", help_text="The import batch's id (/api/v1/imports/{id}/).")
    url = Link("api:import")
    rows = serializers.IntegerField(help_text="How many indicators it stored (one per observation).")
    undone = serializers.SerializerMethodField()

    def get_undone(self, batch: ImportBatch) -> bool:
        """Whether they were undone since (deleted; the outcome stays recorded)."""
        return batch.undone_at is not None


class OutcomeSerializer(serializers.Serializer[Any]):
    """What the team did with a release in the end, who said so, and whether its gate was right."""

    outcome = serializers.ChoiceField(choices=Outcome.values, help_text="rollback (rolled back) or rollout.")
    recorded_at = UtcDateTimeField(source="outcome_at")
    recorded_by = serializers.CharField(
        source="outcome_by.username",
        default=None,
        allow_null=True,
        help_text="Who recorded it; null from the command line (the server's operator).",
    )
    via = serializers.ChoiceField(source="outcome_via", choices=OutcomeVia.values, help_text="Through what.")
    note = serializers.CharField(source="outcome_note")
    gate_said = serializers.SerializerMethodField()
    gate_said_at_minute = serializers.FloatField(
        allow_null=True,
        help_text="The minute of the release from which the gate had said it (its verdicts answered since then "
        "all said it); null when it was never asked nor observed.",
    )
    gate_was = serializers.ChoiceField(
        choices=["right", "wrong", "inconclusive"],
        help_text="right (it said what the team did), wrong (it said the other), inconclusive (it said neither).",
    )
    summary = serializers.CharField(source="outcome_summary", help_text="One line, in the request's language.")
    labels = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=VerdictState.values, allow_null=True))
    def get_gate_said(self, release: Release) -> str | None:
        """The gate's real verdict (dry run or not) when the first outcome was recorded; a change
        of outcome keeps it."""
        return release.gate_said or None

    @extend_schema_field(OutcomeLabelsSerializer(allow_null=True))
    def get_labels(self, release: Release) -> dict[str, Any] | None:
        """The labelled indicators this outcome gave; null when the release had no observation to label."""
        labels = release.outcome_labels
        return None if labels is None else dict(OutcomeLabelsSerializer(labels, context=self.context).data)


class RecordedOutcomeSerializer(OutcomeSerializer):
    """The release's outcome after it was sent: recorded now, or as it was already."""

    changed = serializers.SerializerMethodField()
    release = Link("api:release")

    def get_changed(self, release: Release) -> bool:
        """Whether this request recorded it: false when the release had this outcome already
        (nothing changed)."""
        return bool(self.context["changed"])


class OutcomeInputSerializer(StrictTypes, serializers.Serializer[dict[str, Any]]):
    """What the team did with the release in the end, with a note."""

    outcome = ChoiceField(choices=Outcome.values, help_text="rollback (rolled back) or rollout (rolled out).")
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        validators=[MaxLengthValidator(OUTCOME_NOTE_MAX_LENGTH)],
        help_text="Why, in a line or two.",
    )


class ReleaseSerializer(ValidatedModelSerializer[Release]):
    """A deployment judged by a gate, from its start (which is not in the future)."""

    gate = serializers.IntegerField(source="gate_id", read_only=True)
    started_at = UtcDateTimeField(required=False)
    url = Link("api:release")
    verdict_url = Link("api:release_verdict")
    web_url = Link()
    pulling = serializers.SerializerMethodField()
    outcome = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = [
            "id",
            "gate",
            "name",
            "version",
            "key",
            "started_at",
            "url",
            "verdict_url",
            "web_url",
            "pulling",
            "outcome",
        ]
        read_only_fields = ["id", "gate", "url", "verdict_url", "web_url", "pulling", "outcome"]
        extra_kwargs = {
            "key": {
                "trim_whitespace": False,  # a key is the deployer's, as sent: " abc" is refused, not changed
                "help_text": "The deployer's own name for this deployment, unique in the gate (Argo Rollouts' "
                "pod-template hash, Flagger's namespace/name@checksum...): its observations and verdict can be "
                "sent and asked by it. Empty: none.",
            }
        }

    @extend_schema_field(PullingSerializer(allow_null=True))
    def get_pulling(self, release: Release) -> dict[str, Any] | None:
        """When a metric of its gate is bound to a data source: how its metrics are pulled (the
        verdict then needs nothing pushed). Null when its metrics are not pulled."""
        return dict(PullingSerializer(release, context=self.context).data) if release.is_pulled else None

    @extend_schema_field(OutcomeSerializer(allow_null=True))
    def get_outcome(self, release: Release) -> dict[str, Any] | None:
        """What the team did with it in the end (POST .../outcome records it); null until someone
        or something says."""
        return dict(OutcomeSerializer(release, context=self.context).data) if release.outcome else None


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


class CauseSerializer(serializers.Serializer[Any]):
    """One of the observations that took a metric over its limit."""

    observation = serializers.IntegerField(source="pk")
    verdict_id = serializers.IntegerField(source="verdict.pk")
    verdict = serializers.ChoiceField(source="verdict.state", choices=VerdictState.values)
    value = serializers.FloatField(source="verdict.value")
    minutes = serializers.FloatField(source="verdict.minutes")


class MetricJudgementSerializer(serializers.Serializer[Any]):
    metric = serializers.IntegerField(source="metric.pk")
    metric_name = serializers.CharField(source="metric.name")
    weight = serializers.FloatField()
    critical = serializers.BooleanField()
    observe_only = serializers.BooleanField()
    counted = serializers.BooleanField(source="counts")
    verdict_over_release = serializers.ChoiceField(
        source="state",
        choices=VerdictState.values,
        allow_null=True,
        help_text="The metric's verdict over the release, the one that counts (see cause); null while it is not "
        "observed (nor missing). `verdict` is its newest observation's.",
    )
    cause = serializers.ChoiceField(
        choices=MetricCause.values,
        help_text="Why it has that verdict: its newest observation; more rollbacks (inconclusives) in the release than "
        "its failure (inconclusive) limit; a newest rollback tolerated within the failure limit (inconclusive); "
        "missing (no observation in time); or not observed yet.",
    )
    judged_on = serializers.ChoiceField(choices=JudgedOn.values)
    failure_limit = serializers.IntegerField()
    inconclusive_limit = serializers.IntegerField(allow_null=True)
    counts = serializers.SerializerMethodField()
    caused_by = CauseSerializer(
        many=True, help_text=f"The first observations that took it over a limit (at most {SHOWN_CAUSES})."
    )
    verdict = serializers.SerializerMethodField()

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "observations": {"type": "integer"},
                "rollbacks": {"type": "integer"},
                "inconclusives": {"type": "integer"},
            },
            "required": ["observations", "rollbacks", "inconclusives"],
        }
    )
    def get_counts(self, judgement: MetricJudgement) -> dict[str, int]:
        """Its observations in the release, and how many were judged rollback and inconclusive."""
        return {
            "observations": judgement.observations,
            "rollbacks": judgement.rollbacks,
            "inconclusives": judgement.inconclusives,
        }

    @extend_schema_field(VerdictSerializer(allow_null=True))
    def get_verdict(self, judgement: MetricJudgement) -> dict[str, Any] | None:
        if judgement.verdict is None:
            return None
        return dict(VerdictSerializer(judgement.verdict, context=self.context).data)


@extend_schema_field({"type": "string", "enum": [rule.value for rule in ReleaseRule], "deprecated": True})
class DeprecatedRuleField(serializers.CharField):
    """The release verdict's old `rule`, kept for pipelines that read it."""


class WouldBeSerializer(serializers.Serializer[Any]):
    """The real verdict of a gate in dry run, which the pipeline was not answered."""

    verdict = serializers.ChoiceField(source="state", choices=VerdictState.values)
    score = serializers.FloatField(allow_null=True)
    decided_by = serializers.ChoiceField(choices=DecidedBy.values)
    summary = serializers.CharField()


class ReleaseVerdictSerializer(serializers.Serializer[Any]):
    verdict = serializers.ChoiceField(
        source="answered_state",
        choices=VerdictState.values,
        help_text="What the pipeline does: rollout, rollback, or inconclusive (a person decides). In dry run, "
        "always rollout (the real verdict is under would_be).",
    )
    score = serializers.FloatField(
        source="answered_score",
        allow_null=True,
        help_text="0 to 100, as Kayenta's: the weighted score of the counted metrics; 0 when a critical metric "
        "vetoes; null while a counted metric is waited for, when no metric counts, or when a critical "
        "metric is inconclusive (a person decides). 100 in dry run.",
    )
    decided_by = serializers.ChoiceField(
        source="answered_decided_by",
        choices=DecidedBy.values,
        help_text="What decided: score (against the thresholds), critical_veto (a critical metric says rollback), "
        "failure_limit (a critical metric went over its failure limit earlier in the release), "
        "critical_inconclusive (a critical metric keeps a passing score from rolling out), waiting (for a "
        "counted metric's first observation), nothing_counts (a person decides), dry_run (the gate is in dry "
        "run: see would_be).",
    )
    dry_run = serializers.BooleanField(help_text="The gate is in dry run: answered rollout whatever it finds.")
    would_be = serializers.SerializerMethodField()
    rule = DeprecatedRuleField(
        help_text="Deprecated: decided_by replaces it. veto (a critical metric decided), threshold (the score), "
        "waiting, nothing_counts; of the real verdict, also in dry run.",
    )
    summary = serializers.CharField(source="answered_summary", help_text="One line, in the request's language.")
    metrics = MetricJudgementSerializer(many=True)

    @extend_schema_field(WouldBeSerializer(allow_null=True))
    def get_would_be(self, verdict: ReleaseVerdict) -> dict[str, Any] | None:
        """In dry run, the real verdict; null otherwise."""
        return dict(WouldBeSerializer(verdict).data) if verdict.dry_run else None
