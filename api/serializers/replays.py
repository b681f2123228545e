"""Replays: how a gate would have judged the team's past releases, and settings tried on them.

The report and each replayed release are worded by the domain (`ReplayFigures.as_data`,
`ReplayedRelease.as_data`), which `manage.py replay --json` prints too: these serializers read
those dicts field by field, so the schema states exactly what the API and the command give."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.base import Link, NumberField, UtcDateTimeField, WholeNumberField, absolute_url, path_of
from api.serializers.jobs import JobSerializer
from api.strict import StrictTypes
from metrics.models import (
    DecidedBy,
    Gate,
    GateChange,
    GateMetric,
    Metric,
    Outcome,
    Replay,
    ReplayedRelease,
    VerdictState,
)
from metrics.models.replay import NO_MODEL, NO_OBSERVATION

# Replay ---------------------------------------------------------------------------------------


class RuleMetricSerializer(serializers.Serializer[Any]):
    """One metric's part in the rules a replay judged by: its part in the gate, and the
    metric's own verdict settings."""

    metric = serializers.IntegerField()
    name = serializers.CharField()
    weight = serializers.FloatField()
    critical = serializers.BooleanField()
    observe_only = serializers.BooleanField()
    judged_on = serializers.CharField()
    failure_limit = serializers.IntegerField()
    inconclusive_limit = serializers.IntegerField(allow_null=True)
    rollback_threshold = serializers.FloatField()
    rollout_threshold = serializers.FloatField()
    min_leaf_cases = serializers.IntegerField()
    range_margin = serializers.FloatField()
    bad_direction = serializers.CharField()


class RulesSerializer(serializers.Serializer[Any]):
    """A gate's rules as a replay keeps them (`gate_rules`): its thresholds and missing-data rule,
    and each metric's part."""

    pass_score = serializers.FloatField()
    marginal_score = serializers.FloatField()
    missing_after_minutes = serializers.FloatField(allow_null=True)
    missing_means = serializers.CharField()
    pull_interval_seconds = serializers.IntegerField()
    metrics = RuleMetricSerializer(many=True)


class RateSerializer(serializers.Serializer[Any]):
    """A share of releases, with its 95% Wilson score interval."""

    hits = serializers.IntegerField()
    trials = serializers.IntegerField(help_text="The releases it is measured on.")
    share = serializers.FloatField(allow_null=True, help_text="hits / trials, from 0 to 1; null on no trial.")
    interval = serializers.ListField(
        child=serializers.FloatField(),
        min_length=2,
        max_length=2,
        allow_null=True,
        help_text="[low, high]: the 95% Wilson score interval of the share; null on no trial.",
    )


class ConfusionRowSerializer(serializers.Serializer[Any]):
    """Of the releases the team decided one way, how many the replay would have said each verdict of."""

    rollback = serializers.IntegerField()
    inconclusive = serializers.IntegerField()
    rollout = serializers.IntegerField()
    not_judged = serializers.IntegerField()


class ConfusionSerializer(serializers.Serializer[Any]):
    """The confusion matrix at the release level: what the team did (rows) against what the
    replay would have said (columns)."""

    rollback = ConfusionRowSerializer(help_text="The releases rolled back.")
    rollout = ConfusionRowSerializer(help_text="The releases rolled out.")


class NotJudgedBecauseSerializer(serializers.Serializer[Any]):
    no_model = serializers.IntegerField(help_text="A counted metric had too few indicators before the release.")
    no_observation = serializers.IntegerField(help_text="A counted metric was never observed in the release.")
    bad_data = serializers.IntegerField(help_text="A counted metric's indicators before it could not be learnt from.")


class ReplayReportSerializer(serializers.Serializer[Any]):
    """What a finished replay found (`ReplayFigures.as_data`)."""

    releases = serializers.IntegerField(help_text="The releases it replayed.")
    judged = serializers.IntegerField(help_text="Those it could judge.")
    not_judged = serializers.IntegerField(help_text="Those it could not (no model yet, never observed).")
    bad = serializers.IntegerField(help_text="Judged releases the team rolled back.")
    caught = serializers.IntegerField(help_text="Of those, the ones it would have stopped.")
    good = serializers.IntegerField(help_text="Judged releases the team rolled out.")
    false_rollbacks = serializers.IntegerField(help_text="Of those, the ones it would have stopped.")
    inconclusive = serializers.IntegerField(help_text="Judged releases it would have left to a person (paged).")
    catch_rate = RateSerializer(help_text="caught of bad.")
    false_rollback_rate = RateSerializer(help_text="false_rollbacks of good.")
    inconclusive_rate = RateSerializer(help_text="inconclusive of judged.")
    median_catch_minute = serializers.FloatField(allow_null=True, help_text="Null when it caught none.")
    caught_minutes = serializers.ListField(
        child=serializers.IntegerField(), help_text="The minute each caught release was stopped at, in order."
    )
    caught_before_decision = serializers.IntegerField(help_text="Caught releases stopped before the team decided.")
    confusion = ConfusionSerializer()
    is_thin = serializers.BooleanField(help_text="Too few releases of either outcome to trust its rates.")
    is_no_better_than_chance = serializers.BooleanField(
        help_text="Its catch rate cannot be told apart from its false rollback rate at 95% confidence."
    )
    thin_words = serializers.CharField(allow_null=True, help_text="Why it rests on too little, in words; or null.")
    chance_words = serializers.CharField(allow_null=True, help_text="Why it is no better than chance; or null.")
    not_judged_because = NotJudgedBecauseSerializer(
        help_text="How many releases each reason kept from being judged (a release may have several)."
    )
    no_model_words = serializers.CharField(
        allow_null=True,
        help_text="Why releases had no model (history registered after them does not count), in words; or null.",
    )


class ReplaySerializer(serializers.ModelSerializer[Replay]):
    """A replay: what it replayed and with which rules, its job's progress and, once finished, its report."""

    gate = serializers.IntegerField(source="gate_id", read_only=True)
    gate_name = serializers.CharField(source="gate.name", read_only=True)
    gate_url = serializers.SerializerMethodField()
    requested_by = serializers.CharField(source="requested_by.username", default=None, read_only=True, allow_null=True)
    created_at = UtcDateTimeField(read_only=True)
    since = UtcDateTimeField(read_only=True, allow_null=True, help_text="Releases started from then; null: no bound.")
    until = UtcDateTimeField(read_only=True, allow_null=True, help_text="Releases started before then; null: none.")
    compared_with = serializers.IntegerField(
        source="compared_with_id", read_only=True, allow_null=True, help_text="The replay a what-if is compared with."
    )
    compared_with_url = serializers.SerializerMethodField()
    is_what_if = serializers.BooleanField(read_only=True)
    changes = serializers.SerializerMethodField()
    rules = RulesSerializer(read_only=True)
    job = serializers.SerializerMethodField()
    is_finished = serializers.BooleanField(read_only=True)
    finished_at = UtcDateTimeField(read_only=True, allow_null=True)
    applied_at = UtcDateTimeField(
        read_only=True, allow_null=True, help_text="When its settings were applied to the gate; null if never."
    )
    report = serializers.SerializerMethodField()
    url = Link("api:replay")
    releases_url = Link("api:replay_releases")

    class Meta:
        model = Replay
        fields = [
            "id",
            "gate",
            "gate_name",
            "gate_url",
            "requested_by",
            "created_at",
            "since",
            "until",
            "compared_with",
            "compared_with_url",
            "is_what_if",
            "changes",
            "rules",
            "job",
            "is_finished",
            "finished_at",
            "applied_at",
            "report",
            "url",
            "releases_url",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_gate_url(self, replay: Replay) -> str:
        return absolute_url(path_of("api:gate", replay.gate_id), self.context.get("request"))

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_compared_with_url(self, replay: Replay) -> str | None:
        if replay.compared_with_id is None:
            return None
        return absolute_url(path_of("api:replay", replay.compared_with_id), self.context.get("request"))

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_changes(self, replay: Replay) -> dict[str, Any]:
        """What a what-if changed of the replay it is compared with, as sent to `what-if`
        (`{"pass_score": 70, "metrics": {"<metric id>": {"weight": 2}}}`); empty for a replay of
        the gate's own rules."""
        return dict(replay.changes)

    @extend_schema_field(JobSerializer(allow_null=True))
    def get_job(self, replay: Replay) -> dict[str, Any] | None:
        """The job that runs it: poll the replay until its `status` is done or failed."""
        job = replay.job
        return None if job is None else dict(JobSerializer(job, context=self.context).data)

    @extend_schema_field(ReplayReportSerializer(allow_null=True))
    def get_report(self, replay: Replay) -> dict[str, Any] | None:
        """What it found, once finished (null before); the releases, minute by minute, are at `releases_url`."""
        if not replay.is_finished:
            return None
        return dict(ReplayReportSerializer(replay.figures.as_data()).data)


class MinuteSerializer(serializers.Serializer[Any]):
    """The release verdict the replay would have given at one minute of the release."""

    minute = serializers.IntegerField(help_text="From the release's start, from 1.")
    state = serializers.ChoiceField(choices=VerdictState.values)
    score = serializers.FloatField(allow_null=True, help_text="The gate's score (0 to 100); null when none.")
    decided_by = serializers.ChoiceField(choices=DecidedBy.values)


class NotJudgedSerializer(serializers.Serializer[Any]):
    """Why a release could not be judged: one counted metric's reason."""

    code = serializers.CharField(
        help_text=f"{NO_MODEL} (too few indicators before it to train a model), {NO_OBSERVATION} (never "
        "observed in it), bad_data (its indicators could not be learnt from)."
    )
    metric = serializers.IntegerField(allow_null=True)
    words = serializers.CharField(help_text="In the request's language.")


class ReplayedReleaseSerializer(serializers.Serializer[Any]):
    """What the gate would have said of one past release (`ReplayedRelease.as_data`)."""

    release = serializers.IntegerField(allow_null=True, help_text="The release's id; null once it was deleted.")
    name = serializers.CharField()
    version = serializers.CharField()
    started_at = UtcDateTimeField()
    outcome = serializers.ChoiceField(choices=Outcome.values, help_text="What the team did.")
    decided_minute = serializers.FloatField(
        allow_null=True, help_text="When the team's decision was recorded, in minutes from the start."
    )
    verdict = serializers.ChoiceField(
        choices=VerdictState.values,
        allow_null=True,
        help_text="rollback when it would have stopped the release, else its verdict at the end of the window; "
        "null when it could not be judged (`not_judged` says why).",
    )
    stopped_minute = serializers.IntegerField(allow_null=True, help_text="The minute it would have stopped it at.")
    not_judged = NotJudgedSerializer(many=True)
    minutes = MinuteSerializer(many=True, help_text="Its verdict at each minute of the window.")

    def to_representation(self, instance: ReplayedRelease) -> dict[str, Any]:
        return dict(super().to_representation(instance.as_data()))


# Starting one, what-if and apply ----------------------------------------------------------------------------


class ReplayInputSerializer(StrictTypes, serializers.Serializer[Any]):
    """Which releases to replay: those with an outcome started in [since, until); either may be
    left out or null (no bound)."""

    since = serializers.DateTimeField(required=False, allow_null=True, default=None)
    until = serializers.DateTimeField(required=False, allow_null=True, default=None)


def _validators(model: type[Any], name: str) -> list[Any]:
    """The model field's own validators: the schema states the limits `Replay.what_if` checks."""
    return list(model._meta.get_field(name).validators)


class MetricKnobsSerializer(StrictTypes, serializers.Serializer[Any]):
    """Settings of one metric to try: its part in the gate, and (its owner's) its thresholds."""

    weight = NumberField(required=False, validators=_validators(GateMetric, "weight"))
    critical = serializers.BooleanField(required=False)
    failure_limit = WholeNumberField(required=False, validators=_validators(GateMetric, "failure_limit"))
    inconclusive_limit = WholeNumberField(
        required=False, allow_null=True, validators=_validators(GateMetric, "inconclusive_limit")
    )
    rollback_threshold = NumberField(required=False, validators=_validators(Metric, "rollback_threshold"))
    rollout_threshold = NumberField(required=False, validators=_validators(Metric, "rollout_threshold"))


class WhatIfSerializer(StrictTypes, serializers.Serializer[Any]):
    """The settings to try on the same releases (at least one that differs): those not sent stay
    as the replay had them. Checked by `Replay.what_if`, as the page's form is."""

    pass_score = NumberField(required=False, validators=_validators(Gate, "pass_score"))
    marginal_score = NumberField(required=False, validators=_validators(Gate, "marginal_score"))
    metrics = serializers.DictField(
        child=MetricKnobsSerializer(), required=False, help_text="Each metric's settings to try, under its id."
    )


class DifferenceSerializer(serializers.Serializer[Any]):
    what = serializers.CharField(help_text="The setting: pass_score, or “metric name: weight”.")
    before = serializers.JSONField()
    after = serializers.JSONField()


class GateChangeSerializer(serializers.ModelSerializer[GateChange]):
    """Settings of a gate changed in one step from a replay: what they were and became (logged)."""

    gate = serializers.IntegerField(source="gate_id", read_only=True)
    gate_url = serializers.SerializerMethodField()
    replay = serializers.IntegerField(source="replay_id", read_only=True, allow_null=True)
    changed_by = serializers.CharField(source="changed_by.username", default=None, read_only=True, allow_null=True)
    changed_at = UtcDateTimeField(read_only=True)
    before = RulesSerializer(read_only=True)
    after = RulesSerializer(read_only=True)
    differences = serializers.SerializerMethodField()

    class Meta:
        model = GateChange
        fields = ["id", "gate", "gate_url", "replay", "changed_by", "changed_at", "before", "after", "differences"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_gate_url(self, change: GateChange) -> str:
        return absolute_url(path_of("api:gate", change.gate_id), self.context.get("request"))

    @extend_schema_field(DifferenceSerializer(many=True))
    def get_differences(self, change: GateChange) -> list[dict[str, Any]]:
        """Each setting it changed."""
        return [{"what": what, "before": before, "after": after} for what, before, after in change.differences()]
