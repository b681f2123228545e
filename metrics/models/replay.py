"""Replays: how a gate would have judged the team's past releases, before it may stop one.

A *replay* takes the releases of a gate that have an outcome (all of them, or those started in
a range) and, for each minute of each release, gives the release verdict the gate would have
given then, with only what was known before that release: each metric's model is trained on
the indicators registered before the release started (in time order: never the release's own
labels, nor anything learnt after it), and judges the release's observations as they came,
under the gate's rules of the replay (`rules`, a copy of the gate's when it was asked for, or
other settings tried on the same releases: a *what-if*).

A release is stopped at the first minute the replayed verdict is rollback, as a pipeline
polling the gate would have been; otherwise its verdict is the one at the end of its window:
rollout, or inconclusive (a person would have been paged). Its window runs from its start to
its last observation, or to the team's decision when that came later (at most `pull_for_minutes`
after the start), and never beyond `LONGEST_REPLAY_MINUTES`.

A replay changes no model, version, verdict or release: what it trains is kept in memory, and
its verdicts are stored apart (`ReplayedRelease`), never counted as the gate's.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from metrics.exceptions import GateChangedSinceReplay, NothingToReplay, ReplayNotFinished, ReplayRefused
from metrics.formatting import number, percent
from metrics.models.gate import (
    DecidedBy,
    Gate,
    GateMetric,
    ObservedMetric,
    Outcome,
    Release,
    judge_release,
)
from metrics.models.indicator import Indicator
from metrics.models.metric import Metric
from metrics.models.trained_model import TrainedModel, figures_of
from metrics.models.verdict import Reason, Verdict, VerdictState, reasons_for, state_of
from predictor import charts
from predictor import replay as replaying
from predictor.columns import ROLLBACK, IndicatorColumns
from predictor.explain import Leaf
from predictor.training import (
    MIN_INDICATORS,
    MIN_PER_DECISION,
    NotEnoughDataError,
    TrainingDataError,
    TrainingResult,
    fit_decision_tree,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    import numpy as np
    from django.contrib.auth.models import AnonymousUser, User

# A release is replayed for at most a day of minutes.
LONGEST_REPLAY_MINUTES = 1_440
# The most releases one replay judges (the newest ones in its range).
MAX_REPLAY_RELEASES = 1_000
# Below this many releases judged of each outcome, the report says it rests on too little.
MIN_RELEASES_PER_OUTCOME = 10
# The settings a what-if may change: the gate's thresholds, and each metric's part in it.
GATE_KNOBS = ("pass_score", "marginal_score")
METRIC_KNOBS = ("weight", "critical", "failure_limit", "inconclusive_limit", "rollback_threshold", "rollout_threshold")
# Of those, the ones that are the metric's own (shared with its other gates and its verdicts).
METRIC_OWN_KNOBS = ("rollback_threshold", "rollout_threshold")
# The metric's verdict settings a replay judges its observations by.
METRIC_SETTINGS = ("rollback_threshold", "rollout_threshold", "min_leaf_cases", "range_margin", "bad_direction")
GATE_METRIC_SETTINGS = ("weight", "critical", "observe_only", "judged_on", "failure_limit", "inconclusive_limit")
GATE_SETTINGS = ("pass_score", "marginal_score", "missing_after_minutes", "missing_means", "pull_interval_seconds")

# Why a release could not be judged (`ReplayedRelease.not_judged`).
NO_MODEL = "no_model"  # a counted metric had too few indicators before it to train a model
NO_OBSERVATION = "no_observation"  # a counted metric was never observed in the release
BAD_DATA = "bad_data"  # a counted metric's indicators before it could not be learnt from


def gate_rules(gate: Gate) -> dict[str, Any]:
    """The rules `gate` judges its releases by now, as a replay keeps them: its thresholds and
    missing-data rule, and each metric's part (weight, critical, limits) with the metric's own
    verdict settings."""
    items = gate.gate_metrics.select_related("metric").order_by("pk")
    return {
        **{name: getattr(gate, name) for name in GATE_SETTINGS},
        "metrics": [
            {
                "metric": item.metric_id,
                "name": item.metric.name,
                **{name: getattr(item, name) for name in GATE_METRIC_SETTINGS},
                **{name: getattr(item.metric, name) for name in METRIC_SETTINGS},
            }
            for item in items
        ],
    }


class ReplayQuerySet(models.QuerySet["Replay"]):
    def visible_to(self, user: User | AnonymousUser) -> ReplayQuerySet:
        """As visible as the gates: to every active account."""
        if user.is_authenticated and user.is_active:
            return self.all()
        return self.none()

    def start(
        self,
        gate: Gate,
        user: User,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        send_to_worker: bool = True,
    ) -> Replay:
        """Replay `gate`'s releases with an outcome started in [`since`, `until`) (all, by default)
        under its rules now, as a job with progress. Only its owner may; raises `ReplayRefused`
        otherwise, and `NothingToReplay` when no release in range has an outcome."""
        from metrics.models.job import Job

        if not gate.can_change(user):
            raise ReplayRefused(gate)
        if since is not None and until is not None and since >= until:
            raise ValidationError({"until": gettext("The end of the range must come after its start.")})
        if not releases_in_range(gate, since, until).exists():
            raise NothingToReplay(gate, ranged=since is not None or until is not None)
        with transaction.atomic():
            replay = self.create(gate=gate, requested_by=user, since=since, until=until, rules=gate_rules(gate))
            Job.objects.enqueue_replay(replay, user, send_to_worker=send_to_worker)
        return replay

    def of_gate(self, gate: Gate) -> ReplayQuerySet:
        """Its replays, newest first, with who asked."""
        return self.filter(gate=gate).select_related("requested_by").order_by("-created_at", "-pk")

    def with_jobs(self) -> ReplayQuerySet:
        """With each replay's jobs read at once, newest first, as `Replay.job` gives them: a list
        of replays reads them in one query, not one per replay."""
        from metrics.models.job import Job

        jobs = Job.objects.listed().order_by("-created_at", "-pk")
        return self.prefetch_related(models.Prefetch("jobs", queryset=jobs, to_attr="newest_jobs"))


def releases_in_range(gate: Gate, since: datetime | None, until: datetime | None) -> models.QuerySet[Release]:
    """The gate's releases with an outcome started in [since, until), oldest first."""
    releases = gate.releases.exclude(outcome="")
    if since is not None:
        releases = releases.filter(started_at__gte=since)
    if until is not None:
        releases = releases.filter(started_at__lt=until)
    return releases.order_by("started_at", "pk")


class Replay(models.Model):
    """One replay of a gate over past releases, with the rules it used and, once it ran, its report."""

    gate = models.ForeignKey(Gate, on_delete=models.CASCADE, related_name="replays", verbose_name=_("gate"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("asked by")
    )
    created_at = models.DateTimeField(_("asked at"), default=timezone.now)
    # The releases it replays: those with an outcome started in [since, until) (None: no bound);
    # a what-if replays the releases of the replay it is compared with.
    since = models.DateTimeField(_("releases started from"), null=True, blank=True)
    until = models.DateTimeField(_("releases started before"), null=True, blank=True)
    compared_with = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="what_ifs",
        verbose_name=_("compared with"),
    )
    # The rules it judged by (`gate_rules`), and what a what-if changed of its compared replay's:
    # {"pass_score": 70, "metrics": {"<metric id>": {"weight": 2}}}.
    rules = models.JSONField(default=dict)
    changes = models.JSONField(default=dict, blank=True)
    # Its figures (`replay_figures`), once it ran.
    report = models.JSONField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # When its settings were applied to the gate, and by whom (`GateChange` keeps what changed).
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    objects = ReplayQuerySet.as_manager()

    class Meta:
        verbose_name = _("replay")
        verbose_name_plural = _("replays")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["gate", "-created_at"], name="replay_gate_newest")]

    def __str__(self) -> str:
        return gettext("Replay %(number)s of “%(gate)s”") % {"number": self.pk, "gate": self.gate.name}

    def get_absolute_url(self) -> str:
        return reverse("metrics:replay", args=[self.pk])

    def can_change(self, user: User | AnonymousUser) -> bool:
        """Trying other settings on it, and applying them, are the gate owner's."""
        return self.gate.can_change(user)

    @property
    def is_what_if(self) -> bool:
        return bool(self.changes)

    def worded_changes(self) -> list[tuple[str, str, str]]:
        """What this what-if changed of the replay it is compared with: (what, then, now), in words."""
        if self.compared_with is None:
            return []
        return worded_differences(self.compared_with.rules, self.rules)

    @property
    def is_finished(self) -> bool:
        return self.report is not None

    @property
    def job(self) -> Any:
        """The job that runs (or ran) it."""
        jobs = getattr(self, "newest_jobs", None)  # read with the replays (`with_jobs`)
        if jobs is not None:
            return jobs[0] if jobs else None
        return self.jobs.order_by("-created_at", "-pk").first()

    def releases_to_replay(self) -> models.QuerySet[Release]:
        """What it replays: a what-if, the releases its compared replay replayed (that still
        exist, with an outcome); otherwise the gate's in its range. The newest `MAX_REPLAY_RELEASES`."""
        if self.compared_with_id is not None:
            replayed = ReplayedRelease.objects.filter(replay_id=self.compared_with_id).values("release")
            releases: models.QuerySet[Release] = Release.objects.filter(pk__in=replayed).exclude(outcome="")
        else:
            releases = releases_in_range(self.gate, self.since, self.until)
        newest = list(releases.order_by("-started_at", "-pk").values_list("pk", flat=True)[:MAX_REPLAY_RELEASES])
        return Release.objects.filter(pk__in=newest).order_by("started_at", "pk")

    # What-if -----------------------------------------------------------------------------

    def what_if(self, user: User, changes: Mapping[str, Any], *, send_to_worker: bool = True) -> Replay:
        """The same releases replayed with some settings changed (`changes`: any of `GATE_KNOBS`,
        and under "metrics" a mapping of metric id to any of `METRIC_KNOBS`), to be read side by
        side with this one. Only the gate's owner may; a metric's own thresholds only where they
        may change that metric's settings. Raises `ValidationError` for a setting out of bounds
        or a metric not in the replay, `ReplayRefused` for anyone else, `ReplayNotFinished` before
        the replay it is compared with has run."""
        from metrics.models.job import Job

        if not self.can_change(user):
            raise ReplayRefused(self.gate)
        base = self.compared_with if self.is_what_if and self.compared_with is not None else self
        if not base.is_finished:  # it replays the releases `base` replayed: none are known yet
            raise ReplayNotFinished()
        rules, cleaned = rules_with_changes(base.rules, changes, user)
        if not cleaned:
            raise ValidationError(gettext("Change at least one setting to compare with these."), code="no_change")
        with transaction.atomic():
            replay = Replay.objects.create(
                gate=self.gate,
                requested_by=user,
                since=base.since,
                until=base.until,
                compared_with=base,
                rules=rules,
                changes=cleaned,
            )
            Job.objects.enqueue_replay(replay, user, send_to_worker=send_to_worker)
        return replay

    def apply(self, user: User) -> GateChange:
        """Make this replay's settings the gate's, in one step, logged as a `GateChange`: its
        thresholds, and each metric's weight, critical flag and limits (and the metric's own
        thresholds, where they differ). Refused (`ReplayRefused`) to anyone but the gate's owner,
        and to them for a metric whose settings are not theirs; `ReplayNotFinished` before it
        ran; `GateChangedSinceReplay` when the gate's metrics are not the ones it judged with."""
        if not self.can_change(user):
            raise ReplayRefused(self.gate)
        if not self.is_finished:
            raise ReplayNotFinished()
        with transaction.atomic():
            gate = Gate.objects.select_for_update().get(pk=self.gate_id)
            items = {item.metric_id: item for item in gate.gate_metrics.select_related("metric")}
            wanted = {int(rule["metric"]): rule for rule in self.rules["metrics"]}
            if set(items) != set(wanted):
                raise GateChangedSinceReplay(gate)
            before = gate_rules(gate)
            for name in GATE_KNOBS:
                setattr(gate, name, self.rules[name])
            gate.full_clean(exclude=["owner"])
            gate.save(update_fields=list(GATE_KNOBS))
            for metric_id, item in items.items():
                _apply_to_metric(item, wanted[metric_id], user)
            after = gate_rules(gate)
            now = timezone.now()
            Replay.objects.filter(pk=self.pk).update(applied_at=now)
            self.applied_at = now
            return GateChange.objects.create(
                gate=gate, replay=self, changed_by=user, changed_at=now, before=before, after=after
            )

    # Running -------------------------------------------------------------------------------

    def run(self, progress: Callable[[str, int, int], None] | None = None) -> int:
        """Replay every release (`releases_to_replay`), then store what each would have been and
        the report's figures, in one transaction (a replay run again replaces its own). Return how
        many releases it replayed. `progress(stage, done, total)` hears of each release."""
        progress = progress or (lambda stage, done, total: None)
        releases = list(self.releases_to_replay().select_related("gate"))
        judge = _Judge.from_rules(self.rules)
        progress("reading", 0, len(releases))
        history = _History.read(judge.trained_metrics(), releases)
        rows = []
        for index, release in enumerate(releases):
            progress("replaying", index, len(releases))
            rows.append(judge.replay_release(self, release, history))
        figures = replay_figures(rows, judge.withheld_as_chance, judge.judged_observations)
        with transaction.atomic():
            ReplayedRelease.objects.filter(replay=self).delete()
            ReplayedRelease.objects.bulk_create(rows)
            self.report, self.finished_at = figures, timezone.now()
            Replay.objects.filter(pk=self.pk).update(report=self.report, finished_at=self.finished_at)
        return len(rows)

    # The report, in words ------------------------------------------------------------------

    @property
    def figures(self) -> ReplayFigures:
        return ReplayFigures(self.report or {})


def _apply_to_metric(item: GateMetric, rule: Mapping[str, Any], user: User) -> None:
    """Give one gate metric the part `rule` says (weight, critical, limits), and its metric the
    thresholds it says where they differ: refused (`ReplayRefused`) when those are not `user`'s."""
    knobs = [name for name in METRIC_KNOBS if name not in METRIC_OWN_KNOBS]
    for name in knobs:
        setattr(item, name, rule[name])
    item.save(update_fields=knobs)
    metric = item.metric
    changed = [name for name in METRIC_OWN_KNOBS if getattr(metric, name) != rule[name]]
    if not changed:
        return
    if not metric.can_change_settings(user):
        raise ReplayRefused(item.gate)
    for name in changed:
        setattr(metric, name, rule[name])
    metric.save_settings(changed)


class ReplayedRelease(models.Model):
    """What the gate would have said of one past release, minute by minute, in a replay: stored
    apart from the release's own verdicts, and never counted as the gate's."""

    replay = models.ForeignKey(Replay, on_delete=models.CASCADE, related_name="replayed", verbose_name=_("replay"))
    # The release (None once deleted: the report keeps what it needs of it).
    release = models.ForeignKey(
        Release, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("release")
    )
    name = models.CharField(_("name"), max_length=100)
    version = models.CharField(_("version"), max_length=100, blank=True, default="")
    started_at = models.DateTimeField(_("started at"))
    outcome = models.CharField(_("what the team did"), max_length=12, choices=Outcome.choices)
    # When the team's decision was recorded, in minutes from the release's start.
    decided_minute = models.FloatField(_("decided at minute"), null=True, blank=True)
    # The replayed verdict (a VerdictState): rollback when it stopped the release, else the one at
    # the end of its window; "" when it could not be judged (`not_judged` says why).
    verdict = models.CharField(_("replayed verdict"), max_length=12, blank=True, default="")
    stopped_minute = models.PositiveIntegerField(_("stopped at minute"), null=True, blank=True)
    # [{"code": NO_MODEL | NO_OBSERVATION | BAD_DATA, "metric": id, "name": ..., "total", "rollbacks", "rollouts"}]
    not_judged = models.JSONField(default=list, blank=True)
    # The verdict at each minute from 1: [[state, score or None, decided_by], ...].
    minutes = models.JSONField(default=list)
    # Each counted metric's model for it: {"metric", "name", "indicators", "accuracy", "baseline", "reused"}.
    trained = models.JSONField(default=list)

    class Meta:
        verbose_name = _("replayed release")
        verbose_name_plural = _("replayed releases")
        ordering = ["started_at", "pk"]

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()

    @property
    def is_judged(self) -> bool:
        return bool(self.verdict)

    @property
    def was_caught(self) -> bool:
        return self.outcome == Outcome.ROLLBACK and self.stopped_minute is not None

    @property
    def was_caught_before_decision(self) -> bool:
        """Stopped no later than the minute the team's decision was recorded."""
        return self.was_caught and self.decided_minute is not None and (self.stopped_minute or 0) <= self.decided_minute

    @property
    def was_stopped_wrongly(self) -> bool:
        return self.outcome == Outcome.ROLLOUT and self.stopped_minute is not None

    @property
    def is_right(self) -> bool:
        return self.verdict == self.outcome

    def not_judged_words(self) -> str:
        """Why it could not be judged, in words."""
        return " ".join(not_judged_words(reason) for reason in self.not_judged)

    def as_data(self) -> dict[str, Any]:
        """What it would have been, as the API and `manage.py replay --json` give it (plain JSON
        values, times in UTC): the replayed verdict, why it could not be judged (codes, and
        words in the reader's language), and the verdict at each minute."""
        return {
            "release": self.release_id,
            "name": self.name,
            "version": self.version,
            "started_at": utc_text(self.started_at),
            "outcome": self.outcome,
            "decided_minute": self.decided_minute,
            "verdict": self.verdict or None,
            "stopped_minute": self.stopped_minute,
            "not_judged": [
                {"code": reason["code"], "metric": reason.get("metric"), "words": not_judged_words(reason)}
                for reason in self.not_judged
            ],
            "minutes": [
                {"minute": index + 1, "state": state, "score": score, "decided_by": decided_by}
                for index, (state, score, decided_by) in enumerate(self.minutes)
            ],
        }

    def timeline(self) -> dict[str, Any]:
        """Its verdict per minute as a plotly chart, with the moment the team decided, in the reader's language."""
        return charts.replay_timeline_figure(
            [point[0] for point in self.minutes],
            ["—" if point[1] is None else number(point[1]) for point in self.minutes],
            self.decided_minute,
            timeline_labels(),
        )

    def spans(self) -> list[charts.Span]:
        """Its verdict per minute, as runs of minutes in the same state (the timeline, in words)."""
        return charts.state_spans([point[0] for point in self.minutes])


def utc_text(moment: datetime) -> str:
    """ISO 8601 in UTC, "Z" for +00:00, as the API writes its times."""
    text = moment.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def timeline_labels() -> charts.TimelineLabels:
    """The words on a replayed release's timeline, in the active language."""
    return charts.TimelineLabels(
        minute=gettext("Minute"),
        rollback=gettext("Rollback"),
        inconclusive=gettext("Inconclusive"),
        rollout=gettext("Rollout"),
        score=gettext("Score"),
        decided=gettext("The team decided"),
    )


def not_judged_words(reason: Mapping[str, Any]) -> str:
    name = reason.get("name", "")
    if reason["code"] == NO_OBSERVATION:
        return gettext("“%(name)s” was never observed in it.") % {"name": name}
    if reason["code"] == BAD_DATA:
        return gettext("The indicators of “%(name)s” before it could not be learnt from.") % {"name": name}
    total = int(reason.get("total", 0))
    return ngettext(
        "“%(name)s” had no model: %(total)s indicator registered before it started (%(rollbacks)s rollbacks, "
        "%(rollouts)s rollouts), too few to train one (at least %(minimum)s, %(each)s of each decision).",
        "“%(name)s” had no model: %(total)s indicators registered before it started (%(rollbacks)s rollbacks, "
        "%(rollouts)s rollouts), too few to train one (at least %(minimum)s, %(each)s of each decision).",
        total,
    ) % {
        "name": name,
        "total": total,
        "rollbacks": reason.get("rollbacks", 0),
        "rollouts": reason.get("rollouts", 0),
        "minimum": MIN_INDICATORS,
        "each": MIN_PER_DECISION,
    }


class GateChange(models.Model):
    """Settings of a gate changed in one step from a replay's comparison: what they were and became."""

    gate = models.ForeignKey(Gate, on_delete=models.CASCADE, related_name="changes", verbose_name=_("gate"))
    replay = models.ForeignKey(
        Replay, on_delete=models.SET_NULL, null=True, related_name="applications", verbose_name=_("from the replay")
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("changed by")
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    before = models.JSONField(default=dict)  # gate_rules() before, and after
    after = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("gate settings change")
        verbose_name_plural = _("gate settings changes")
        ordering = ["-changed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.gate.name}: {self.changed_at:%Y-%m-%d %H:%M}"

    def differences(self) -> list[tuple[str, Any, Any]]:
        """(what, in words, before, after) for each setting it changed: ("Error rate: weight", 1, 2)."""
        return [
            (f"{metric}: {_field_of(name).verbose_name}" if metric else str(_field_of(name).verbose_name), old, new)
            for metric, name, old, new in rule_differences(self.before, self.after)
        ]

    def worded_differences(self) -> list[tuple[str, str, str]]:
        """(what, before, after) for each setting it changed, in words."""
        return worded_differences(self.before, self.after)


def rule_differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, str, Any, Any]]:
    """(metric name, or "" for the gate's own; setting; before; after) for each setting a what-if
    may change (`GATE_KNOBS`, `METRIC_KNOBS`) that differs between two `gate_rules`."""
    found = [
        ("", name, before.get(name), after.get(name)) for name in GATE_KNOBS if before.get(name) != after.get(name)
    ]
    old = {int(rule["metric"]): rule for rule in before.get("metrics", [])}
    for rule in after.get("metrics", []):
        previous = old.get(int(rule["metric"]), {})
        found += [
            (rule["name"], name, previous.get(name), rule.get(name))
            for name in METRIC_KNOBS
            if previous.get(name) != rule.get(name)
        ]
    return found


def worded_differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """`rule_differences` in the reader's words: ("“Error rate”: Weight", "1", "2")."""
    worded = []
    for metric, name, old, new in rule_differences(before, after):
        setting = setting_name(name)
        if metric:
            setting = gettext("“%(metric)s”: %(setting)s") % {"metric": metric, "setting": setting}
        worded.append((setting, setting_text(name, old), setting_text(name, new)))
    return worded


def setting_name(name: str) -> str:
    """A setting a what-if may change (`GATE_KNOBS`, `METRIC_KNOBS`), as its form names it."""
    return str(capfirst(_field_of(name).verbose_name))


def _field_of(name: str) -> models.Field[Any, Any]:
    """The field a what-if setting is stored in: the gate's, the gate metric's or the metric's."""
    model = Gate if name in GATE_KNOBS else Metric if name in METRIC_OWN_KNOBS else GateMetric
    return _field(model, name)


def setting_text(name: str, value: Any) -> str:
    """A setting's value as the pages show it: thresholds as percentages, flags as yes or no."""
    if value is None:
        return gettext("no limit") if name == "inconclusive_limit" else "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if name in METRIC_OWN_KNOBS:
        return percent(value, -2)
    return number(value)


# What-if settings ---------------------------------------------------------------------------


def rules_with_changes(
    rules: Mapping[str, Any], changes: Mapping[str, Any], user: User | AnonymousUser
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`rules` with `changes` made, checked as the gate's and metrics' forms check them, and the
    changes that differ from `rules` (what the what-if is about). Raises `ValidationError`."""
    new = copy.deepcopy(dict(rules))
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    unknown = set(changes) - {*GATE_KNOBS, "metrics"}
    if unknown:
        names = ", ".join(sorted(unknown))
        errors["__all__"] = [gettext("These settings cannot be tried: %(names)s.") % {"names": names}]
    cleaned.update(_gate_changes(new, changes, errors))
    new.update(cleaned)
    if new["marginal_score"] > new["pass_score"]:
        errors.setdefault("marginal_score", []).append(gettext("The marginal score cannot be above the pass score."))
    per_metric = changes.get("metrics") or {}
    if not isinstance(per_metric, dict):
        errors.setdefault("metrics", []).append(gettext("Give each metric's settings under its id."))
        per_metric = {}
    rules_by_id = {str(rule["metric"]): rule for rule in new["metrics"]}
    for key, knobs in per_metric.items():
        rule = rules_by_id.get(str(key))
        if rule is None or not isinstance(knobs, dict):
            errors.setdefault("metrics", []).append(gettext("Metric %(id)s is not one of this replay's.") % {"id": key})
            continue
        changed = _metric_changes(rule, knobs, f"metrics.{key}", user, errors)
        if changed:
            rule.update(changed)
            cleaned.setdefault("metrics", {})[str(rule["metric"])] = changed
    if errors:
        raise ValidationError(errors)
    return new, cleaned


def _gate_changes(rules: Mapping[str, Any], changes: Mapping[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    """Of the gate's thresholds in `changes`, those that change `rules`, checked (errors noted)."""
    changed = {}
    for name in GATE_KNOBS:
        if name in changes:
            value = _checked(_field(Gate, name), changes[name], name, errors)
            if value is not None and value != rules[name]:
                changed[name] = value
    return changed


def _metric_changes(
    rule: Mapping[str, Any],
    knobs: Mapping[str, Any],
    prefix: str,
    user: User | AnonymousUser,
    errors: dict[str, list[str]],
) -> dict[str, Any]:
    """Of one metric's `knobs`, those that change its `rule`, checked (errors noted under `prefix`.name)."""
    changed = {}
    for name, raw in knobs.items():
        field_name = f"{prefix}.{name}"
        if name not in METRIC_KNOBS:
            errors.setdefault(field_name, []).append(gettext("This setting cannot be tried."))
            continue
        value = _checked(_field(Metric if name in METRIC_OWN_KNOBS else GateMetric, name), raw, field_name, errors)
        may_be_empty = name == "inconclusive_limit" and raw in (None, "")
        if (value is None and not may_be_empty) or value == rule[name]:
            continue
        if name in METRIC_OWN_KNOBS and not _may_change_settings_of(rule["metric"], user):
            message = gettext("Only the owner of “%(name)s” may change its thresholds.") % {"name": rule["name"]}
            errors.setdefault(field_name, []).append(message)
            continue
        changed[name] = value
    return changed


def _may_change_settings_of(metric_id: int, user: User | AnonymousUser) -> bool:
    metric = Metric.objects.filter(pk=metric_id).first()
    return metric is not None and metric.can_change_settings(user)


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a field")
    return field


def _checked(field: models.Field[Any, Any], raw: Any, name: str, errors: dict[str, list[str]]) -> Any:
    """`raw` as `field` stores it, run through its validators; None (with the error noted) if it cannot be."""
    if raw is None or raw == "":
        if not field.null:
            errors.setdefault(name, []).append(gettext("This setting needs a value."))
        return None
    try:
        if isinstance(field, models.BooleanField) and not isinstance(raw, bool):
            raise ValidationError(gettext("Enter true or false."))
        value = field.to_python(raw)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(gettext("Enter a finite number."))
        field.run_validators(value)
    except ValidationError as error:
        errors.setdefault(name, []).extend(error.messages)
        return None
    return value


# Reading what a replay needs ------------------------------------------------------------------


@dataclass
class _Labelled:
    """A metric's indicators, in the order they were inserted, with when each was registered and
    the release whose observation it labels (-1 for none)."""

    values: np.ndarray
    times: np.ndarray
    decisions: np.ndarray
    registered: np.ndarray  # seconds since the epoch
    labels_release: np.ndarray

    def before(self, release: Release) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What was known of the metric before `release` started: the rows registered before its
        start, and never one labelling the release itself (in time order, it could not be)."""
        known = (self.registered < release.started_at.timestamp()) & (self.labels_release != release.pk)
        return self.values[known], self.times[known], self.decisions[known]


@dataclass
class _Seen:
    """One observation of a release, as replayed."""

    metric_id: int
    at: datetime
    value: float
    minutes: float


@dataclass
class _History:
    labelled: dict[int, _Labelled]
    observations: dict[int, list[_Seen]]  # per release, oldest first
    pulled: set[tuple[int, int]]  # (release, metric) pairs pulled from a data source

    @classmethod
    def read(cls, metric_ids: Iterable[int], releases: Sequence[Release]) -> _History:
        """Every indicator of the metrics, and every observation of the releases: one query each."""
        import numpy as np

        from metrics.models.data_source import Pull
        from metrics.models.gate import Observation

        labelled = {}
        for metric_id in metric_ids:
            rows = list(
                Indicator.objects.filter(metric_id=metric_id)
                .order_by("pk")
                .values_list("value", "time", "decision", "created_at", "observation__release_id")
            )
            labelled[metric_id] = _Labelled(
                values=np.fromiter((row[0] for row in rows), dtype=float, count=len(rows)),
                times=np.fromiter((row[1] for row in rows), dtype=float, count=len(rows)),
                decisions=np.fromiter((row[2] for row in rows), dtype=int, count=len(rows)),
                registered=np.fromiter((row[3].timestamp() for row in rows), dtype=float, count=len(rows)),
                labels_release=np.fromiter(
                    (-1 if row[4] is None else row[4] for row in rows), dtype=np.int64, count=len(rows)
                ),
            )
        ids = [release.pk for release in releases]
        observations: dict[int, list[_Seen]] = {release_id: [] for release_id in ids}
        seen = (
            Observation.objects.filter(release_id__in=ids)
            .order_by("observed_at", "pk")
            .values_list("release_id", "metric_id", "observed_at", "verdict__value", "verdict__minutes")
        )
        for release_id, metric_id, at, value, minutes in seen.iterator(chunk_size=5000):
            observations[release_id].append(_Seen(metric_id, at, value, minutes))
        pulled = set(Pull.objects.filter(release_id__in=ids).values_list("release_id", "metric_id").distinct())
        return cls(labelled, observations, pulled)


# Judging -------------------------------------------------------------------------------------

# Models a replay trained, by training data: a release whose metric learnt nothing new since the
# previous one reuses its model, and so does a replay of the same releases with other settings.
_MODELS: OrderedDict[tuple[str, int | None], TrainingResult | TrainingDataError] = OrderedDict()
_MODELS_KEPT = 2_000


def _trained(
    values: np.ndarray, times: np.ndarray, decisions: np.ndarray
) -> tuple[TrainingResult | TrainingDataError, bool]:
    """The model of this training data, as `TrainedModel.objects.train` fits it (the same procedure,
    the same sample bound), and whether it was already trained (reused); or why none can be."""
    max_rows = settings.MBREAK_MAX_TRAINING_ROWS
    key = (replaying.data_fingerprint(values, times, decisions), max_rows)
    found = _MODELS.get(key)
    if found is not None:
        _MODELS.move_to_end(key)
        return found, True
    result: TrainingResult | TrainingDataError
    try:
        columns = IndicatorColumns(cast("Any", values), cast("Any", times), cast("Any", decisions))
        result = fit_decision_tree(columns, max_rows=max_rows)
    except TrainingDataError as error:
        result = error
    _MODELS[key] = result
    while len(_MODELS) > _MODELS_KEPT:
        _MODELS.popitem(last=False)
    return result, False


def as_version(metric: Metric, result: TrainingResult) -> TrainedModel:
    """A trained result as the version a verdict reads (unsaved: a replay keeps no version)."""
    return TrainedModel(metric=metric, version=0, data_version=metric.data_version, **figures_of(result))


@dataclass
class _Judge:
    """A gate's rules as a replay holds them: unsaved copies of the gate, its metrics and their
    metrics with the replay's settings, judged by the same functions as a live release."""

    gate: Gate
    items: list[GateMetric]
    withheld_as_chance: int = 0  # observations whose verdict was withheld: the model was no better than chance
    judged_observations: int = 0

    @classmethod
    def from_rules(cls, rules: Mapping[str, Any]) -> _Judge:
        gate = Gate(**{name: rules[name] for name in GATE_SETTINGS}, dry_run=False)
        metrics = Metric.objects.in_bulk([rule["metric"] for rule in rules["metrics"]])
        items = []
        for rule in rules["metrics"]:
            metric = copy.copy(metrics.get(rule["metric"]) or Metric(pk=rule["metric"], name=rule["name"]))
            for name in METRIC_SETTINGS:
                setattr(metric, name, rule[name])
            metric.refuse_stale = False  # a replay's model is trained for the release: never stale
            items.append(GateMetric(gate=gate, metric=metric, **{name: rule[name] for name in GATE_METRIC_SETTINGS}))
        return cls(gate, items)

    def trained_metrics(self) -> list[int]:
        """The metrics whose verdicts can change a release verdict: only those are trained."""
        return [item.metric_id for item in self.items if _can_change_the_verdict(item)]

    def replay_release(self, replay: Replay, release: Release, history: _History) -> ReplayedRelease:
        """What the gate would have said of `release`, minute by minute, with models trained on
        what was known before it started."""
        seen = history.observations.get(release.pk, [])
        items, states = [], {}
        models_used: list[dict[str, Any]] = []
        not_judged: list[dict[str, Any]] = []
        for item in self.items:
            observed = [each for each in seen if each.metric_id == item.metric_id]
            result = self._model_for(item, release, history, models_used, not_judged)
            if result is not None:
                states[item.metric_id] = self._states(item.metric, result, observed)
                if not observed:
                    not_judged.append({"code": NO_OBSERVATION, "metric": item.metric_id, "name": item.metric.name})
            copied = copy.copy(item)
            copied.has_model = result is not None  # type: ignore[attr-defined]
            copied.is_pulled = (release.pk, item.metric_id) in history.pulled  # type: ignore[attr-defined]
            items.append(copied)
        minutes = self._minutes(release, items, seen, states)
        stopped = next((index + 1 for index, point in enumerate(minutes) if point[0] == VerdictState.ROLLBACK), None)
        verdict = release_verdict(minutes, stopped)
        decided = (release.outcome_at - release.started_at).total_seconds() / 60 if release.outcome_at else None
        return ReplayedRelease(
            replay=replay,
            release=release,
            name=release.name,
            version=release.version,
            started_at=release.started_at,
            outcome=release.outcome,
            decided_minute=decided,
            verdict=verdict,
            stopped_minute=stopped,
            not_judged=[] if verdict else not_judged,
            minutes=minutes,
            trained=models_used,
        )

    def _model_for(
        self,
        item: GateMetric,
        release: Release,
        history: _History,
        models_used: list[dict[str, Any]],
        not_judged: list[dict[str, Any]],
    ) -> TrainingResult | None:
        """The model of a counted metric for `release`, trained on what was registered before it
        started (noted in `models_used`); None for a metric that cannot change the verdict, or
        with no model (why noted in `not_judged`)."""
        if not _can_change_the_verdict(item):
            return None
        values, times, decisions = history.labelled[item.metric_id].before(release)
        result, reused = _trained(values, times, decisions)
        named = {"metric": item.metric_id, "name": item.metric.name}
        if isinstance(result, TrainingResult):
            models_used.append(
                {
                    **named,
                    "indicators": result.n_indicators,
                    "accuracy": result.accuracy,
                    "baseline": result.baseline_accuracy,
                    "reused": reused,
                }
            )
            return result
        rollbacks = int((decisions == ROLLBACK).sum())
        not_judged.append(
            {
                "code": NO_MODEL if isinstance(result, NotEnoughDataError) else BAD_DATA,
                **named,
                "total": len(decisions),
                "rollbacks": rollbacks,
                "rollouts": len(decisions) - rollbacks,
            }
        )
        return None

    def _states(self, metric: Metric, result: TrainingResult, observed: Sequence[_Seen]) -> list[Verdict]:
        """Each observation judged by `result`'s model under the metric's replayed settings, as
        `VerdictQuerySet.give` judges a live one (`reasons_for`), as an unsaved verdict."""
        version = as_version(metric, result)
        counts = replaying.leaf_counts(
            result.model, [each.value for each in observed], [each.minutes for each in observed]
        )
        verdicts = []
        for position, each in enumerate(observed):
            leaf = Leaf(0, int(counts.rollbacks[position]), int(counts.rollouts[position]), ())
            reasons = reasons_for(metric, version, leaf, each.value, each.minutes, is_stale=False)
            leaning = VerdictState.ROLLBACK if leaf.decision == ROLLBACK else VerdictState.ROLLOUT
            self.judged_observations += 1
            if any(reason["code"] in (Reason.NOT_BETTER_THAN_BASELINE, Reason.COULD_BE_CHANCE) for reason in reasons):
                self.withheld_as_chance += 1
            verdicts.append(
                Verdict(metric=metric, value=each.value, minutes=each.minutes, state=state_of(leaning, reasons))
            )
        return verdicts

    def _minutes(
        self, release: Release, items: list[GateMetric], seen: Sequence[_Seen], states: Mapping[int, list[Verdict]]
    ) -> list[list[Any]]:
        """The release verdict at each minute of the release's window, from the observations made by then."""
        window = replay_window(release, self.gate, seen)
        positions = dict.fromkeys(states, 0)
        by_metric: dict[int, list[_Seen]] = {}
        for each in seen:
            by_metric.setdefault(each.metric_id, []).append(each)
        running: dict[int, dict[str, Any]] = {}
        points = []
        for minute in range(1, window + 1):
            now = release.started_at + timedelta(minutes=minute)
            for metric_id, verdicts in states.items():
                observed = by_metric.get(metric_id, [])
                position = positions[metric_id]
                while position < len(observed) and observed[position].at <= now:
                    verdict = verdicts[position]
                    tally = running.setdefault(metric_id, {"observations": 0, "rollback": 0, "inconclusive": 0})
                    tally["observations"] += 1
                    if verdict.state in (VerdictState.ROLLBACK, VerdictState.INCONCLUSIVE):
                        tally[verdict.state] += 1
                    tally["newest"], tally["at"] = verdict, observed[position].at
                    position += 1
                positions[metric_id] = position
            observed_metrics = {
                metric_id: ObservedMetric(
                    newest=tally["newest"],
                    observations=tally["observations"],
                    rollbacks=tally["rollback"],
                    inconclusives=tally["inconclusive"],
                    first_rollbacks=(),
                    first_inconclusives=(),
                    newest_at=tally["at"],
                )
                for metric_id, tally in running.items()
            }
            silences = release.silences(items, observed_metrics, now)
            answer = judge_release(self.gate, items, observed_metrics, float(minute), silences)
            score = None if answer.score is None else round(answer.score, 1)
            points.append([answer.state, score, answer.decided_by])
        return points


def release_verdict(minutes: Sequence[Sequence[Any]], stopped: int | None) -> str:
    """A replayed release's verdict: rollback when it was stopped; else its verdict at the end of
    its window, once it got past waiting; "" when it never did (it could not be judged)."""
    if stopped is not None:
        return VerdictState.ROLLBACK
    if minutes and any(point[2] != DecidedBy.WAITING for point in minutes):
        return str(minutes[-1][0])
    return ""


def _can_change_the_verdict(item: GateMetric) -> bool:
    return not item.observe_only and bool(item.weight or item.critical)


def replay_window(release: Release, gate: Gate, seen: Sequence[_Seen]) -> int:
    """How many minutes of `release` are replayed: to its last observation, or to the team's
    decision when that came later (but within the gate's pulling time); at least one, at most
    `LONGEST_REPLAY_MINUTES`."""
    last = max((each.at for each in seen), default=release.started_at)
    end = (last - release.started_at).total_seconds() / 60
    if release.outcome_at is not None:
        decided = (release.outcome_at - release.started_at).total_seconds() / 60
        end = max(end, min(decided, float(release.gate.pull_for_minutes)))
    return max(1, min(LONGEST_REPLAY_MINUTES, math.ceil(end)))


# The report ----------------------------------------------------------------------------------


def replay_figures(
    rows: Sequence[ReplayedRelease], withheld_as_chance: int = 0, judged_observations: int = 0
) -> dict[str, Any]:
    """What a replay's report shows, counted once from its replayed releases (kept as `Replay.report`)."""
    judged = [row for row in rows if row.is_judged]
    return {
        "releases": len(rows),
        "judged": len(judged),
        "not_judged": len(rows) - len(judged),
        **_counts(judged),
        "confusion": _confusion(rows),
        # How many releases each reason kept from being judged (a release may have several).
        "not_judged_because": {
            code: sum(1 for row in rows if any(reason["code"] == code for reason in row.not_judged))
            for code in (NO_MODEL, NO_OBSERVATION, BAD_DATA)
        },
        "judged_observations": judged_observations,
        "withheld_as_chance": withheld_as_chance,
    }


def _counts(judged: Sequence[ReplayedRelease]) -> dict[str, Any]:
    """The releases judged of each outcome, those it stopped, when, and those left to a person."""
    caught = [row for row in judged if row.was_caught]
    return {
        "bad": sum(row.outcome == Outcome.ROLLBACK for row in judged),
        "caught": len(caught),
        "caught_minutes": sorted(row.stopped_minute or 0 for row in caught),
        "caught_before_decision": sum(row.was_caught_before_decision for row in caught),
        "good": sum(row.outcome == Outcome.ROLLOUT for row in judged),
        "false_rollbacks": sum(row.was_stopped_wrongly for row in judged),
        "inconclusive": sum(row.verdict == VerdictState.INCONCLUSIVE for row in judged),
    }


def _confusion(rows: Sequence[ReplayedRelease]) -> dict[str, dict[str, int]]:
    """How many releases of each outcome got each replayed verdict (or none)."""
    confusion = {outcome: dict.fromkeys((*VerdictState.values, "not_judged"), 0) for outcome in Outcome.values}
    for row in rows:
        confusion[row.outcome][row.verdict or "not_judged"] += 1
    return confusion


# The counts of a report, in the order it gives them.
REPORT_COUNTS = ("releases", "judged", "not_judged", "bad", "caught", "good", "false_rollbacks", "inconclusive")


def rate_data(rate: replaying.Rate) -> dict[str, Any]:
    """A rate as plain JSON values: hits of trials, the share, and its interval as [low, high]."""
    interval = rate.interval
    return {
        "hits": rate.hits,
        "trials": rate.trials,
        "share": rate.share,
        "interval": None if interval is None else [interval[0], interval[1]],
    }


class ReplayFigures:
    """A replay's report read: its rates with their intervals, and what can be said of them."""

    def __init__(self, stored: Mapping[str, Any]) -> None:
        self.stored = stored
        for name in REPORT_COUNTS:
            setattr(self, name, int(stored.get(name, 0)))
        self.caught_minutes: list[int] = list(stored.get("caught_minutes", []))
        self.caught_before_decision = int(stored.get("caught_before_decision", 0))
        self.confusion: dict[str, dict[str, int]] = stored.get("confusion", {})

    releases: int
    judged: int
    not_judged: int
    bad: int
    caught: int
    good: int
    false_rollbacks: int
    inconclusive: int

    @property
    def catch_rate(self) -> replaying.Rate:
        """Of the releases the team rolled back (and the gate could judge), how many it stopped."""
        return replaying.Rate(self.caught, self.bad)

    @property
    def false_rollback_rate(self) -> replaying.Rate:
        """Of the releases the team rolled out, how many it would have stopped."""
        return replaying.Rate(self.false_rollbacks, self.good)

    @property
    def inconclusive_rate(self) -> replaying.Rate:
        """Of the releases it judged, how many it would have left to a person (paged)."""
        return replaying.Rate(self.inconclusive, self.judged)

    @property
    def median_catch_minute(self) -> float | None:
        return replaying.median(self.caught_minutes)

    @property
    def is_thin(self) -> bool:
        """Too few releases of either outcome to trust its rates."""
        return min(self.bad, self.good) < MIN_RELEASES_PER_OUTCOME

    @property
    def is_no_better_than_chance(self) -> bool:
        """It cannot be told to stop the bad releases more often than the good ones: the catch
        rate's interval reaches down to the false rollback rate's (or either is unmeasured)."""
        catch, false = self.catch_rate.interval, self.false_rollback_rate.interval
        if catch is None or false is None:
            return True
        return catch[0] <= false[1]

    @property
    def chance_share(self) -> float | None:
        """Of the observations judged, the share whose verdict was withheld: their model was no better than chance."""
        judged = int(self.stored.get("judged_observations", 0))
        return int(self.stored.get("withheld_as_chance", 0)) / judged if judged else None

    def no_model_words(self) -> str:
        """Why releases had no model, when that kept some from being judged: a replay trains on
        what was registered before each release, which history imported later is not."""
        count = int(self.stored.get("not_judged_because", {}).get(NO_MODEL, 0))
        if not count:
            return ""
        return ngettext(
            "%(count)s release had a metric with too few indicators registered before it started. A replay "
            "trains each release's models only on what was known before it: history registered later (a file "
            "imported today) does not count for earlier releases.",
            "%(count)s releases had a metric with too few indicators registered before they started. A replay "
            "trains each release's models only on what was known before it: history registered later (a file "
            "imported today) does not count for earlier releases.",
            count,
        ) % {"count": count}

    def as_data(self) -> dict[str, Any]:
        """The report as the API and `manage.py replay --json` give it (plain JSON values): its
        counts, each rate with its share and 95% Wilson interval (None on no trial), and what can
        be said of them, in the reader's language (None when it does not apply)."""
        return {
            **{name: getattr(self, name) for name in REPORT_COUNTS},
            "catch_rate": rate_data(self.catch_rate),
            "false_rollback_rate": rate_data(self.false_rollback_rate),
            "inconclusive_rate": rate_data(self.inconclusive_rate),
            "median_catch_minute": self.median_catch_minute,
            "caught_minutes": self.caught_minutes,
            "caught_before_decision": self.caught_before_decision,
            "confusion": self.confusion,
            "is_thin": self.is_thin,
            "is_no_better_than_chance": self.is_no_better_than_chance,
            "thin_words": self.thin_words() if self.is_thin else None,
            "chance_words": self.chance_words() if self.is_no_better_than_chance else None,
            "not_judged_because": {
                code: int(self.stored.get("not_judged_because", {}).get(code, 0))
                for code in (NO_MODEL, NO_OBSERVATION, BAD_DATA)
            },
            "no_model_words": self.no_model_words() or None,
        }

    def thin_words(self) -> str:
        return ngettext(
            "Too little history to trust: it rests on %(bad)s release rolled back and %(good)s rolled out; at "
            "least %(minimum)s of each are needed.",
            "Too little history to trust: it rests on %(bad)s releases rolled back and %(good)s rolled out; at "
            "least %(minimum)s of each are needed.",
            self.bad,
        ) % {"bad": self.bad, "good": self.good, "minimum": MIN_RELEASES_PER_OUTCOME}

    def chance_words(self) -> str:
        """Why the gate is no better than chance on these releases, in words."""
        catch, false = self.catch_rate.share, self.false_rollback_rate.share
        if catch is None or false is None:
            said = gettext(
                "It cannot be compared with chance: it judged no release of one of the outcomes (%(bad)s rolled "
                "back, %(good)s rolled out)."
            ) % {"bad": self.bad, "good": self.good}
        else:
            said = gettext(
                "No better than chance: it would have stopped %(catch)s of the releases rolled back and %(false)s "
                "of those rolled out, and these shares cannot be told apart at 95%% confidence."
            ) % {"catch": percent(catch), "false": percent(false)}
        chance = self.chance_share
        if chance is not None and chance >= 0.5:
            said += " " + gettext(
                "%(share)s of the observations' verdicts were withheld because the model trained before their "
                "release was no better than always answering the most common decision: its metrics do not tell "
                "these releases apart."
            ) % {"share": percent(chance)}
        return said
