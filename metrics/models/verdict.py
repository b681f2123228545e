from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from metrics.exceptions import FeedbackAlreadyGiven, LabelledByOutcome
from metrics.formatting import grouped, number, percent
from metrics.models.indicator import Indicator
from metrics.models.metric import BadDirection, Decision, Metric
from predictor.charts import ChartLabels, Observation, with_observation
from predictor.columns import ROLLBACK, ROLLOUT
from predictor.explain import Condition
from predictor.nearest import nearest_positions

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from metrics.models.data_source import Pull
    from metrics.models.gate import Release
    from metrics.models.trained_model import TrainedModel
    from predictor.explain import Leaf

NEAREST_CASES = 5


class VerdictState(models.TextChoices):
    ROLLBACK = "rollback", _("Rollback")
    ROLLOUT = "rollout", _("Rollout")
    INCONCLUSIVE = "inconclusive", _("Inconclusive")


class Reason(models.TextChoices):
    """Why a verdict is inconclusive (or, beyond the data on the metric's bad side, a rollback).
    Stored with their figures, worded when shown (in the reader's language)."""

    # The value lies beyond anything the model has seen, on the side the metric's owner says is
    # bad: a rollback however the tree leans (the only reason such a verdict keeps).
    BEYOND_BAD_SIDE = "beyond_bad_side"
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    MINUTES_OUT_OF_RANGE = "minutes_out_of_range"
    FEW_CASES = "few_cases"
    WEAK_MAJORITY = "weak_majority"
    NOT_BETTER_THAN_BASELINE = "no_better_than_baseline"
    # Better than the baseline as measured, but not beyond chance (see `TrainedModel.is_better_than_baseline`).
    COULD_BE_CHANCE = "could_be_chance"
    STALE = "stale"


class Source(models.TextChoices):
    WEB = "web", _("web")
    API = "api", _("API")
    COMMAND = "command", _("command line")
    PULL = "pull", _("pulled from a data source")


class VerdictQuerySet(models.QuerySet["Verdict"]):
    def give(
        self, metric: Metric, model: TrainedModel, value: float, minutes: float, user: User | None, source: str
    ) -> Verdict:
        """Judge an observation with `model` under `metric`'s settings, and log the verdict.

        Raises `ModelUnusable` when the model cannot be trusted on this server.
        """
        tree = model.compiled_tree(requested_by=user)
        leaf = tree.leaf_for(value, minutes)
        is_stale = model.data_version != metric.data_version
        reasons = reasons_for(metric, model, leaf, value, minutes, is_stale)
        decision = VerdictState.ROLLBACK if leaf.decision == ROLLBACK else VerdictState.ROLLOUT
        return self.create(
            metric=metric,
            model=model,
            model_version=model.version,
            model_accuracy=model.accuracy,
            value=value,
            minutes=minutes,
            state=state_of(decision, reasons),
            leaning=decision,
            reasons=reasons,
            leaf_rollbacks=leaf.rollbacks,
            leaf_rollouts=leaf.rollouts,
            conditions=[[c.feature, c.lower, c.upper] for c in leaf.conditions],
            nearest=nearest_cases(model, value, minutes),
            is_stale=is_stale,
            thresholds={
                "rollback_threshold": metric.rollback_threshold,
                "rollout_threshold": metric.rollout_threshold,
                "min_leaf_cases": metric.min_leaf_cases,
                "range_margin": metric.range_margin,
                "refuse_stale": metric.refuse_stale,
                "bad_direction": metric.bad_direction,
            },
            asked_by=user,
            source=source,
        )

    def newest_first(self) -> VerdictQuerySet:
        return self.select_related("asked_by", "feedback_by").order_by("-asked_at", "-pk")

    def feedback_summary(self) -> dict[str, int]:
        """Among verdicts with feedback: how many were confirmed, overridden, or were inconclusive."""
        decided = self.filter(decided__isnull=False)
        rolled_back = Q(decided=Decision.ROLLBACK)
        return decided.aggregate(
            with_feedback=Count("pk"),
            confirmed=Count(
                "pk",
                filter=(Q(state=VerdictState.ROLLBACK) & rolled_back) | (Q(state=VerdictState.ROLLOUT) & ~rolled_back),
            ),
            overridden=Count(
                "pk",
                filter=(Q(state=VerdictState.ROLLBACK) & ~rolled_back) | (Q(state=VerdictState.ROLLOUT) & rolled_back),
            ),
            after_inconclusive=Count("pk", filter=Q(state=VerdictState.INCONCLUSIVE)),
        )

    def counts_by_metric_and_state(self) -> models.QuerySet[Verdict, dict[str, Any]]:
        """How many verdicts each metric gave in each state, in one query: rows of `metric_id`,
        `metric__name`, `state` and `count` (a metric with none has no row)."""
        return self.order_by().values("metric_id", "metric__name", "state").annotate(count=Count("pk"))


def state_of(decision: VerdictState, reasons: list[dict[str, Any]]) -> VerdictState:
    """The verdict given: rollback beyond the data on the bad side, inconclusive for any other
    reason, the leaf's decision otherwise."""
    if any(reason["code"] == Reason.BEYOND_BAD_SIDE for reason in reasons):
        return VerdictState.ROLLBACK
    return VerdictState.INCONCLUSIVE if reasons else decision


def reasons_for(
    metric: Metric, model: TrainedModel, leaf: Leaf, value: float, minutes: float, is_stale: bool
) -> list[dict[str, Any]]:
    """Why an observation landing in `leaf` does not simply get the leaf's decision: beyond the
    data on the metric's bad side (a rollback), or every reason to withhold it (`judge`). What a
    live verdict and a replayed one are both judged by."""
    bad_side = beyond_bad_side(metric, model, value)
    return [bad_side] if bad_side is not None else judge(metric, model, leaf, value, minutes, is_stale)


def out_of_range_margin(metric: Metric, low: float, high: float) -> float:
    """How far beyond [low, high] an observation may lie before it is out of range: the
    metric's margin, as a share of the range (of the bound itself for a single value)."""
    return float(metric.range_margin * ((high - low) or abs(high) or 1.0))


def beyond_bad_side(metric: Metric, model: TrainedModel, value: float) -> dict[str, Any] | None:
    """The reason a value is a rollback whatever the tree says, when it lies beyond anything
    `model` has seen (by the out-of-range margin) on the side `metric`'s owner says is bad;
    None otherwise (on the good side, or for a metric bad either way, it is inconclusive)."""
    low, high = model.value_min, model.value_max
    if low is None or high is None or metric.bad_direction == BadDirection.EITHER:
        return None
    margin = out_of_range_margin(metric, low, high)
    is_beyond = value > high + margin if metric.bad_direction == BadDirection.HIGHER else value < low - margin
    if not is_beyond:
        return None
    return {
        "code": Reason.BEYOND_BAD_SIDE,
        "observed": value,
        "low": low,
        "high": high,
        "direction": metric.bad_direction,
    }


def judge(
    metric: Metric, model: TrainedModel, leaf: Leaf, value: float, minutes: float, is_stale: bool
) -> list[dict[str, Any]]:
    """Every reason to withhold the leaf's decision, with the figures that show it."""
    reasons: list[dict[str, Any]] = []
    for code, observed, low, high in (
        (Reason.VALUE_OUT_OF_RANGE, value, model.value_min, model.value_max),
        (Reason.MINUTES_OUT_OF_RANGE, minutes, model.minutes_min, model.minutes_max),
    ):
        if low is None or high is None:
            continue  # a version trained before its range was kept
        margin = out_of_range_margin(metric, low, high)
        if not low - margin <= observed <= high + margin:
            reasons.append({"code": code, "observed": observed, "low": low, "high": high})
    return [*reasons, *leaf_reasons(metric, leaf), *model_reasons(metric, model, is_stale)]


def leaf_reasons(metric: Metric, leaf: Leaf) -> list[dict[str, Any]]:
    """The reasons to withhold a leaf's decision that depend on the leaf alone."""
    reasons: list[dict[str, Any]] = []
    if leaf.cases < metric.min_leaf_cases:
        reasons.append({"code": Reason.FEW_CASES, "cases": leaf.cases, "minimum": metric.min_leaf_cases})
    threshold = metric.rollback_threshold if leaf.decision == ROLLBACK else metric.rollout_threshold
    if leaf.share < threshold:
        reasons.append(
            {"code": Reason.WEAK_MAJORITY, "share": leaf.share, "threshold": threshold, "decision": leaf.decision}
        )
    return reasons


def model_reasons(metric: Metric, model: TrainedModel, is_stale: bool) -> list[dict[str, Any]]:
    """The reasons to withhold every decision of `model`, whatever the observation."""
    reasons: list[dict[str, Any]] = []
    baseline = model.baseline_accuracy
    if baseline is not None and model.accuracy <= baseline:
        reasons.append({"code": Reason.NOT_BETTER_THAN_BASELINE, "accuracy": model.accuracy, "baseline": baseline})
    elif baseline is not None and not model.is_better_than_baseline:
        reasons.append(
            {
                "code": Reason.COULD_BE_CHANCE,
                "accuracy": model.accuracy,
                "cases": model.n_trained_on,
                "lower_bound": model.accuracy_lower_bound,
                "baseline": baseline,
            }
        )
    if is_stale and metric.refuse_stale:
        reasons.append({"code": Reason.STALE})
    return reasons


@dataclass(frozen=True)
class Rule:
    """A leaf of a version's tree as a verdict landing in it would read under its metric's
    settings now (an observation outside the range seen aside)."""

    leaf: Leaf
    reasons: list[dict[str, Any]]  # the leaf's own (see `leaf_reasons`)
    is_withheld_by_version: bool  # the version's own reasons (see `model_reasons`) withhold every leaf

    @property
    def leaning(self) -> VerdictState:
        return VerdictState.ROLLBACK if self.leaf.decision == ROLLBACK else VerdictState.ROLLOUT

    @property
    def state(self) -> VerdictState:
        return VerdictState.INCONCLUSIVE if self.reasons or self.is_withheld_by_version else self.leaning

    @property
    def is_inconclusive(self) -> bool:
        return self.state == VerdictState.INCONCLUSIVE

    def reason_texts(self) -> list[str]:
        return [reason_text(reason) for reason in self.reasons]


def rules_of(metric: Metric, leaves: list[Leaf], version_reasons: list[dict[str, Any]]) -> list[Rule]:
    """`leaves` labelled as verdicts would be: inconclusive for a leaf's own reasons or the version's."""
    return [Rule(leaf, leaf_reasons(metric, leaf), is_withheld_by_version=bool(version_reasons)) for leaf in leaves]


def nearest_cases(model: TrainedModel, value: float, minutes: float) -> list[dict[str, Any]]:
    """The past indicators nearest to the observation (among the version's sample: all of the
    data up to `MBREAK_CHART_MAX_POINTS` rows), with who registered them and when, as the
    version was trained."""
    sample = model.sample()
    value_scale = ((model.value_max or 0) - (model.value_min or 0)) or 1.0
    minutes_scale = ((model.minutes_max or 0) - (model.minutes_min or 0)) or 1.0
    values, times = sample.arrays
    chosen = nearest_positions(values, times, value, minutes, (value_scale, minutes_scale), NEAREST_CASES)
    if sample.registered_by is not None and sample.registered_at is not None:
        registered = [(sample.registered_by[position], sample.registered_at[position]) for position in chosen]
    else:
        registered = Indicator.objects.registrations([sample.ids[position] for position in chosen])
    return [
        {
            "value": sample.columns.values[position],
            "minutes": sample.columns.times[position],
            "decision": sample.columns.decisions[position],
            "registered_by": registered_by,
            "registered_at": registered_at,
        }
        for position, (registered_by, registered_at) in zip(chosen, registered, strict=True)
    ]


class Verdict(models.Model):
    """A verdict as it was given: kept unchanged (but for the feedback) whatever happens to the model."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="verdicts", verbose_name=_("metric"))
    # The version may be deleted by staff; what the verdict needs of it is copied below.
    model = models.ForeignKey(
        "metrics.TrainedModel", on_delete=models.SET_NULL, null=True, related_name="verdicts", verbose_name=_("model")
    )
    model_version = models.PositiveIntegerField(_("model version"))
    model_accuracy = models.FloatField(_("held-out accuracy"))
    value = models.FloatField(_("value"))
    minutes = models.FloatField(_("time (minutes)"))
    state = models.CharField(_("verdict"), max_length=12, choices=VerdictState.choices)
    # The leaf's decision, also when the verdict is inconclusive.
    leaning = models.CharField(max_length=12, choices=VerdictState.choices)
    reasons = models.JSONField(default=list)
    leaf_rollbacks = models.PositiveIntegerField()
    leaf_rollouts = models.PositiveIntegerField()
    conditions = models.JSONField(default=list)  # [[feature, lower, upper], ...]: the path as ranges
    nearest = models.JSONField(default=list)
    is_stale = models.BooleanField(default=False)
    thresholds = models.JSONField(default=dict)  # the metric's settings when it was given
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="verdicts",
        verbose_name=_("asked by"),
    )
    asked_at = models.DateTimeField(_("asked at"), default=timezone.now)
    source = models.CharField(_("from"), max_length=8, choices=Source.choices, default=Source.WEB)
    # Feedback: what was actually decided, recorded once, as an indicator of the metric.
    decided = models.PositiveSmallIntegerField(_("actually decided"), null=True, choices=Decision.choices)
    feedback_note = models.TextField(_("note"), blank=True, default="")
    NOTE_MAX_LENGTH = 2000  # a feedback note's, on the page and in the API
    feedback_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("feedback by")
    )
    feedback_at = models.DateTimeField(_("feedback at"), null=True)
    feedback_indicator = models.OneToOneField(
        Indicator, on_delete=models.SET_NULL, null=True, related_name="verdict", verbose_name=_("indicator")
    )

    objects = VerdictQuerySet.as_manager()

    class Meta:
        verbose_name = _("verdict")
        verbose_name_plural = _("verdicts")
        indexes = [models.Index(fields=["metric", "-asked_at"], name="verdict_metric_newest")]

    def __str__(self) -> str:
        return f"{self.metric.name}: {self.get_state_display()} ({self.asked_at:%Y-%m-%d %H:%M})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValueError("A verdict is kept as it was given; only add_feedback changes it.")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("metrics:verdict", args=[self.pk])

    @cached_property
    def provenance(self) -> Pull | None:
        """For a verdict on a value pulled from a data source, the pull that read it (its source,
        the query as sent, the sample's time, the canary's and baseline's raw numbers)."""
        if self.source != Source.PULL:
            return None
        from metrics.models.data_source import Pull

        return (
            Pull.objects.select_related("source", "release", "metric__store_query")
            .filter(observation__verdict=self)
            .first()
        )

    @property
    def is_rollback(self) -> bool:
        return self.state == VerdictState.ROLLBACK

    @property
    def is_inconclusive(self) -> bool:
        return self.state == VerdictState.INCONCLUSIVE

    @property
    def is_beyond_bad_side(self) -> bool:
        """Rolled back because the value lies beyond anything seen on the metric's bad side."""
        return bool(self.reasons) and state_of(VerdictState.INCONCLUSIVE, self.reasons) == VerdictState.ROLLBACK

    @property
    def bad_direction(self) -> str:
        """The metric's bad direction when the verdict was given ("either" before it was kept)."""
        return str(self.thresholds.get("bad_direction", BadDirection.EITHER))

    @property
    def bad_direction_display(self) -> str:
        return str(BadDirection(self.bad_direction).label)

    @property
    def leaf_cases(self) -> int:
        return self.leaf_rollbacks + self.leaf_rollouts

    @property
    def leaning_cases(self) -> int:
        """How many of the similar past cases took the decision the leaf leans to."""
        return self.leaf_rollbacks if self.leaning == VerdictState.ROLLBACK else self.leaf_rollouts

    @cached_property
    def path(self) -> list[Condition]:
        """The tree's path to the verdict's leaf: read once per verdict (its conditions never change)."""
        return [Condition(feature, lower, upper) for feature, lower, upper in self.conditions]

    def figure(self, labels: ChartLabels) -> dict[str, Any] | None:
        """Its model version's decision regions with this observation marked (None if that version is gone)."""
        figure = self.model.regions_figure(labels) if self.model is not None else None
        if figure is None:
            return None
        decision = {VerdictState.ROLLBACK: ROLLBACK, VerdictState.ROLLOUT: ROLLOUT}.get(VerdictState(self.state))
        return with_observation(figure, Observation(value=self.value, minutes=self.minutes, decision=decision), labels)

    def reason_texts(self) -> list[str]:
        """The reasons, in words, in the active language."""
        return [reason_text(reason) for reason in self.reasons]

    @property
    def agreement(self) -> str:
        """ "confirmed", "overridden", "after_inconclusive", or "" without feedback."""
        if self.decided is None:
            return ""
        if self.is_inconclusive:
            return "after_inconclusive"
        confirmed = (self.decided == Decision.ROLLBACK) == (self.state == VerdictState.ROLLBACK)
        return "confirmed" if confirmed else "overridden"

    @property
    def labelled_by(self) -> Release | None:
        """The release whose outcome labelled its observation (its labels not undone), if any."""
        label = Indicator.objects.filter(observation__verdict=self).select_related("observation__release").first()
        return label.observation.release if label is not None and label.observation is not None else None

    def can_give_feedback(self, user: User | AnonymousUser) -> bool:
        """Who asked, and the metric's owner, know what was decided."""
        return user.is_authenticated and user.pk in (self.asked_by_id, self.metric.owner_id)

    def add_feedback(self, decided: int, note: str, user: User) -> Indicator:
        """Record what was actually decided: one labelled indicator of the metric, which the next
        training learns from. Raises `PermissionDenied` for another user, `FeedbackAlreadyGiven` once given,
        `LabelledByOutcome` when its observation is labelled by its release's outcome (one point has
        one label: the release's outcome is changed, or its labels undone, instead), `MetricDeleted`
        if the metric was deleted meanwhile."""
        if not self.can_give_feedback(user):
            raise PermissionDenied(
                gettext("Only who asked for this verdict, or the metric's owner, may say what was decided.")
            )
        with transaction.atomic():
            # The metric first, then the verdict, as deleting the metric takes them: two
            # requests never each hold the lock the other waits for.
            self.metric._lock()
            locked = Verdict.objects.select_for_update().get(pk=self.pk)
            if locked.decided is not None:
                raise FeedbackAlreadyGiven(locked)
            # Under the same locks as `Release._label`: of an outcome and a feedback at once, the
            # second sees the first's label.
            if (release := locked.labelled_by) is not None:
                raise LabelledByOutcome(locked, release)
            indicator = self.metric.add_indicator(value=self.value, decision=decided, time=self.minutes, user=user)
            self.decided, self.feedback_note, self.feedback_by = decided, note, user
            self.feedback_at, self.feedback_indicator = timezone.now(), indicator
            super().save(update_fields=["decided", "feedback_note", "feedback_by", "feedback_at", "feedback_indicator"])
        return indicator


def reason_text(reason: dict[str, Any]) -> str:
    code = reason["code"]
    if code == Reason.BEYOND_BAD_SIDE:
        words = (
            gettext(
                "The value %(observed)s is beyond anything seen, on the bad side: higher is worse, and the model "
                "has seen %(low)s to %(high)s."
            )
            if reason["direction"] == BadDirection.HIGHER
            else gettext(
                "The value %(observed)s is beyond anything seen, on the bad side: lower is worse, and the model "
                "has seen %(low)s to %(high)s."
            )
        )
        return words % {
            "observed": number(reason["observed"]),
            "low": number(reason["low"]),
            "high": number(reason["high"]),
        }
    if code == Reason.VALUE_OUT_OF_RANGE:
        return gettext("The value %(observed)s lies outside what the model has seen (%(low)s to %(high)s).") % {
            "observed": number(reason["observed"]),
            "low": number(reason["low"]),
            "high": number(reason["high"]),
        }
    if code == Reason.MINUTES_OUT_OF_RANGE:
        return gettext(
            "The time, %(observed)s minutes, lies outside what the model has seen (%(low)s to %(high)s minutes)."
        ) % {"observed": number(reason["observed"]), "low": number(reason["low"]), "high": number(reason["high"])}
    if code == Reason.FEW_CASES:
        return gettext("Only %(cases)d similar past cases decide it; at least %(minimum)d are needed.") % reason
    if code == Reason.WEAK_MAJORITY:
        words = (
            gettext("Only %(share)s of similar past cases were rolled back; a rollback needs %(threshold)s.")
            if reason["decision"] == ROLLBACK
            else gettext("Only %(share)s of similar past cases were rolled out; a rollout needs %(threshold)s.")
        )
        # The share is below the threshold: shown rounded down, it cannot read as reaching it
        # (79.99% of cases against 80% is "79.9%", not "80.0%").
        share = math.floor(round(reason["share"] * 1000, 6)) / 1000
        return words % {"share": percent(share), "threshold": percent(reason["threshold"])}
    if code == Reason.NOT_BETTER_THAN_BASELINE:
        return gettext(
            "The model is no better on data it did not see (%(accuracy)s) than always answering the most "
            "common decision (%(baseline)s)."
        ) % {"accuracy": percent(reason["accuracy"]), "baseline": percent(reason["baseline"])}
    if code == Reason.COULD_BE_CHANCE:
        return gettext(
            "The model's accuracy, %(accuracy)s on %(cases)s cases, could be chance: at 95%% confidence it is "
            "only above %(lower_bound)s, and always answering the most common decision scores %(baseline)s."
        ) % {
            "accuracy": percent(reason["accuracy"]),
            "cases": grouped(reason["cases"]),
            "lower_bound": percent(reason["lower_bound"]),
            "baseline": percent(reason["baseline"]),
        }
    if code == Reason.STALE:
        return gettext("The data changed since this model was trained, and this metric refuses stale models.")
    return str(code)
