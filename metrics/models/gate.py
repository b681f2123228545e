"""Gates and releases: the verdict on a deployment, over several metrics at once.

A *gate* is a named set of metrics, each with a weight, a `critical` flag (its rollback
vetoes the release) and an `observe_only` flag (its verdict is logged and shown, never
counted), and two score thresholds on 0 to 100, as Kayenta's canary judge has them: a
score at or above `pass_score` rolls out, one below `marginal_score` rolls back, and one in
between is inconclusive (a person decides).

A *release* is one deployment judged by a gate: the pipeline pushes observations (a
metric's value, some minutes after the release started), each judged by the metric's own
model as a logged `Verdict`, and asks for the release verdict. Each gate metric is judged
over the whole release (`over_the_release`: a failure limit, as Argo Rollouts', keeps a
metric rolled back once it is exceeded) or on its newest value; a critical metric's
inconclusive verdict keeps a passing score from rolling out; a metric not observed in time
is missing; and a gate in dry run answers rollout while its real verdict is kept and shown.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import DatabaseError, IntegrityError, models, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Window
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from metrics.csv_io import LARGEST_NUMBER, MAX_FILL_RELEASES, PastRelease
from metrics.exceptions import DomainError, InvalidReleaseKey, NotInGate, OutcomeRefused, ReleaseKeyTaken
from metrics.formatting import minutes as minutes_words
from metrics.models.data_source import (
    VALUE_TOO_LARGE,
    MetricQuery,
    Pull,
    PullingEnded,
    PullOutcome,
    Variables,
    queries_sent,
    store_error_words,
)
from metrics.models.indicator import ImportBatch, Indicator
from metrics.models.metric import FILL_FROM_RELEASES, Decision, Labelled, Metric, ReleasesToFill
from metrics.models.trained_model import TrainedModel
from metrics.models.verdict import Source, Verdict, VerdictState
from stores.errors import Kind, NoData, StoreError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from django.contrib.auth.models import AnonymousUser, User

    from metrics.models.notification import WebhookQuerySet

logger = logging.getLogger(__name__)

# Weights are relative; this bound keeps their sum, and so the score, a finite number.
LARGEST_WEIGHT = 1_000_000
# How far ahead of this server's clock a release's start may be (the pipeline's clock).
ALLOWED_CLOCK_SKEW = timedelta(minutes=5)
# A release page shows this many of the newest verdicts answered (a pipeline may poll for hours).
HISTORY_POINTS = 200
# The longest a gate may wait for a metric's first observation (a year), and the most
# failures a gate metric may tolerate: bounds that keep every database's integers and floats.
LONGEST_WAIT_MINUTES = 525_600
LARGEST_LIMIT = 10_000
# A release key: Flagger's "namespace/name@checksum" is at most 63 + 1 + 253 + 1 + 64.
KEY_MAX_LENGTH = 400
# The most observations a limit names as its cause (the first ones over it): the JSON stays small.
SHOWN_CAUSES = 10
# How often, and for how long, a release's bound metrics may be pulled (a week at most).
SHORTEST_PULL_INTERVAL = 10
LONGEST_PULL_INTERVAL = 3_600
LONGEST_PULL_MINUTES = 10_080
# A release claimed for a pull is held this long by the task that claimed it: a pull whose
# worker died leaves the release due again afterwards, and no other beat pulls it meanwhile.
PULL_LEASE = timedelta(minutes=5)
# After a failed pull, a metric is tried again after 5 s, twice as long after each failure in
# a row, and never later than the gate's interval.
FIRST_RETRY_SECONDS = 5
# What a key is made of: letters, marks, digits, punctuation and symbols; no space, no
# control or invisible character (two keys that look the same are the same key).
_KEY_CATEGORY_PREFIXES = ("L", "M", "N", "P", "S")
# How an inconclusive metric verdict counts in the score: half-way, as Keptn counts a warning.
SCORES = {VerdictState.ROLLOUT: 1.0, VerdictState.INCONCLUSIVE: 0.5, VerdictState.ROLLBACK: 0.0}


# A release outcome's note: a line or two ("rolled back: p99 doubled in eu-west").
OUTCOME_NOTE_MAX_LENGTH = 500


class Outcome(models.TextChoices):
    """What the team did with a release in the end."""

    ROLLBACK = "rollback", _("Rolled back")
    ROLLOUT = "rollout", _("Rolled out")

    @property
    def decision(self) -> int:
        """As a labelled indicator's decision."""
        return Decision.ROLLBACK if self is Outcome.ROLLBACK else Decision.ROLLOUT


class OutcomeVia(models.TextChoices):
    """Through what a release's outcome was recorded."""

    PAGE = "page", _("the release page")
    API = "api", _("the API")
    CLI = "cli", _("the command line")
    FLAGGER = "flagger", _("Flagger")
    ARGO = "argo", _("Argo Rollouts")


class MissingMeans(models.TextChoices):
    """What a counted metric with no observation counts as once it is missing (Kayenta's `mustHaveData`)."""

    INCONCLUSIVE = "inconclusive", _("inconclusive")
    ROLLBACK = "rollback", _("rollback")


class JudgedOn(models.TextChoices):
    """Which observations of a release a gate metric's verdict is taken from."""

    RELEASE = "release", _("every observation, with its limits")
    NEWEST = "newest", _("the newest value only")


@dataclass(frozen=True)
class TrackRecord:
    """How often a gate was right about its releases: of those with an outcome, how many it had
    said what the team did (`right`), the other (`wrong`), or neither (`inconclusive`); and how
    many have no outcome yet."""

    right: int = 0
    wrong: int = 0
    inconclusive: int = 0
    without_outcome: int = 0

    @property
    def with_outcome(self) -> int:
        return self.right + self.wrong + self.inconclusive


def track_record_conditions(prefix: str = "") -> dict[str, Q]:
    """`TrackRecord`'s counts as conditions on a release (`prefix` reaches its fields from another
    model: "releases__" from a gate), for one query's conditional aggregation. What the gate
    said is the real verdict it had given when the first outcome was recorded (`gate_said`)."""
    decided = [VerdictState.ROLLBACK, VerdictState.ROLLOUT]
    without = Q(**{f"{prefix}outcome": ""})
    said_it = Q(**{f"{prefix}gate_said": F(f"{prefix}outcome")})
    said_a_decision = Q(**{f"{prefix}gate_said__in": decided})
    return {
        "right": ~without & said_it,
        "wrong": ~without & said_a_decision & ~said_it,
        "inconclusive": ~without & ~said_a_decision,
        "without_outcome": without,
    }


class GateQuerySet(models.QuerySet["Gate"]):
    def with_track_records(self) -> GateQuerySet:
        """The gates with each one's `track_record` counted at once (in the query that reads them)."""
        return self.annotate(
            **{
                f"track_record_{name}": Count("releases", filter=condition)
                for name, condition in track_record_conditions("releases__").items()
            }
        )


class Gate(Labelled):
    LABELS = {"name": _("Enter a name with at least one visible character.")}

    name = models.CharField(_("name"), max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gates", verbose_name=_("owner")
    )
    pass_score = models.FloatField(
        _("pass score"),
        default=80.0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("A release scoring at least this (0 to 100) rolls out."),
    )
    marginal_score = models.FloatField(
        _("marginal score"),
        default=50.0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("A release scoring below this rolls back; in between, a person decides."),
    )
    missing_after_minutes = models.FloatField(
        _("missing after (minutes)"),
        null=True,
        blank=True,
        default=None,
        validators=[MinValueValidator(0), MaxValueValidator(LONGEST_WAIT_MINUTES)],
        help_text=_(
            "How long after a release starts a counted metric may go without an observation before it counts "
            "as missing. Empty: it is waited for as long as it takes."
        ),
    )
    missing_means = models.CharField(
        _("a missing metric is"),
        max_length=12,
        choices=MissingMeans.choices,
        default=MissingMeans.INCONCLUSIVE,
        help_text=_("What a counted metric with no observation counts as, once it is missing."),
    )
    dry_run = models.BooleanField(
        _("dry run"),
        default=False,
        help_text=_(
            "The verdict endpoints answer rollout to the pipeline, while the real verdict is computed, kept "
            "and shown: watch a new gate before it may stop a release."
        ),
    )
    pull_interval_seconds = models.PositiveIntegerField(
        _("pull every (seconds)"),
        default=60,
        validators=[MinValueValidator(SHORTEST_PULL_INTERVAL), MaxValueValidator(LONGEST_PULL_INTERVAL)],
        help_text=_("How often the metrics bound to a data source are queried while a release is open."),
    )
    pull_for_minutes = models.PositiveIntegerField(
        _("pull for (minutes)"),
        default=120,
        validators=[MinValueValidator(1), MaxValueValidator(LONGEST_PULL_MINUTES)],
        help_text=_(
            "How long after a release starts its bound metrics are queried (sooner stopped by a rollback verdict)."
        ),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = GateQuerySet.as_manager()

    class Meta:
        verbose_name = _("gate")
        verbose_name_plural = _("gates")
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(marginal_score__gte=0, pass_score__lte=100, marginal_score__lte=F("pass_score")),
                name="gate_scores_ordered",
            ),
            models.CheckConstraint(
                condition=Q(missing_after_minutes__isnull=True)
                | Q(missing_after_minutes__gte=0, missing_after_minutes__lte=LONGEST_WAIT_MINUTES),
                name="gate_missing_after_bounded",
            ),
            models.CheckConstraint(
                condition=Q(
                    pull_interval_seconds__gte=SHORTEST_PULL_INTERVAL,
                    pull_interval_seconds__lte=LONGEST_PULL_INTERVAL,
                    pull_for_minutes__gte=1,
                    pull_for_minutes__lte=LONGEST_PULL_MINUTES,
                ),
                name="gate_pulling_bounded",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.marginal_score is not None and self.pass_score is not None and self.marginal_score > self.pass_score:
            message = gettext("The marginal score cannot be above the pass score.")
            raise ValidationError({"marginal_score": ValidationError(message, code="order")})

    def can_change(self, user: User | AnonymousUser) -> bool:
        return user.is_authenticated and user.pk == self.owner_id

    @property
    def track_record(self) -> TrackRecord:
        """How often it was right about its releases (`TrackRecord`): counted in one query, or
        none when read with `GateQuerySet.with_track_records`."""
        names = track_record_conditions().keys()
        if all(hasattr(self, f"track_record_{name}") for name in names):
            return TrackRecord(**{name: getattr(self, f"track_record_{name}") for name in names})
        return self.releases.all().track_record()

    def can_start_release(self, user: User | AnonymousUser) -> bool:
        """Its releases' verdicts are the owner's to make: the owner, signed in or through one
        of their tokens (until teams exist, no one else). Anyone may read them."""
        return user.is_authenticated and user.is_active and user.pk == self.owner_id

    @staticmethod
    def check_metrics(metrics: Sequence[Metric | int]) -> None:
        """A gate judges with at least one metric, each once; raises `ValidationError` otherwise."""
        if not metrics:
            raise ValidationError(gettext("A gate needs at least one metric."), code="empty")
        ids = [getattr(metric, "pk", metric) for metric in metrics]
        if len(set(ids)) != len(ids):
            raise ValidationError(gettext("Each metric may appear once."), code="duplicate")

    def set_metrics(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Make these the gate's metrics (each a `metric` with its `weight`, `critical` and
        `observe_only`), in this order, in place of the ones it had (`check_metrics`' rules)."""
        self.check_metrics([item["metric"] for item in items])
        with transaction.atomic():
            self.gate_metrics.all().delete()
            GateMetric.objects.bulk_create(GateMetric(gate=self, **item) for item in items)

    def start_release(
        self,
        user: User | None,
        *,
        name: str,
        version: str = "",
        key: str = "",
        started_at: datetime | None = None,
    ) -> Release:
        """A new release of the gate, started at `started_at` (now by default). Raises
        `ReleaseKeyTaken` when another release of the gate has `key` already. When a metric of
        the gate is bound to a data source, its pulling starts with it: the beat schedule
        queries the store from the start, and the pipeline only asks for the verdict."""
        started_at = started_at or timezone.now()
        release = Release(
            gate=self,
            name=name,
            version=version,
            key=key,
            started_at=started_at,
            created_by=user,
            next_pull_at=started_at if self.has_bound_metric() else None,
        )
        try:
            with transaction.atomic():
                release.save()
        except IntegrityError:
            if key and self.releases.filter(key=key).exists():
                raise ReleaseKeyTaken(self, key) from None
            raise
        return release

    def release_by_key(self, key: str, user: User | None, *, name: str | None = None, version: str = "") -> Release:
        """The gate's release with the deployer's `key`; when it has none yet, one started now,
        named `name` (the key by default): the first observation or hook call of a deployment
        starts its release. Two calls at once with a new key make one release. Raises
        `InvalidReleaseKey` for a key that cannot be one. Who may call it is the caller's to
        check (`can_start_release`)."""
        if message := release_key_error(key):
            raise InvalidReleaseKey(message)
        found = self.releases.filter(key=key).first()
        if found is not None:
            return found
        try:
            return self.start_release(user, name=fitted(name or key, 100), version=fitted(version, 100), key=key)
        except ReleaseKeyTaken:  # another request started it meanwhile: that one is the release
            return self.releases.get(key=key)

    def bound_queries(self) -> models.QuerySet[MetricQuery]:
        """The queries of its metrics bound to a data source of the gate's owner: what its releases
        pull. A source is its owner's alone: a metric of the catalogue bound to someone else's
        source is never pulled by this gate (its releases would ask that source, with its
        credentials, and show what it answered)."""
        return MetricQuery.objects.filter(
            metric__in=self.gate_metrics.values("metric"), source__owner_id=self.owner_id
        ).select_related("metric", "source")

    def has_bound_metric(self) -> bool:
        """Whether a metric of the gate is bound to a data source of its owner (its releases are pulled)."""
        return self.bound_queries().exists()

    def metrics_without_model(self) -> list[Metric]:
        """The metrics that count in the gate's verdict and have no trained model yet: until
        they have one, a release of the gate waits for them for ever."""
        counted = self.gate_metrics.filter(observe_only=False).filter(Q(weight__gt=0) | Q(critical=True))
        trained = TrainedModel.objects.filter(metric=OuterRef("metric"))
        return [item.metric for item in counted.select_related("metric").filter(~Exists(trained))]


class GateMetric(models.Model):
    gate = models.ForeignKey(Gate, on_delete=models.CASCADE, related_name="gate_metrics", verbose_name=_("gate"))
    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="+", verbose_name=_("metric"))
    weight = models.FloatField(
        _("weight"), default=1.0, validators=[MinValueValidator(0.0), MaxValueValidator(LARGEST_WEIGHT)]
    )
    critical = models.BooleanField(
        _("critical"),
        default=False,
        help_text=_(
            "A rollback verdict on this metric rolls the release back; an inconclusive one keeps it from rolling out."
        ),
    )
    observe_only = models.BooleanField(
        _("observe only"), default=False, help_text=_("Its verdict is logged and shown, but never counts.")
    )
    judged_on = models.CharField(
        _("judged on"),
        max_length=8,
        choices=JudgedOn.choices,
        default=JudgedOn.RELEASE,
        help_text=_(
            "Every observation of the release, with the failure and inconclusive limits below; or the newest "
            "value only, as before (a spike followed by one good value then reads as rollout)."
        ),
    )
    failure_limit = models.PositiveIntegerField(
        _("failure limit"),
        default=0,
        validators=[MaxValueValidator(LARGEST_LIMIT)],
        help_text=_(
            "Once more observations than this were judged rollback in a release, the metric stays rollback for "
            "the rest of it (0, as Argo Rollouts: at the first one)."
        ),
    )
    inconclusive_limit = models.PositiveIntegerField(
        _("inconclusive limit"),
        null=True,
        blank=True,
        default=None,
        validators=[MaxValueValidator(LARGEST_LIMIT)],
        help_text=_(
            "Once more observations than this were inconclusive in a release, the metric stays inconclusive for "
            "the rest of it. Empty: no limit (only the newest counts)."
        ),
    )

    class Meta:
        verbose_name = _("metric of a gate")
        verbose_name_plural = _("metrics of a gate")
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["gate", "metric"], name="gate_metric_once"),
            models.CheckConstraint(condition=Q(weight__gte=0), name="gate_metric_weight_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.gate.name}: {self.metric.name}"


def release_key_error(key: str) -> str | None:
    """Why `key` cannot be a release key, in words; None when it can."""
    if (
        not key
        or len(key) > KEY_MAX_LENGTH
        or any(not unicodedata.category(character).startswith(_KEY_CATEGORY_PREFIXES) for character in key)
    ):
        return gettext(
            "A release key is 1 to %(largest)d visible characters, with no space (Argo Rollouts' pod-template "
            "hash, Flagger's namespace/name@checksum, or your pipeline's own name for the deployment)."
        ) % {"largest": KEY_MAX_LENGTH}
    return None


def retry_delay(failures_in_a_row: int, interval_seconds: int) -> timedelta:
    """How long a metric whose pulls failed `failures_in_a_row` times waits for its next try:
    5 s, then twice as long after each failure, up to the gate's interval."""
    doublings = min(max(failures_in_a_row, 1) - 1, 30)
    return timedelta(seconds=min(interval_seconds, FIRST_RETRY_SECONDS * 2**doublings))


def fitted(text: str, length: int) -> str:
    """`text`, cut to `length` characters with an ellipsis when longer: a label taken from
    a longer identifier (which is kept whole elsewhere)."""
    return text if len(text) <= length else text[: length - 1] + "…"


def _held_by(lease: datetime | None) -> dict[str, datetime]:
    """The condition of a pull's write: the release still holds its `lease` (none: no condition)."""
    return {} if lease is None else {"next_pull_at": lease}


def newest_of_each(pulls: models.QuerySet[Pull], *per: str) -> models.QuerySet[Pull]:
    """The newest of `pulls` for each value of the fields `per` (a metric, a release and a
    metric), with what a page shows of them, in one query: a window function ranks them."""
    return (
        pulls.select_related("metric", "source", "observation")
        .annotate(
            recency=Window(
                RowNumber(), partition_by=[F(name) for name in per], order_by=[F("pulled_at").desc(), F("pk").desc()]
            )
        )
        .filter(recency=1)
    )


class ReleaseQuerySet(models.QuerySet["Release"]):
    def visible_to(self, user: User | AnonymousUser) -> ReleaseQuerySet:
        """Releases are as visible as the catalogue: to every active account."""
        if user.is_authenticated and user.is_active:
            return self.all()
        return self.none()

    def due_for_pulling(self, now: datetime | None = None) -> ReleaseQuerySet:
        """The releases whose next pull is due (`next_pull_at` passed): a claimed one is not, until
        its lease ends."""
        return self.filter(next_pull_at__lte=now or timezone.now())

    def claim_due_for_pulling(self, now: datetime | None = None) -> list[PullClaim]:
        """The due releases this caller now holds for a pull, oldest due first, each with its
        lease (`PullClaim`). Each is claimed by one conditional UPDATE (its `next_pull_at` moved
        to a lease ahead, if it still is what was read), so two beats or workers at once never
        hold the same release: on SQLite writes take turns, and on PostgreSQL the second UPDATE
        waits for the first and then finds the row no longer as it read it."""
        now = now or timezone.now()
        lease = now + PULL_LEASE
        due = self.due_for_pulling(now).order_by("next_pull_at", "pk").values_list("pk", "next_pull_at")
        return [
            PullClaim(pk, lease)
            for pk, due_at in due
            if Release.objects.filter(pk=pk, next_pull_at=due_at).update(next_pull_at=lease)
        ]

    def track_record(self) -> TrackRecord:
        """How often their gate was right about these releases, in one query."""
        counts = {name: Count("pk", filter=condition) for name, condition in track_record_conditions().items()}
        return TrackRecord(**self.aggregate(**counts))

    def with_outcomes(self) -> ReleaseQuerySet:
        """The releases with who recorded each one's outcome, and its labels, read at once."""
        return self.select_related("outcome_by").prefetch_related("label_batches")

    def to_fill(self, metric: Metric, user: User, minutes: int, now: datetime | None = None) -> ReleasesToFill:
        """The releases recorded here that a history fill of `metric` by `user` reads
        (`Metric.queue_fill_from_releases`), oldest first: those of `user`'s gates that judge
        with it, with an outcome, each with its start, decision, key and version. Left out, and
        counted by why: those whose observations of `metric` their outcome labelled already (a
        label batch kept: filled again, they would count twice), those whose first `minutes`
        are not over at `now`, a release recorded in two gates (the same start and key) but
        once, and beyond the newest `MAX_FILL_RELEASES`. Only `user`'s own gates: a release of
        someone else's gate is theirs to vouch for, not a label of this metric's history."""
        now = now or timezone.now()
        labelled = Exists(Indicator.objects.filter(batch__release=OuterRef("pk"), metric=metric))
        found = (
            self.filter(gate__owner=user, gate__gate_metrics__metric=metric)
            .exclude(outcome="")
            .annotate(is_labelled=labelled)
            .order_by("-started_at", "-pk")
            .distinct()
        )
        kept: list[Release] = []
        seen: set[tuple[datetime, str]] = set()
        left_out = {"labelled": 0, "not_over": 0, "repeated": 0, "too_many": 0}
        with_outcome = 0
        for release in found.iterator(chunk_size=500):
            with_outcome += 1
            if release.is_labelled:  # type: ignore[attr-defined]
                left_out["labelled"] += 1
            elif release.started_at + timedelta(minutes=minutes) > now:
                left_out["not_over"] += 1
            elif (release.started_at, release.key) in seen:
                left_out["repeated"] += 1
            elif len(kept) >= MAX_FILL_RELEASES:
                left_out["too_many"] += 1
            else:
                seen.add((release.started_at, release.key))
                kept.append(release)
        releases = tuple(
            PastRelease(
                line,
                release.started_at,
                Outcome(release.outcome).decision,
                release.key,
                release.version,
                str(release).strip(),
            )
            for line, release in enumerate(reversed(kept), start=2)  # as the file written of them numbers them
        )
        return ReleasesToFill(releases, minutes, with_outcome, **left_out)

    def counts_by_gate_and_newest_verdict(self) -> models.QuerySet[Release, dict[str, Any]]:
        """How many releases of each gate have each verdict as the newest one answered, in one
        query: rows of `gate_id`, `gate__name`, `newest_verdict` (a VerdictState, or None for a
        release never asked) and `count`."""
        newest = Answer.objects.filter(release=OuterRef("pk")).order_by("-asked_at", "-pk").values("state")[:1]
        return (
            self.order_by().values("gate_id", "gate__name", newest_verdict=Subquery(newest)).annotate(count=Count("pk"))
        )

    def outcome_counts_by_gate(self) -> models.QuerySet[Release, dict[str, Any]]:
        """How many releases of each gate were rolled back and rolled out, in one query: rows of
        `gate_id`, `gate__name`, `outcome` (an Outcome value) and `count`."""
        decided = self.order_by().exclude(outcome="")
        return decided.values("gate_id", "gate__name", "outcome").annotate(count=Count("pk"))

    def with_newest_pulls(self) -> ReleaseQuerySet:
        """The releases with each one's `newest_pulls` read at once (one query for them all)."""
        newest = newest_of_each(Pull.objects.all(), "release_id", "metric_id")
        return self.prefetch_related(models.Prefetch("pulls", queryset=newest, to_attr="prefetched_newest_pulls"))

    def pull(self, release_id: int, now: datetime | None = None, *, lease: datetime | None = None) -> list[Pull]:
        """`Release.pull` of the release `release_id` (held by `lease`, when claimed); nothing
        when it was deleted meanwhile."""
        release = self.select_related("gate").filter(pk=release_id).first()
        return [] if release is None else release.pull(now, lease=lease)


class PullClaim(NamedTuple):
    """A release claimed for a pull, and its lease: the `next_pull_at` the claim set, when it
    ends. The pull holds the release while its `next_pull_at` is still that."""

    release_id: int
    lease: datetime


class Release(models.Model):
    gate = models.ForeignKey(Gate, on_delete=models.CASCADE, related_name="releases", verbose_name=_("gate"))
    name = models.CharField(_("name"), max_length=100)
    version = models.CharField(_("version"), max_length=100, blank=True)
    # The deployer's own name for it, unique in its gate: Argo's pod-template hash, Flagger's
    # "namespace/name@checksum", or any string the pipeline passes ("" for none).
    key = models.CharField(_("key"), max_length=KEY_MAX_LENGTH, blank=True, default="")
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("created by")
    )
    # Pulling its gate's bound metrics: when next (None: not pulled, or no longer), and when
    # and why it ended (a PullingEnded value).
    next_pull_at = models.DateTimeField(_("next pull at"), null=True, blank=True, db_index=True)
    pulling_ended_at = models.DateTimeField(_("pulling ended at"), null=True, blank=True)
    pulling_ended_because = models.CharField(_("pulling ended because"), max_length=16, blank=True, default="")
    # What the team did in the end (an Outcome value; "" until someone or something says), who
    # said so, through what (an OutcomeVia value), when, and why (`OutcomeChange` logs each one).
    outcome = models.CharField(_("outcome"), max_length=12, blank=True, default="", choices=Outcome.choices)
    outcome_at = models.DateTimeField(_("outcome recorded at"), null=True, blank=True)
    outcome_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("outcome recorded by"),
    )
    outcome_via = models.CharField(_("outcome recorded through"), max_length=12, blank=True, default="")
    outcome_note = models.CharField(_("note"), max_length=OUTCOME_NOTE_MAX_LENGTH, blank=True, default="")
    # What the gate said when the outcome was recorded (its real verdict, a VerdictState, dry run
    # or not), and from which minute of the release it had said so: whether the gate was right.
    gate_said = models.CharField(_("the gate said"), max_length=12, blank=True, default="")
    gate_said_at_minute = models.FloatField(_("the gate said it at minute"), null=True, blank=True)
    # The verdict last announced to the gate's webhooks (a VerdictState; "" before any).
    announced_state = models.CharField(_("verdict announced"), max_length=12, blank=True, default="")

    objects = ReleaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("release")
        verbose_name_plural = _("releases")
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["gate", "key"], condition=~Q(key=""), name="release_key_once_per_gate"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()

    def get_absolute_url(self) -> str:
        return reverse("metrics:release", args=[self.pk])

    def can_observe(self, user: User | AnonymousUser) -> bool:
        """Who may push observations, and so change its verdict: who may start its releases."""
        return self.gate.can_start_release(user)

    def clean(self) -> None:
        # Not in the future (but for clocks a few minutes apart). Minutes are counted from the
        # start: a local time sent without its offset, east of UTC, would put every observation
        # at minute 0 for hours.
        errors: dict[str, ValidationError] = {}
        if self.started_at is not None and self.started_at > timezone.now() + ALLOWED_CLOCK_SKEW:
            message = gettext(
                "The release cannot start in the future. Send its start with its UTC offset "
                "(2026-03-01T14:00:00+02:00), or in UTC (2026-03-01T12:00:00Z)."
            )
            errors["started_at"] = ValidationError(message, code="future")
        if self.key and (key_error := release_key_error(self.key)):
            errors["key"] = ValidationError(key_error, code="invalid_key")
        if errors:
            raise ValidationError(errors)

    def observe(
        self,
        metric: Metric,
        value: float,
        user: User | None,
        minutes: float | None = None,
        *,
        source: str = Source.API,
        at: datetime | None = None,
    ) -> Observation:
        """Judge `value` of one of the gate's metrics, `minutes` after the release started (by
        default, the minutes since `started_at`), and keep it, observed `at` (now by default) from
        `source` (a Source value: pushed through the API, or pulled). Raises `NotInGate` for
        another metric, and what `Metric.predict` raises when it has no usable model."""
        if not self.gate.gate_metrics.filter(metric=metric).exists():
            raise NotInGate(self.gate, metric)
        now = at or timezone.now()
        age = max(0.0, (now - self.started_at).total_seconds() / 60)
        if minutes is None:
            minutes = age
        # Observed when the release was that old, if that is not in the future (a replayed history).
        observed_at = self.started_at + timedelta(minutes=minutes) if minutes < age else now
        with transaction.atomic():  # the verdict is logged with its observation, or not at all
            verdict = metric.predict(value, minutes, user, source=source)
            return Observation.objects.create(release=self, metric=metric, verdict=verdict, observed_at=observed_at)

    def can_record_outcome(self, user: User | AnonymousUser) -> bool:
        """Who may say what the team did with it: the gate's owner, or whoever opened it (signed
        in, or through one of their tokens). Changing an outcome already recorded is the owner's
        alone (`Gate.can_change`)."""
        return (
            user.is_authenticated
            and user.is_active
            and (user.pk == self.gate.owner_id or (self.created_by_id is not None and user.pk == self.created_by_id))
        )

    def record_outcome(
        self,
        outcome: str,
        user: User | None,
        *,
        via: str,
        note: str = "",
        at: datetime | None = None,
    ) -> bool:
        """Record what the team did in the end (an Outcome value), said by `user` (None: the
        server's operator, from the command line) through `via` (an OutcomeVia value), `at` (now
        by default), with a `note`. Returns whether anything changed: the same outcome again
        changes nothing (a webhook that fires twice, a button pressed twice).

        The first outcome keeps what the gate said then (`gate_said`: its real verdict, dry run or
        not, and from which minute). Every observation of the release becomes a labelled
        indicator of its metric (`outcome_labels`), observe-only metrics included, and its pulling
        ends. A change of outcome, the gate owner's alone, undoes the earlier labels and labels
        again; every outcome recorded is logged (`outcome_changes`).

        Raises `OutcomeRefused` for someone who may not record it, or change it; `ValidationError`
        for an outcome or a note that cannot be one."""
        if outcome not in Outcome.values:
            raise ValidationError(
                gettext("Say “rollback” or “rollout”: what was done with the release."), code="invalid_outcome"
            )
        if len(note) > OUTCOME_NOTE_MAX_LENGTH:
            raise ValidationError(
                gettext("Keep the note within %(limit)d characters.") % {"limit": OUTCOME_NOTE_MAX_LENGTH},
                code="note_too_long",
            )
        if user is not None and not self.can_record_outcome(user):
            raise OutcomeRefused(self, change=False)
        now = at or timezone.now()
        with transaction.atomic():
            # Locked: of two outcomes sent at once, the second sees the first's.
            locked = Release.objects.select_for_update().get(pk=self.pk)
            if locked.outcome == outcome:
                self._take_outcome_of(locked)
                return False
            if locked.outcome and user is not None and not self.gate.can_change(user):
                self._take_outcome_of(locked)
                raise OutcomeRefused(self, change=True)
            previous = locked.outcome
            self.outcome, self.outcome_at, self.outcome_by, self.outcome_via, self.outcome_note = (
                outcome,
                now,
                user,
                via,
                note,
            )
            self.gate_said, self.gate_said_at_minute = locked.gate_said, locked.gate_said_at_minute
            if not previous:
                self.gate_said, self.gate_said_at_minute = self._gate_said(now)
            Release.objects.filter(pk=self.pk).update(
                outcome=outcome,
                outcome_at=now,
                outcome_by=user,
                outcome_via=via,
                outcome_note=note,
                gate_said=self.gate_said,
                gate_said_at_minute=self.gate_said_at_minute,
            )
            OutcomeChange.objects.create(
                release=self, outcome=outcome, previous=previous, recorded_by=user, via=via, note=note, recorded_at=now
            )
            self._label(Outcome(outcome).decision, user, now)
            _webhooks().announce_outcome(self, previous)
            if locked.pulling_ended_at is None and locked.next_pull_at is not None:
                self._end_pulling(now, PullingEnded.OUTCOME)
        return True

    def _take_outcome_of(self, stored: Release) -> None:
        for name in ("outcome", "outcome_at", "outcome_by_id", "outcome_via", "outcome_note", "gate_said"):
            setattr(self, name, getattr(stored, name))
        self.gate_said_at_minute = stored.gate_said_at_minute

    def _gate_said(self, now: datetime) -> tuple[str, float | None]:
        """Its real verdict at `now`, and the minute of the release since which the gate had said
        it: its pipeline's answers, newest first, for as long as they said the same (or the
        newest observation, when none did)."""
        said = self.verdict(now).state
        since = None
        answers = self.answers.filter(asked_at__lte=now).order_by("-asked_at", "-pk").values_list("state", "asked_at")
        for state, asked_at in answers.iterator(chunk_size=500):
            if state != said:
                break
            since = asked_at
        if since is None:
            newest = self.observations.filter(observed_at__lte=now).order_by("-observed_at").first()
            since = newest.observed_at if newest is not None else None
        if since is None:
            return said, None
        return said, max(0.0, (since - self.started_at).total_seconds() / 60)

    def _label(self, decision: int, user: User | None, now: datetime) -> ImportBatch | None:
        """Its observations as indicators labelled `decision`, in one import batch (undoable as
        an upload is), after undoing the batch an earlier outcome labelled. An observation whose
        verdict had feedback is labelled already (`Verdict.feedback_indicator`): it is left out.
        Returns the batch (None when there was nothing to label)."""
        for earlier in self.label_batches.filter(undone_at__isnull=True, rows__gt=0):
            earlier.undo()
        # Locked as `Verdict.add_feedback` locks them (the metrics first, then the verdicts): of
        # a feedback and an outcome at once, the second sees the first's label.
        metric_ids = self.observations.order_by().values("metric_id")
        list(Metric.objects.select_for_update().filter(pk__in=metric_ids).order_by("pk").values_list("pk", flat=True))
        verdicts = Verdict.objects.select_for_update(of=("self",)).filter(observation__release=self)
        list(verdicts.order_by("pk").values_list("pk", flat=True))
        observations = list(
            self.observations.filter(verdict__feedback_indicator__isnull=True)
            .select_related("verdict")
            .order_by("observed_at", "pk")
        )
        if not observations:
            return None
        batch = ImportBatch.objects.create(
            release=self,
            uploaded_by=user,
            file_name=gettext("Outcome of release %(release)s: %(outcome)s")
            % {"release": self, "outcome": Outcome(self.outcome).label.lower()},
            sha256="",
            size=0,
            delimiter="",
            rows=len(observations),
            created_at=now,
        )
        Indicator.objects.bulk_create(
            Indicator(
                metric_id=observation.metric_id,
                value=observation.verdict.value,
                decision=decision,
                time=observation.verdict.minutes,
                created_by=user,
                created_at=now,
                batch=batch,
                observation=observation,
            )
            for observation in observations
        )
        return batch

    def fills_that_may_count_it_twice(self) -> list[ImportBatch]:
        """The kept history fills from the releases recorded here (`Metric.queue_fill_from_releases`)
        that may have read this release into a metric its live labels are in: by its gate's owner,
        after its first outcome was recorded and its first minutes were over, and before these
        labels were given (labels given before a fill kept it out of the fill). A fill does not
        keep which releases it read, so "may": its page warns, and undoing one of the two fixes it."""
        labels = self.outcome_labels
        first_outcome = self.outcome_changes.order_by("recorded_at").values_list("recorded_at", flat=True).first()
        if labels is None or labels.undone_at is not None or first_outcome is None:
            return []
        fills = ImportBatch.objects.filter(
            metric__in=Indicator.objects.filter(batch=labels).values("metric_id"),
            delimiter=FILL_FROM_RELEASES,
            fill_minutes__isnull=False,
            undone_at__isnull=True,
            rows__gt=0,
            uploaded_by=self.gate.owner_id,
            created_at__gte=first_outcome,
            created_at__lt=labels.created_at,
        ).select_related("metric")
        return [
            fill
            for fill in fills.order_by("created_at", "pk")
            if fill.fill_minutes is not None
            and self.started_at + timedelta(minutes=fill.fill_minutes) <= fill.created_at
        ]

    @property
    def gate_was(self) -> str:
        """Whether the gate was right about it: "right" (it said what the team did), "wrong" (it
        said the other), "inconclusive" (it said neither), or "" (no outcome yet)."""
        if not self.outcome:
            return ""
        if self.gate_said not in (VerdictState.ROLLBACK, VerdictState.ROLLOUT):
            return "inconclusive"
        return "right" if self.gate_said == self.outcome else "wrong"

    @property
    def outcome_recorder(self) -> str:
        """Who recorded its outcome, in words ('' before one)."""
        return recorder_words(self.outcome_by, self.outcome_via) if self.outcome else ""

    @property
    def outcome_via_display(self) -> str:
        """Through what its outcome was recorded, in words ('' before one)."""
        return str(OutcomeVia(self.outcome_via).label) if self.outcome_via in OutcomeVia.values else ""

    @property
    def outcome_labels(self) -> ImportBatch | None:
        """The batch of labels its outcome (the one recorded now) gave, undone since or not; None
        when it labelled nothing. Read from `label_batches` as prefetched, when they were."""
        if not self.outcome or self.outcome_at is None:
            return None
        made = [batch for batch in self.label_batches.all() if batch.created_at >= self.outcome_at]
        return max(made, key=lambda batch: (batch.created_at, batch.pk), default=None)

    @property
    def outcome_summary(self) -> str:
        """What the gate had said and what the team did, in words: "The gate said rollback at
        7 min; the team rolled back: the gate was right." ('' before an outcome)."""
        if not self.outcome:
            return ""
        at = self.gate_said_at_minute
        if self.gate_said not in VerdictState.values:
            said = gettext("The gate had no verdict")
        elif at is None:
            said = {
                VerdictState.ROLLBACK: gettext("The gate said rollback"),
                VerdictState.ROLLOUT: gettext("The gate said rollout"),
                VerdictState.INCONCLUSIVE: gettext("The gate was inconclusive"),
            }[VerdictState(self.gate_said)]
        elif at < 1:
            said = {
                VerdictState.ROLLBACK: gettext("The gate said rollback from the release's first minute"),
                VerdictState.ROLLOUT: gettext("The gate said rollout from the release's first minute"),
                VerdictState.INCONCLUSIVE: gettext("The gate was inconclusive from the release's first minute"),
            }[VerdictState(self.gate_said)]
        else:
            said = {
                VerdictState.ROLLBACK: gettext("The gate said rollback at %(minutes)s"),
                VerdictState.ROLLOUT: gettext("The gate said rollout at %(minutes)s"),
                VerdictState.INCONCLUSIVE: gettext("The gate was inconclusive at %(minutes)s"),
            }[VerdictState(self.gate_said)] % {"minutes": minutes_words(at)}
        did = gettext("the team rolled back") if self.outcome == Outcome.ROLLBACK else gettext("the team rolled out")
        judged = {
            "right": gettext("the gate was right"),
            "wrong": gettext("the gate was wrong"),
            "inconclusive": gettext("neither right nor wrong"),
        }[self.gate_was]
        return gettext("%(said)s; %(did)s: %(judged)s.") % {"said": said, "did": did, "judged": judged}

    @property
    def is_pulled(self) -> bool:
        """Whether its gate's bound metrics are pulled, or were: it started with one bound."""
        return self.next_pull_at is not None or self.pulling_ended_at is not None

    def pull(self, now: datetime | None = None, *, lease: datetime | None = None) -> list[Pull]:
        """Query the store of each bound metric of its gate that is due (`now`, the schedule's
        clock: the time by default), and record each answer as a `Pull`: a value as an
        observation pulled from the source, no data with what the store said, or a failure
        (the store could not be asked, or the metric has no usable model to judge the value),
        tried again after `retry_delay`. Then its `next_pull_at` is the earliest due, or
        pulling ends (`pulling_ended_at`, `pulling_ended_because`): when its real verdict is
        rollback, when the gate's `pull_for_minutes` have passed, or when no metric of the gate
        is bound any more. A rollout verdict does not end it: a canary healthy at its first
        minute must still be watched until the limit. A verdict that changed is announced to the
        gate's webhooks (`announce_verdict`).

        Claimed by the beat (`ReleaseQuerySet.claim_due_for_pulling`), it pulls only while it
        holds the `lease` it was claimed with: not at all once the lease has ended (a late task:
        the release is due again, or already claimed by another), and each write only while the
        release's `next_pull_at` is still the lease (`_holds`), so that a pull that outlives its
        lease never writes beside the claim that follows it.

        The stores are asked outside any transaction; one metric's failure never stops the
        others. Returns the pulls made (none when nothing was due or pulling ended)."""
        now = now or timezone.now()
        if self.pulling_ended_at is not None or self._is_late(lease, now):
            return []
        bound = {query.metric_id: query for query in self.gate.bound_queries().order_by("metric_id")}
        if not bound:
            self._end_pulling(now, PullingEnded.NOTHING_BOUND, lease=lease)
            return []
        ends_at = self.started_at + timedelta(minutes=self.gate.pull_for_minutes)
        if now >= ends_at:
            self._end_pulling(now, PullingEnded.LIMIT, lease=lease)
            return []
        newest = self.newest_pulls()
        pulls, held = self._pull_due(bound, newest, now, lease)
        if not held:  # its lease was lost: the next claim pulls the rest
            logger.info("The pull of release %s outlived its lease: it stops there.", self.pk)
            return pulls
        verdict = self.verdict(now)
        _webhooks().announce_verdict(self, verdict, now)
        if verdict.state == VerdictState.ROLLBACK:
            self._end_pulling(now, PullingEnded.ROLLBACK, lease=lease)
        else:
            next_pull_at = min([self.next_pull_of(newest[metric_id]) for metric_id in bound] + [ends_at])
            if Release.objects.filter(pk=self.pk, **_held_by(lease)).update(next_pull_at=next_pull_at):
                self.next_pull_at = next_pull_at
        return pulls

    def _pull_due(
        self, bound: dict[int, MetricQuery], newest: dict[int, Pull], now: datetime, lease: datetime | None
    ) -> tuple[list[Pull], bool]:
        """Pull each bound metric that is due at `now` (its newest pull put in `newest`); and
        whether the `lease` held throughout (when it is lost, the pulls stop there)."""
        pulls: list[Pull] = []
        for metric_id, query in bound.items():
            previous = newest.get(metric_id)
            if previous is not None and self.next_pull_of(previous) > now:
                continue
            pull = self._pull_metric(query, previous, now, lease)
            if pull is None:
                return pulls, False
            newest[metric_id] = pull
            pulls.append(pull)
        return pulls, True

    def _is_late(self, lease: datetime | None, now: datetime) -> bool:
        """Whether a pull claimed with `lease` comes after it ended, or after the release was
        claimed again: it is the next claim's to pull."""
        if lease is None:
            return False
        if now < lease and Release.objects.filter(pk=self.pk, next_pull_at=lease).exists():
            return False
        logger.info("The pull of release %s came after its lease ended: left to the next claim.", self.pk)
        return True

    def _holds(self, lease: datetime | None) -> bool:
        """Whether a pull claimed with `lease` (None: not claimed, asked directly) still holds the
        release; if so, its row stays locked until the caller's transaction ends, so that no
        claim takes it over in between."""
        if lease is None:
            return True
        return bool(Release.objects.filter(pk=self.pk, next_pull_at=lease).update(next_pull_at=lease))

    @property
    def pulling_ended_display(self) -> str:
        """Why its pulling ended, in words ('' while it goes on)."""
        because = self.pulling_ended_because
        return str(PullingEnded(because).label) if because in PullingEnded.values else ""

    def next_pull_words(self, now: datetime | None = None) -> str:
        """When its next pull is, from `now`: "in 20 s", "now" ('' when none is)."""
        if self.next_pull_at is None:
            return ""
        wait = round((self.next_pull_at - (now or timezone.now())).total_seconds())
        return gettext("in %(wait)s") % {"wait": seconds_words(wait)} if wait > 0 else gettext("now")

    def pulled_metrics(
        self, now: datetime | None = None, viewer: User | AnonymousUser | None = None
    ) -> list[MetricPulling]:
        """How each metric of its gate bound to a data source (and each pulled earlier in this
        release) is pulled: its query and source, and its newest pull, as of `now`, as `viewer`
        may read it (where and how it is read is the source's owner's to see; everything when
        no viewer is given). In two queries."""
        bound = {query.metric_id: query for query in self.gate.bound_queries()}
        newest = self.newest_pulls()
        found = []
        for metric_id in sorted(bound.keys() | newest.keys()):
            query, pull = bound.get(metric_id), newest.get(metric_id)
            metric = query.metric if query is not None else pull.metric  # type: ignore[union-attr]
            next_at = self.next_pull_of(pull) if pull is not None and self.next_pull_at is not None else None
            pulling = MetricPulling(metric, query, pull, next_at, now or timezone.now())
            source = pulling.source
            shows = viewer is None or (source is not None and source.can_change(viewer))
            found.append(replace(pulling, shows_source=shows))
        return found

    def next_pull_of(self, pull: Pull) -> datetime:
        """When the metric of `pull` (its newest in this release) is due again: after an answer,
        at the first of its due times (`due_after`); `retry_delay` after a failure."""
        if pull.outcome == PullOutcome.FAILED:
            return pull.pulled_at + retry_delay(pull.failures_in_a_row, self.gate.pull_interval_seconds)
        return self.due_after(pull.pulled_at)

    def due_after(self, moment: datetime) -> datetime:
        """The first of its due times after `moment`: its start plus a whole number of the gate's
        intervals. Pulls keep to the times their start sets, so that a pull made late (the beat's
        tick, a busy worker) does not make every later one later; one made an interval late or
        more is not caught up, the next due time is."""
        interval = self.gate.pull_interval_seconds
        elapsed = max(0.0, (moment - self.started_at).total_seconds())
        return self.started_at + timedelta(seconds=(math.floor(elapsed / interval) + 1) * interval)

    def newest_pulls(self) -> dict[int, Pull]:
        """The newest pull of each metric pulled in this release, by metric id, in one query (none
        when read with `ReleaseQuerySet.with_newest_pulls`)."""
        prefetched: list[Pull] | None = getattr(self, "prefetched_newest_pulls", None)
        if prefetched is not None:
            return {pull.metric_id: pull for pull in prefetched}
        return {pull.metric_id: pull for pull in newest_of_each(self.pulls.all(), "metric_id")}

    def _pull_metric(
        self, query: MetricQuery, previous: Pull | None, now: datetime, lease: datetime | None
    ) -> Pull | None:
        """Ask the store for one metric (outside any transaction), then keep what came of it,
        the observation with its pull or neither; nothing (None) when the `lease` the pull was
        claimed with no longer holds the release."""
        pull, value = self._ask_store(query, previous, now)
        with transaction.atomic():  # the observation is kept with its provenance, or neither
            if not self._holds(lease):
                return None
            if value is not None:
                try:
                    with transaction.atomic():
                        pull.observation = self.observe(
                            query.metric, value, None, pull.minutes, source=Source.PULL, at=now
                        )
                        pull.outcome = PullOutcome.OK
                except DomainError as refusal:  # no usable model to judge it (or no longer in the gate)
                    pull.observation = None
                    pull.outcome, pull.error_kind, pull.detail = PullOutcome.FAILED, refusal.code, str(refusal)
                    pull.failures_in_a_row = (previous.failures_in_a_row if previous is not None else 0) + 1
            pull.save()
        return pull

    def _ask_store(self, query: MetricQuery, previous: Pull | None, now: datetime) -> tuple[Pull, float | None]:
        """The pull of one metric as the store answered it (not saved yet), and the value to
        observe: None when there is none to (no data, a failure, a value too old or too large)."""
        minutes = max(0.0, (now - self.started_at).total_seconds() / 60)
        variables = Variables(key=self.key, version=self.version, window=max(1, int(minutes)))
        pull = Pull(release=self, metric=query.metric, source=query.source, pulled_at=now, minutes=minutes)
        failures = (previous.failures_in_a_row if previous is not None else 0) + 1
        try:
            pull.query_sent, pull.baseline_query_sent = queries_sent(query, variables)
            measurement = query.measure(variables)
        except NoData as answer:
            pull.outcome, pull.error_kind, pull.detail = PullOutcome.NO_DATA, answer.kind, answer.detail
        except StoreError as error:
            pull.outcome, pull.error_kind, pull.detail = PullOutcome.FAILED, error.kind, error.detail
            pull.failures_in_a_row = failures
        except DatabaseError:
            raise
        except Exception as error:  # a store's code that fails otherwise fails this metric's pull only
            logger.exception("Pulling metric %s of release %s failed.", query.metric_id, self.pk)
            pull.outcome, pull.detail, pull.failures_in_a_row = PullOutcome.FAILED, type(error).__name__, failures
        else:
            pull.value, pull.canary_value, pull.baseline_value = (
                measurement.value,
                measurement.canary,
                measurement.baseline,
            )
            pull.sampled_at = measurement.sampled_at
            pull.query_sent, pull.baseline_query_sent = measurement.query_sent, measurement.baseline_query_sent
            if measurement.sampled_at < self.started_at:  # e.g. CloudWatch's newest period, published late
                pull.outcome, pull.error_kind = PullOutcome.NO_DATA, Kind.NO_DATA
                pull.detail = gettext("its newest value is from before the release started (%(at)s)") % {
                    "at": measurement.sampled_at.isoformat()
                }
            elif abs(measurement.value) > LARGEST_NUMBER:  # what no model can learn from, nor judge
                pull.outcome, pull.error_kind, pull.failures_in_a_row = PullOutcome.FAILED, VALUE_TOO_LARGE, failures
                pull.detail = gettext("The value %(value)s is too large to judge (at most %(largest).1e).") % {
                    "value": f"{measurement.value:g}",
                    "largest": LARGEST_NUMBER,
                }
            else:
                return pull, measurement.value
        return pull, None

    def _end_pulling(self, now: datetime, because: PullingEnded, *, lease: datetime | None = None) -> None:
        """End its pulling (by a pull that holds `lease`, when it was claimed with one)."""
        ended = Release.objects.filter(pk=self.pk, **_held_by(lease)).update(
            next_pull_at=None, pulling_ended_at=now, pulling_ended_because=because
        )
        if ended:
            self.next_pull_at, self.pulling_ended_at, self.pulling_ended_because = None, now, because

    def answer(self, user: User | None, at: datetime | None = None) -> ReleaseVerdict:
        """The release verdict as `user` (a pipeline, through the API) asked for it, now or `at`
        (from the observations made by then): kept as a point of its verdict over time when
        `user` may observe the release (its pipeline). Another reader gets the verdict, and
        adds nothing to that history (their polling would push the pipeline's points out).
        In dry run the real verdict is kept (and logged), while the pipeline is answered rollout.
        A verdict that changed is announced to the gate's webhooks (`announce_verdict`), whoever asked."""
        verdict = self.verdict(at)
        _webhooks().announce_verdict(self, verdict, at)
        if user is not None and not self.can_observe(user):
            return verdict
        if verdict.dry_run:
            logger.info(
                "Dry run of gate %s: release %s would have been %s (%s).",
                self.gate_id,
                self.pk,
                verdict.state,
                verdict.decided_by,
            )
        Answer.objects.create(
            release=self,
            asked_at=at or timezone.now(),
            asked_by=user,
            state=verdict.state,
            score=verdict.score,
            rule=verdict.rule,
            decided_by=verdict.decided_by,
            dry_run=verdict.dry_run,
            metrics=[
                {
                    "metric": judgement.metric.pk,
                    "name": judgement.metric.name,
                    "state": judgement.state,
                    "counted": judgement.counts,
                    "cause": judgement.cause,
                    "caused_by": [observation.pk for observation in judgement.caused_by],
                }
                for judgement in verdict.metrics
            ],
        )
        return verdict

    def verdict(self, at: datetime | None = None) -> ReleaseVerdict:
        """The release's verdict from its observations up to `at` (by default, all of them):
        each metric judged over the release (or on its newest value, as its gate says), then
        the gate's rule over the metrics. Read in as many queries however many observations."""
        observed = self.observations.all() if at is None else self.observations.filter(observed_at__lte=at)
        trained = TrainedModel.objects.filter(metric=OuterRef("metric"))
        pulled = self.pulls.filter(metric=OuterRef("metric"))
        if at is not None:
            pulled = pulled.filter(pulled_at__lte=at)
        gate_metrics = list(
            self.gate.gate_metrics.select_related("metric").annotate(
                has_model=Exists(trained), is_pulled=Exists(pulled)
            )
        )
        now = at or timezone.now()
        seen = observed_metrics(observed)
        age = (now - self.started_at).total_seconds() / 60
        return judge_release(self.gate, gate_metrics, seen, age, self.silences(gate_metrics, seen, now))

    def silences(
        self, gate_metrics: Sequence[GateMetric], seen: Mapping[int, ObservedMetric], now: datetime
    ) -> dict[int, float]:
        """How long (minutes) each metric pulled in this release has gone without an observation,
        up to `now` or to when its pulling ended (a metric is not missing for pulls that were
        never due): `judge_metric` counts it missing once that exceeds the gate's wait."""
        until = min(now, self.pulling_ended_at) if self.pulling_ended_at is not None else now
        silences = {}
        for item in gate_metrics:
            if getattr(item, "is_pulled", False):
                observed = seen.get(item.metric_id)
                since = observed.newest_at if observed is not None and observed.newest_at else self.started_at
                silences[item.metric_id] = max(0.0, (until - since).total_seconds() / 60)
        return silences

    def history(self, newest: int = HISTORY_POINTS) -> list[Answer]:
        """Its verdict over time: the `newest` verdicts answered, oldest first, each numbered
        (`number`, from 1 for the first ever answered): two answered in the same second are
        still in order."""
        answers = list(self.answers.select_related("asked_by").order_by("-asked_at", "-pk")[:newest])
        total = self.answers.count() if len(answers) == newest else len(answers)
        for position, answer in enumerate(answers):
            answer.number = total - position
        return list(reversed(answers))


def recorder_words(user: User | None, via: str) -> str:
    """Who recorded an outcome: their username; the server's operator from the command line; or an
    account deleted since."""
    if user is not None:
        return user.get_username()
    return gettext("the server's operator") if via == OutcomeVia.CLI else gettext("an account deleted since")


def _webhooks() -> WebhookQuerySet:
    """`Webhook.objects`, whose module imports this one: who hears about a verdict or an outcome."""
    from metrics.models.notification import Webhook

    return Webhook.objects.all()


class OutcomeChange(models.Model):
    """One outcome recorded for a release (the first one, or a change of it by the gate's owner):
    the release's log of what the team said it did."""

    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, related_name="outcome_changes", verbose_name=_("release")
    )
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices)
    previous = models.CharField(_("previous outcome"), max_length=12, blank=True, default="")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    via = models.CharField(_("recorded through"), max_length=12, choices=OutcomeVia.choices)
    note = models.CharField(_("note"), max_length=OUTCOME_NOTE_MAX_LENGTH, blank=True, default="")
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("outcome recorded")
        verbose_name_plural = _("outcomes recorded")
        ordering = ["recorded_at", "pk"]

    def __str__(self) -> str:
        return f"{self.release}: {self.outcome}"

    @property
    def recorder(self) -> str:
        """Who recorded it, in words."""
        return recorder_words(self.recorded_by, self.via)


class Observation(models.Model):
    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, related_name="observations", verbose_name=_("release")
    )
    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="+", verbose_name=_("metric"))
    verdict = models.OneToOneField(Verdict, on_delete=models.CASCADE, related_name="observation")
    observed_at = models.DateTimeField(_("observed at"), default=timezone.now)

    class Meta:
        verbose_name = _("observation")
        verbose_name_plural = _("observations")
        indexes = [models.Index(fields=["release", "observed_at"], name="observation_release_time")]

    def __str__(self) -> str:
        return f"{self.release}: {self.metric.name} = {self.verdict.value:g}"


class Answer(models.Model):
    """A release verdict as it was answered, whatever happened to the gate since: one point of
    the release's verdict over time."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="answers", verbose_name=_("release"))
    asked_at = models.DateTimeField(_("asked at"), default=timezone.now)
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("asked by")
    )
    state = models.CharField(_("verdict"), max_length=12, choices=VerdictState.choices)
    score = models.FloatField(_("score"), null=True)
    rule = models.CharField(_("rule"), max_length=16)
    # What decided it (a DecidedBy value; "" for an answer kept before it was recorded).
    decided_by = models.CharField(_("decided by"), max_length=24, blank=True, default="")
    # Answered in dry run: the pipeline was told rollout; `state` and `score` are the real verdict.
    dry_run = models.BooleanField(_("dry run"), default=False)
    # Each metric of the gate then: [{"metric": id, "name", "state" (None: not observed), "counted"}].
    metrics = models.JSONField(default=list)
    number: int  # its place in the release's verdict over time, from 1 (set by `Release.history`)

    class Meta:
        verbose_name = _("release verdict answered")
        verbose_name_plural = _("release verdicts answered")
        indexes = [models.Index(fields=["release", "asked_at"], name="answer_release_time")]

    def __str__(self) -> str:
        return f"{self.release}: {self.state} at {self.asked_at:%Y-%m-%d %H:%M:%S}"

    @property
    def shown_score(self) -> float | None:
        return score_to_show(self.score, self.rule)

    @property
    def decided_by_code(self) -> str:
        """What decided it, also for an answer kept before that was recorded (from its rule)."""
        return self.decided_by or DECIDED_BY_OF_RULE.get(self.rule, "")

    @property
    def decided_by_display(self) -> str:
        code = self.decided_by_code
        return str(DecidedBy(code).label) if code in DecidedBy.values else ""


class DecidedBy(models.TextChoices):
    """What decided a release verdict: the API's `decided_by`, a program's word."""

    SCORE = "score", _("the score against the thresholds")
    CRITICAL_VETO = "critical_veto", _("a critical metric says rollback")
    CRITICAL_INCONCLUSIVE = "critical_inconclusive", _("a critical metric is inconclusive")
    FAILURE_LIMIT = "failure_limit", _("a critical metric's failure limit")
    WAITING = "waiting", _("waiting for a counted metric")
    NOTHING_COUNTS = "nothing_counts", _("no metric counts")
    DRY_RUN = "dry_run", _("dry run")


class ReleaseRule(models.TextChoices):
    """How a release verdict was reached, in the words of the API's deprecated `rule`
    (`decided_by` replaces it): a critical metric that decided is a "veto"."""

    VETO = "veto", _("veto")  # a critical metric says rollback
    WAITING = "waiting", _("waiting")  # for a metric that counts and was not observed yet
    NOTHING_COUNTS = "nothing_counts", _("no metric counts")
    THRESHOLD = "threshold", _("score against the thresholds")


class MetricCause(models.TextChoices):
    """Why a gate metric has its verdict over the release: the API's `cause`, a program's word."""

    NEWEST = "newest", _("its newest observation")
    FAILURE_LIMIT = "failure_limit", _("more rollbacks in the release than its failure limit")
    INCONCLUSIVE_LIMIT = "inconclusive_limit", _("more inconclusive observations in the release than its limit")
    # Its newest observation says rollback, within the failure limit: not rolled back yet, nor promoted.
    TOLERATED_FAILURE = "tolerated_failure", _("a rollback within its failure limit")
    MISSING = "missing", _("no observation in time")
    NOT_OBSERVED = "not_observed", _("not observed yet")


# The deprecated `rule` of each `decided_by`.
RULE_OF_DECIDED_BY: dict[str, str] = {
    DecidedBy.SCORE: ReleaseRule.THRESHOLD,
    DecidedBy.CRITICAL_VETO: ReleaseRule.VETO,
    DecidedBy.FAILURE_LIMIT: ReleaseRule.VETO,
    DecidedBy.CRITICAL_INCONCLUSIVE: ReleaseRule.VETO,
    DecidedBy.WAITING: ReleaseRule.WAITING,
    DecidedBy.NOTHING_COUNTS: ReleaseRule.NOTHING_COUNTS,
}
# What decided an answer kept before `decided_by` was (a veto then was a critical rollback).
DECIDED_BY_OF_RULE: dict[str, str] = {
    ReleaseRule.THRESHOLD: DecidedBy.SCORE,
    ReleaseRule.VETO: DecidedBy.CRITICAL_VETO,
    ReleaseRule.WAITING: DecidedBy.WAITING,
    ReleaseRule.NOTHING_COUNTS: DecidedBy.NOTHING_COUNTS,
}


@dataclass(frozen=True)
class ObservedMetric:
    """What a release's observations of one metric add up to: the newest, how many there are
    and how many were judged rollback and inconclusive, and the first of each (at most
    `SHOWN_CAUSES`), which a limit names as its cause."""

    newest: Verdict
    observations: int
    rollbacks: int
    inconclusives: int
    first_rollbacks: tuple[Observation, ...]
    first_inconclusives: tuple[Observation, ...]
    newest_at: datetime | None = None  # when the newest was observed


def observed_metrics(observations: models.QuerySet[Observation]) -> dict[int, ObservedMetric]:
    """Each observed metric's `ObservedMetric`, in one query whatever the observations: window
    functions count them and pick, per metric, the newest and the first few of each bad kind."""
    per_metric = [F("metric_id")]
    per_state = [F("metric_id"), F("verdict__state")]
    bad = [VerdictState.ROLLBACK, VerdictState.INCONCLUSIVE]
    rows = (
        observations.select_related("verdict__metric", "verdict__asked_by")
        .annotate(
            recency=Window(RowNumber(), partition_by=per_metric, order_by=[F("observed_at").desc(), F("pk").desc()]),
            position=Window(RowNumber(), partition_by=per_state, order_by=[F("observed_at").asc(), F("pk").asc()]),
            in_metric=Window(Count("pk"), partition_by=per_metric),
            in_state=Window(Count("pk"), partition_by=per_state),
        )
        .filter(Q(recency=1) | Q(position__lte=SHOWN_CAUSES, verdict__state__in=bad))
        .order_by("metric_id", "observed_at", "pk")
    )
    found: dict[int, dict[str, Any]] = {}
    for row in rows:
        seen = found.setdefault(row.metric_id, {"rollback": [], "inconclusive": [], "counts": {}})
        state = row.verdict.state
        seen["observations"] = row.in_metric
        seen["counts"][state] = row.in_state
        if row.recency == 1:
            seen["newest"], seen["newest_at"] = row.verdict, row.observed_at
        if state in bad and row.position <= SHOWN_CAUSES:
            seen[state].append(row)
    return {
        metric_id: ObservedMetric(
            newest=seen["newest"],
            observations=seen["observations"],
            rollbacks=seen["counts"].get(VerdictState.ROLLBACK, 0),
            inconclusives=seen["counts"].get(VerdictState.INCONCLUSIVE, 0),
            first_rollbacks=tuple(seen[VerdictState.ROLLBACK]),
            first_inconclusives=tuple(seen[VerdictState.INCONCLUSIVE]),
            newest_at=seen["newest_at"],
        )
        for metric_id, seen in found.items()
    }


@dataclass(frozen=True)
class MetricJudgement:
    """One gate metric's part in a release verdict: its verdict over the release (`state`), and why (`cause`)."""

    metric: Metric
    weight: float
    critical: bool
    observe_only: bool
    verdict: Verdict | None  # its newest observation's; None: not observed yet
    has_model: bool = True  # False: no version trained yet, so it cannot be observed
    state: str | None = None  # a VerdictState value: its verdict over the release; None: not observed (nor missing)
    cause: str = MetricCause.NOT_OBSERVED  # a MetricCause value
    judged_on: str = JudgedOn.RELEASE
    failure_limit: int = 0
    inconclusive_limit: int | None = None
    observations: int = 0  # in the release (up to when it was asked)
    rollbacks: int = 0
    inconclusives: int = 0
    caused_by: tuple[Observation, ...] = ()  # the observations that took it over a limit (the first ones)

    @property
    def counts(self) -> bool:
        return not self.observe_only and self.state is not None

    @property
    def vetoes(self) -> bool:
        return self.critical and not self.observe_only and self.state == VerdictState.ROLLBACK

    @property
    def blocks_rollout(self) -> bool:
        """A critical metric that is inconclusive: the release is at most inconclusive."""
        return self.critical and not self.observe_only and self.state == VerdictState.INCONCLUSIVE

    @property
    def is_held_by_failure_limit(self) -> bool:
        """Rollback for its failure limit, though its newest observation is not a rollback."""
        return (
            self.cause == MetricCause.FAILURE_LIMIT
            and self.verdict is not None
            and self.verdict.state != VerdictState.ROLLBACK
        )

    @property
    def is_missing(self) -> bool:
        return self.cause == MetricCause.MISSING

    @property
    def can_change_the_verdict(self) -> bool:
        # A metric that can never change the verdict (observe-only, or weighing 0 and not
        # critical) is neither waited for nor missing.
        return not self.observe_only and bool(self.weight or self.critical)

    @property
    def is_awaited(self) -> bool:
        return self.can_change_the_verdict and self.state is None

    @property
    def is_judged_on_newest(self) -> bool:
        return self.judged_on == JudgedOn.NEWEST

    @property
    def cause_display(self) -> str:
        return str(MetricCause(self.cause).label)


@dataclass(frozen=True)
class MetricPulling:
    """A metric of a release's gate as it is pulled: its binding (None: no longer bound), its
    newest pull in the release (None: not pulled yet), and when it is due again (None: not)."""

    metric: Metric
    query: MetricQuery | None
    newest: Pull | None
    next_at: datetime | None
    now: datetime  # when it was read: waits are counted from it
    # Whether the reader may see where and how it is read (the source's owner): others read what
    # happened in plain words, without the source's name, the query or what the store answered.
    shows_source: bool = True

    @property
    def source(self) -> Any:
        """The data source asked: the binding's, or the newest pull's."""
        if self.query is not None:
            return self.query.source
        return self.newest.source if self.newest is not None else None

    @property
    def is_failing(self) -> bool:
        return self.newest is not None and self.newest.outcome == PullOutcome.FAILED

    @property
    def answer_words(self) -> str:
        """What the store answered when the newest pull found no data ('' otherwise)."""
        pull = self.newest
        if pull is None or pull.outcome != PullOutcome.NO_DATA:
            return ""
        return pull.error_words if self.shows_source else store_error_words(pull.error_kind)

    @property
    def failure_words(self) -> str:
        """The newest failure in plain words: who could not be asked, how often in a row, when
        it is tried next ('' when the newest pull did not fail)."""
        pull = self.newest
        if pull is None or pull.outcome != PullOutcome.FAILED:
            return ""
        source = self.source
        if pull.is_judging_failure:
            what = gettext("The value of “%(metric)s” could not be judged") % {"metric": self.metric.name}
        elif source is None:
            what = gettext("Its data source, since deleted, could not be asked")
        elif not self.shows_source:
            what = gettext("Its data source could not be asked")
        else:
            what = gettext("%(kind)s “%(source)s” could not be asked") % {
                "kind": source.get_kind_display(),
                "source": source.name,
            }
        why = pull.error_words if self.shows_source or pull.is_judging_failure else store_error_words(pull.error_kind)
        again = ngettext("%(count)d time in a row", "%(count)d times in a row", pull.failures_in_a_row) % {
            "count": pull.failures_in_a_row
        }
        if self.next_at is None:
            when = gettext("no next try: pulling ended")
        else:
            wait = max(0, round((self.next_at - self.now).total_seconds()))
            when = gettext("next try in %(wait)s") % {"wait": seconds_words(wait)} if wait else gettext("next try now")
        return gettext("%(what)s, %(again)s; %(when)s. %(why)s") % {
            "what": what,
            "again": again,
            "when": when,
            "why": why,
        }


def seconds_words(seconds: int) -> str:
    """A wait as people say it: "20 s", "2 min 5 s"."""
    if seconds < 60:
        return gettext("%(seconds)d s") % {"seconds": seconds}
    if seconds % 60 == 0:
        return gettext("%(minutes)d min") % {"minutes": seconds // 60}
    return gettext("%(minutes)d min %(seconds)d s") % {"minutes": seconds // 60, "seconds": seconds % 60}


@dataclass(frozen=True)
class ReleaseVerdict:
    state: str  # a VerdictState value: the real verdict (also in dry run)
    score: float | None  # 0 to 100: 0 on a veto; None while waiting, when nothing counts or a critical metric blocks
    decided_by: str  # a DecidedBy value: what decided `state` (never DRY_RUN)
    metrics: list[MetricJudgement] = field(default_factory=list)
    summary: str = ""
    dry_run: bool = False  # the gate is in dry run: the pipeline is answered rollout

    @property
    def rule(self) -> str:
        """The deprecated `rule` (a ReleaseRule value) of what decided it."""
        return RULE_OF_DECIDED_BY[self.decided_by]

    @property
    def answered_state(self) -> str:
        """The verdict the pipeline is answered: rollout in dry run, the real one otherwise."""
        return VerdictState.ROLLOUT if self.dry_run else self.state

    @property
    def answered_score(self) -> float | None:
        return 100.0 if self.dry_run else self.score

    @property
    def answered_decided_by(self) -> str:
        return DecidedBy.DRY_RUN if self.dry_run else self.decided_by

    @property
    def answered_summary(self) -> str:
        return dry_run_words(self.state) + " " + self.summary if self.dry_run else self.summary

    @property
    def shown_score(self) -> float | None:
        return self.score

    @property
    def decided_by_display(self) -> str:
        return str(DecidedBy(self.decided_by).label)


def dry_run_words(state: str) -> str:
    """What a gate in dry run would have done, had it not been in dry run."""
    if state == VerdictState.ROLLBACK:
        return gettext("Dry run: would have rolled back.")
    if state == VerdictState.ROLLOUT:
        return gettext("Dry run: would have rolled out.")
    return gettext("Dry run: would have left the decision to a person.")


def score_to_show(score: float | None, rule: str) -> float | None:
    """The score a page shows beside a verdict: none while it waits for a metric (an answer
    kept before waiting stored none: the score of the metrics observed so far would read as a pass)."""
    return None if rule == ReleaseRule.WAITING else score


def judge_release(
    gate: Gate,
    gate_metrics: Sequence[GateMetric],
    observed: dict[int, ObservedMetric],
    age_minutes: float,
    silences: Mapping[int, float] | None = None,
) -> ReleaseVerdict:
    """Each metric judged over the release (`judge_metric`; `silences`: how long each pulled
    metric has gone without an observation), then Kayenta's rule with Keptn's half point for a
    warning: a critical rollback vetoes, a critical inconclusive blocks a rollout; otherwise the
    weighted score of the counted metrics against the two thresholds."""
    silences = silences or {}
    judgements = [
        judge_metric(gate, item, observed.get(item.metric_id), age_minutes, silences.get(item.metric_id))
        for item in gate_metrics
    ]
    exact = _exact_score(judgements)
    state, decided_by = decide_release(gate, judgements, exact)
    weighted = None if exact is None else _shown_score(exact, gate)
    return ReleaseVerdict(
        state=state,
        score=release_score(decided_by, weighted),
        decided_by=decided_by,
        metrics=judgements,
        summary=word_release(gate, state, decided_by, judgements, weighted),
        dry_run=gate.dry_run,
    )


def stale_after_minutes(gate: Gate) -> float:
    """How long a pulled metric may go without an observation before it counts as missing: the
    gate's wait, but at least two pull intervals (a pull may come late by up to one: the beat's
    tick, a busy worker), also when the gate waits for ever for a first observation (a value
    that stopped coming is not the canary's any more)."""
    return max(gate.missing_after_minutes or 0.0, 2 * gate.pull_interval_seconds / 60)


def judge_metric(
    gate: Gate, item: GateMetric, seen: ObservedMetric | None, age_minutes: float, silence: float | None = None
) -> MetricJudgement:
    """A gate metric's verdict over the release: missing once the gate stops waiting for it,
    else from its observations (`over_the_release`). A metric pulled from a data source is also
    missing once it has gone `silence` minutes without an observation, longer than
    `stale_after_minutes`: its store went down or has no data mid-release, and its newest value
    is no longer the canary's. A failure limit it went over still holds it rolled back."""
    judgement = MetricJudgement(
        metric=item.metric,
        weight=item.weight,
        critical=item.critical,
        observe_only=item.observe_only,
        verdict=None,
        has_model=getattr(item, "has_model", True),
        judged_on=item.judged_on,
        failure_limit=item.failure_limit,
        inconclusive_limit=item.inconclusive_limit,
    )
    if seen is None:
        is_late = gate.missing_after_minutes is not None and age_minutes >= gate.missing_after_minutes
        if is_late and judgement.can_change_the_verdict:
            return replace(judgement, state=gate.missing_means, cause=MetricCause.MISSING)
        return judgement
    state, cause, caused_by = over_the_release(item, seen)
    if (
        silence is not None
        and silence > stale_after_minutes(gate)
        and cause != MetricCause.FAILURE_LIMIT
        and judgement.can_change_the_verdict
    ):
        state, cause, caused_by = VerdictState(gate.missing_means), MetricCause.MISSING, ()
    return replace(
        judgement,
        verdict=seen.newest,
        state=state,
        cause=cause,
        observations=seen.observations,
        rollbacks=seen.rollbacks,
        inconclusives=seen.inconclusives,
        caused_by=caused_by,
    )


def over_the_release(
    item: GateMetric, seen: ObservedMetric
) -> tuple[VerdictState, MetricCause, tuple[Observation, ...]]:
    """As Argo Rollouts: more rollbacks than the failure limit keep the metric rolled back for
    the rest of the release (likewise inconclusive); otherwise its newest observation, but a
    newest rollback within the limit is inconclusive (neither rolled back yet, nor promoted).
    Judged on the newest value, the newest observation alone, as before limits existed."""
    newest = VerdictState(seen.newest.state)
    if item.judged_on == JudgedOn.NEWEST:
        return newest, MetricCause.NEWEST, ()
    if seen.rollbacks > item.failure_limit:
        return VerdictState.ROLLBACK, MetricCause.FAILURE_LIMIT, seen.first_rollbacks[: item.failure_limit + 1]
    limit = item.inconclusive_limit
    if limit is not None and seen.inconclusives > limit:
        return VerdictState.INCONCLUSIVE, MetricCause.INCONCLUSIVE_LIMIT, seen.first_inconclusives[: limit + 1]
    if newest == VerdictState.ROLLBACK:
        return VerdictState.INCONCLUSIVE, MetricCause.TOLERATED_FAILURE, ()
    return newest, MetricCause.NEWEST, ()


def decide_release(
    gate: Gate, judgements: list[MetricJudgement], exact: float | None
) -> tuple[VerdictState, DecidedBy]:
    """The release verdict and what decided it, from the metrics' judgements and the exact
    weighted score of those that count (None if none does)."""
    vetoes = [judgement for judgement in judgements if judgement.vetoes]
    if vetoes:
        by_limit = all(judgement.is_held_by_failure_limit for judgement in vetoes)
        return VerdictState.ROLLBACK, DecidedBy.FAILURE_LIMIT if by_limit else DecidedBy.CRITICAL_VETO
    if any(judgement.is_awaited for judgement in judgements):
        return VerdictState.INCONCLUSIVE, DecidedBy.WAITING
    if exact is None:
        return VerdictState.INCONCLUSIVE, DecidedBy.NOTHING_COUNTS
    # The exact score against the thresholds; the one shown is rounded on the same side.
    if exact >= gate.pass_score:
        if any(judgement.blocks_rollout for judgement in judgements):
            return VerdictState.INCONCLUSIVE, DecidedBy.CRITICAL_INCONCLUSIVE
        return VerdictState.ROLLOUT, DecidedBy.SCORE
    if exact < gate.marginal_score:
        return VerdictState.ROLLBACK, DecidedBy.SCORE
    return VerdictState.INCONCLUSIVE, DecidedBy.SCORE


def release_score(decided_by: DecidedBy, weighted: float | None) -> float | None:
    """The score answered, as Kayenta's: 0 on a veto; none while waiting, when nothing counts,
    or when a critical metric keeps a passing score from rolling out (`score >= pass` must never
    promote what the verdict does not); the weighted score otherwise."""
    if decided_by in (DecidedBy.CRITICAL_VETO, DecidedBy.FAILURE_LIMIT):
        return 0.0
    return weighted if decided_by == DecidedBy.SCORE else None


def word_release(
    gate: Gate,
    state: VerdictState,
    decided_by: DecidedBy,
    judgements: list[MetricJudgement],
    weighted: float | None,
) -> str:
    """The release verdict in words: what decided it, and what a person can do about it."""
    if decided_by in (DecidedBy.CRITICAL_VETO, DecidedBy.FAILURE_LIMIT):
        return _veto_summary(decided_by, [judgement for judgement in judgements if judgement.vetoes])
    if decided_by == DecidedBy.WAITING:
        return _waiting_summary([judgement for judgement in judgements if judgement.is_awaited])
    if decided_by == DecidedBy.NOTHING_COUNTS or weighted is None:
        return gettext(
            "A person decides: no metric of this gate counts (each is observe-only, or weighs 0 and is not critical)."
        )
    words = {
        "score": _score_text(weighted),
        "pass": _score_text(gate.pass_score),
        "marginal": _score_text(gate.marginal_score),
    }
    if decided_by == DecidedBy.CRITICAL_INCONCLUSIVE:
        blocking = [judgement for judgement in judgements if judgement.blocks_rollout]
        return ngettext(
            "A person decides: the critical metric %(names)s is inconclusive, so the score %(score)s may not "
            "roll the release out.",
            "A person decides: the critical metrics %(names)s are inconclusive, so the score %(score)s may not "
            "roll the release out.",
            len(blocking),
        ) % {**words, "names": _names(blocking)}
    if state == VerdictState.ROLLOUT:
        return gettext("Roll out: the score %(score)s reaches the pass score %(pass)s.") % words
    if state == VerdictState.ROLLBACK:
        return gettext("Roll back: the score %(score)s is below the marginal score %(marginal)s.") % words
    return (
        gettext("A person decides: the score %(score)s is between the marginal %(marginal)s and the pass %(pass)s.")
        % words
    )


def _veto_summary(decided_by: DecidedBy, vetoes: list[MetricJudgement]) -> str:
    if decided_by == DecidedBy.FAILURE_LIMIT:
        return ngettext(
            "Roll back: the critical metric %(names)s was judged rollback more often in this release than its "
            "failure limit allows.",
            "Roll back: the critical metrics %(names)s were judged rollback more often in this release than their "
            "failure limits allow.",
            len(vetoes),
        ) % {"names": _names(vetoes)}
    missing = [judgement for judgement in vetoes if judgement.is_missing]
    if missing and len(missing) == len(vetoes):
        return ngettext(
            "Roll back: the critical metric %(names)s is missing (no observation in time), and this gate counts a "
            "missing metric as rollback.",
            "Roll back: the critical metrics %(names)s are missing (no observation in time), and this gate counts "
            "a missing metric as rollback.",
            len(missing),
        ) % {"names": _names(missing)}
    return ngettext(
        "Roll back: the critical metric %(names)s says rollback.",
        "Roll back: the critical metrics %(names)s say rollback.",
        len(vetoes),
    ) % {"names": _names(vetoes)}


def _names(judgements: Iterable[MetricJudgement]) -> str:
    return ", ".join(f"“{judgement.metric.name}”" for judgement in judgements)


def _exact_score(judgements: list[MetricJudgement]) -> float | None:
    """The weighted score, 0 to 100, of the metrics that count; None if none does (or all weigh 0)."""
    counted = [judgement for judgement in judgements if judgement.counts and judgement.state is not None]
    weights = sum(judgement.weight for judgement in counted)
    if not weights:
        return None
    points = sum(
        judgement.weight * SCORES[VerdictState(judgement.state)] for judgement in counted if judgement.state is not None
    )
    return 100 * points / weights


def _waiting_summary(waiting: list[MetricJudgement]) -> str:
    """Which metrics the verdict waits for; one with no trained model cannot be observed
    until it is trained, which is what its team has to do."""
    unobserved = ", ".join(f"“{j.metric.name}”" for j in waiting if j.has_model)
    untrained = [j for j in waiting if not j.has_model]
    names = ", ".join(f"“{j.metric.name}”" for j in untrained)
    if not untrained:
        return gettext("Waiting: no observation yet of %(names)s.") % {"names": unobserved}
    if not unobserved:
        return ngettext(
            "Waiting: %(names)s has no trained model yet to judge its observations.",
            "Waiting: %(names)s have no trained model yet to judge their observations.",
            len(untrained),
        ) % {"names": names}
    return ngettext(
        "Waiting: no observation yet of %(unobserved)s, and %(names)s has no trained model yet.",
        "Waiting: no observation yet of %(unobserved)s, and %(names)s have no trained model yet.",
        len(untrained),
    ) % {"unobserved": unobserved, "names": names}


def _shown_score(exact: float, gate: Gate) -> float:
    """The score to show: to one decimal, or to as many more as it takes to stay on the same
    side of each threshold (79.96 is not shown as 80 when the pass score is 80)."""
    for digits in range(1, 7):
        shown = round(exact, digits)
        if all((shown >= limit) == (exact >= limit) for limit in (gate.pass_score, gate.marginal_score)):
            return shown
    return exact


def _score_text(score: float) -> str:
    return f"{score:g}"
