from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import IntegrityError, models, transaction
from django.db.models import Case, Count, Exists, ExpressionWrapper, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.text import slugify
from django.utils.translation import gettext, ngettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from metrics import csv_io
from metrics.exceptions import (
    DuplicateFile,
    DuplicateFill,
    DuplicateMetric,
    MetricDeleted,
    ModelUnusable,
    NotBound,
    NothingToFill,
    NoTrainedModel,
    SourceDeleted,
)
from predictor import columns
from predictor.training import MIN_INDICATORS, MIN_PER_DECISION, is_enough_to_train

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from django.contrib.auth.models import AnonymousUser, User
    from django_stubs_ext import StrOrPromise

    from metrics.models.data_source import DataSource, MetricQuery
    from metrics.models.indicator import ImportBatch, Indicator, Upload
    from metrics.models.job import Job
    from metrics.models.trained_model import TrainedModel
    from metrics.models.verdict import Verdict
    from predictor.columns import IndicatorColumns


class Decision(models.IntegerChoices):
    ROLLOUT = columns.ROLLOUT, _("Rollout")
    ROLLBACK = columns.ROLLBACK, _("Rollback")

    @property
    def word(self) -> str:
        """How the API says it: "rollback" or "rollout" (a program's word, never translated)."""
        return self.name.lower()

    @classmethod
    def words(cls) -> list[str]:
        """Every decision's word, as the API's schema lists them."""
        return sorted(decision.word for decision in cls)

    @classmethod
    def from_word(cls, word: str) -> Decision:
        """The decision a word names; raises KeyError for another word."""
        return cls[word.upper()]


class BadDirection(models.TextChoices):
    """Which way a metric's value is bad, as Kayenta's `direction`: a value beyond anything
    the model has seen on that side is judged rollback rather than inconclusive."""

    EITHER = "either", _("either way (beyond the data is inconclusive)")
    HIGHER = "higher", _("higher is worse")
    LOWER = "lower", _("lower is worse")


# Characters that show nothing: controls (Cc) and format characters (Cf) such as the
# zero-width space and joiners, the byte-order mark, soft hyphens and direction marks.
_INVISIBLE_CATEGORIES = {"Cc", "Cf"}
# A label must contain at least one letter, digit, punctuation mark or symbol.
_VISIBLE_CATEGORY_PREFIXES = ("L", "N", "P", "S")


def normalise_label(text: str) -> str:
    """A name or category as it is stored and compared: text that looks the same is the same.

    NFKC folds full-width letters and ligatures and composes accents typed apart
    ("e" + U+0301 -> "é"); invisible characters are dropped; runs of spaces become one.
    """
    text = unicodedata.normalize("NFKC", text)
    visible = "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE_CATEGORIES)
    # Dropping an invisible character can bring a letter and its accent together again.
    return " ".join(unicodedata.normalize("NFKC", visible).split())


def has_visible_character(text: str) -> bool:
    return any(unicodedata.category(ch).startswith(_VISIBLE_CATEGORY_PREFIXES) for ch in text)


def search_key(text: str) -> str:
    """The form of a name that comparisons use: normalised, then case-folded in Python,
    because SQLite's LOWER() and LIKE only fold ASCII ("COMUNICAÇÃO" would not match "Comunicação")."""
    return normalise_label(text).casefold()


class Retraining(models.TextChoices):
    """What the retraining schedule (`MBREAK_RETRAIN_SCHEDULE`) does with a metric at its next run,
    as things stand (`MetricQuerySet.with_retraining`); each label is what its page says."""

    DUE = "due", _("It will be trained again then: it has new labelled data since its model.")
    UP_TO_DATE = "up_to_date", _("Nothing to train again then: its model has learnt from all its data.")
    TRAINING = "training", _("Not then: a training of it is already queued or running.")
    NOT_ENOUGH_DATA = "not_enough_data", _("It will be skipped then: it has too little data to train.")
    # Its first model is a person's call: from then on it answers (a gate's verdicts among others).
    NEVER_TRAINED = "never_trained", _("It will be skipped then: the schedule trains models again, never a first one.")


# What decides when a verdict is inconclusive: the owner's to set (see `judge`).
VERDICT_SETTINGS = (
    "rollback_threshold",
    "rollout_threshold",
    "min_leaf_cases",
    "range_margin",
    "refuse_stale",
    "bad_direction",
)
# The largest minimum of similar cases: PostgreSQL's integer (SQLite's would take more).
LARGEST_MIN_LEAF_CASES = 2**31 - 1
# How many minutes of each past release a history fill reads (a range query each), at most and by default.
MAX_FILL_MINUTES = 1_440
DEFAULT_FILL_MINUTES = 60
# A history fill of the releases recorded here keeps this as its batch's "delimiter": its file
# is the list of those releases, written by the server (`csv_io.write_release_csv`).
FILL_FROM_RELEASES = "releases"


@dataclass(frozen=True)
class ReleasesToFill:
    """The releases recorded here that a history fill of a metric reads (`Release.objects.to_fill`),
    and how many more it leaves out, by why: their observations of the metric were labelled by
    their outcome already (filled again, they would count twice), their first minutes are not
    over, the same release (start and key) is recorded in another gate, or they are older than
    the newest `csv_io.MAX_FILL_RELEASES`."""

    releases: tuple[csv_io.PastRelease, ...]
    minutes: int
    with_outcome: int  # every release of the owner's gates of the metric with an outcome
    labelled: int = 0
    not_over: int = 0
    repeated: int = 0
    too_many: int = 0

    @property
    def counts(self) -> dict[str, int]:
        """What the fill's job keeps, to say what it read (`releases_read_words`)."""
        return {
            "read": len(self.releases),
            "minutes": self.minutes,
            "with_outcome": self.with_outcome,
            "labelled": self.labelled,
            "not_over": self.not_over,
            "repeated": self.repeated,
            "too_many": self.too_many,
        }


# Why a fill of the releases recorded here leaves some out (`ReleasesToFill`'s counts), in words.
LEFT_OUT_WORDS = {
    "labelled": ngettext_lazy(
        "%(count)d whose observations its outcome labelled already (filled again, they would count twice)",
        "%(count)d whose observations their outcome labelled already (filled again, they would count twice)",
        "count",
    ),
    "not_over": ngettext_lazy(
        "%(count)d whose first %(minutes)d minutes are not over yet",
        "%(count)d whose first %(minutes)d minutes are not over yet",
        "count",
    ),
    "repeated": ngettext_lazy(
        "%(count)d recorded in another gate too (the same start and key)",
        "%(count)d recorded in another gate too (the same start and key)",
        "count",
    ),
    "too_many": ngettext_lazy(
        "%(count)d older than the newest %(limit)s", "%(count)d older than the newest %(limit)s", "count"
    ),
}


def left_out_words(counts: Mapping[str, int]) -> str:
    """Which releases recorded here a fill leaves out, and why, in words ("" for none)."""
    figures = {
        "minutes": counts.get("minutes", 0),
        "limit": number_format(csv_io.MAX_FILL_RELEASES, force_grouping=True),
    }
    parts = [words % {**figures, "count": counts[why]} for why, words in LEFT_OUT_WORDS.items() if counts.get(why)]
    if not parts:
        return ""
    return gettext("Left out: %(reasons)s.") % {"reasons": "; ".join(parts)}


def releases_read_words(counts: Mapping[str, int]) -> str:
    """What a fill of the releases recorded here read, and what it left out and why."""
    read = ngettext(
        "It read %(count)d release recorded here with an outcome.",
        "It read %(count)d releases recorded here with an outcome.",
        counts.get("read", 0),
    ) % {"count": counts.get("read", 0)}
    return f"{read} {left_out_words(counts)}".strip()


# The largest id a database holds (a 64-bit integer): a longer number cannot be one.
LARGEST_ID = 2**63 - 1


class MetricQuerySet(models.QuerySet["Metric"]):
    def visible_to(self, user: User | AnonymousUser) -> MetricQuerySet:
        """The metrics `user` may see and add data to: the whole shared catalogue, for an active account."""
        if user.is_authenticated and user.is_active:
            return self.all()
        return self.none()

    def worked_on_by(self, user: User | AnonymousUser) -> MetricQuerySet:
        """The metrics `user` owns or registered indicators in: the work that is theirs to
        train. The catalogue is shared, but training someone else's metric is their call."""
        from metrics.models.indicator import Indicator

        if not user.is_authenticated:
            return self.none()
        contributed = Indicator.objects.filter(created_by=user.pk).values("metric")
        return self.filter(Q(owner=user.pk) | Q(pk__in=contributed))

    def has_any_worked_on_by(self, user: User | AnonymousUser) -> bool:
        """Whether `user` owns a metric or added data to one: at most two one-row lookups."""
        from metrics.models.indicator import Indicator

        if not user.is_authenticated:
            return False
        return self.filter(owner=user.pk).exists() or Indicator.objects.filter(created_by=user.pk).exists()

    def trainable(self) -> MetricQuerySet:
        """The metrics with enough data to train."""
        return self.filter(_enough_to_train())

    def with_retraining(self) -> MetricQuerySet:
        """Annotate `scheduled_retraining`: what the retraining schedule does with each metric at its next
        run, as things stand (`Retraining`). It trains again a metric trained before whose data
        changed since its newest version (as `needing_training` finds it stale), with enough data
        to train, and no training already queued or running."""
        from metrics.models.job import ACTIVE, Job, JobKind
        from metrics.models.trained_model import TrainedModel

        newest = TrainedModel.objects.filter(metric=OuterRef("pk")).order_by("-version").values("data_version")[:1]
        training = Job.objects.filter(metric=OuterRef("pk"), kind=JobKind.TRAINING, status__in=ACTIVE)
        return self.annotate(newest_data_version=Subquery(newest)).annotate(
            scheduled_retraining=Case(
                When(newest_data_version__isnull=True, then=Value(Retraining.NEVER_TRAINED.value)),
                When(newest_data_version=F("data_version"), then=Value(Retraining.UP_TO_DATE.value)),
                When(Exists(training), then=Value(Retraining.TRAINING.value)),
                When(~_enough_to_train(), then=Value(Retraining.NOT_ENOUGH_DATA.value)),
                default=Value(Retraining.DUE.value),
                output_field=models.CharField(),
            )
        )

    def due_for_retraining(self) -> MetricQuerySet:
        """The metrics the retraining schedule trains again at its next run (`with_retraining`)."""
        return self.with_retraining().filter(Q(scheduled_retraining=Retraining.DUE)).order_by("pk")

    def search(self, name: str = "", category: str = "") -> MetricQuerySet:
        """Metrics whose name and category contain the given texts, ignoring case."""
        filters = Q()
        if search_key(name):
            filters &= Q(name_key__contains=search_key(name))
        if search_key(category):
            filters &= Q(category_key__contains=search_key(category))
        return self.filter(filters)

    def named(self, reference: str, *, ids: bool = True) -> MetricQuerySet:
        """The metrics a person names on a command line: its id, or its name (any case), with
        "/category" when two categories hold the same name ("p95 latency/Checkout").

        ASCII digits are an id when a metric has it, else a name ("2024"); with `ids=False`
        (the API, where an id is a JSON number) always a name. A name may hold a slash
        ("Errors/s"): the whole text is tried as a name first, then as name/category split at
        each slash ("Errors/s/Traffic"). Several metrics: the name is ambiguous.
        """
        text = reference.strip()
        if ids and text.isascii() and text.isdigit() and int(text) <= LARGEST_ID:
            by_id = self.filter(pk=int(text))
            if by_id.exists():
                return by_id
        by_name = self.filter(name_key=search_key(text))
        if "/" not in text or by_name.exists():
            return by_name
        splits = [(text[:at], text[at + 1 :]) for at, character in enumerate(text) if character == "/"]
        by_name_and_category = Q(pk__in=[])
        for name, category in splits:
            by_name_and_category |= Q(name_key=search_key(name), category_key=search_key(category))
        return self.filter(by_name_and_category)

    def same_as(self, name: str, category: str) -> MetricQuerySet:
        """Metrics that count as duplicates of (name, category): same words, ignoring case."""
        return self.filter(name_key=search_key(name), category_key=search_key(category))

    def record_indicator_changes(self, added: Mapping[int, int]) -> None:
        """Mark the metrics whose indicators changed (the keys) as changed, so that their models
        count as stale, and keep their indicator counts right: `added[metric_id]` rows were
        added (negative: removed). Every write of indicators calls this in its transaction."""
        for metric_id, count in added.items():
            self.filter(pk=metric_id).update(
                data_version=F("data_version") + 1, indicator_count=F("indicator_count") + count
            )

    def recount_indicators(self, metric_ids: Iterable[int]) -> None:
        """Mark these metrics as changed and set their indicator counts from their rows: for a
        write that cannot tell how many rows it changed of each."""
        from metrics.models.indicator import Indicator

        metrics = self.filter(pk__in=list(metric_ids))
        # Locked first, so that a write that added rows and is still counting them waits.
        list(metrics.select_for_update().values_list("pk", flat=True))
        rows = Indicator.objects.filter(metric=OuterRef("pk")).order_by().values("metric").annotate(rows=Count("pk"))
        metrics.update(data_version=F("data_version") + 1, indicator_count=Coalesce(Subquery(rows.values("rows")), 0))

    def listed(self) -> MetricQuerySet:
        """As the catalogue shows each metric: with its owner and its answering version."""
        return self.select_related("owner").with_answering_version()

    def with_answering_version(self) -> MetricQuerySet:
        """Annotate the answering version (the active one, else the newest; `latest_model_*`): its
        version, accuracy, training time and whether it can be used; and the data version the
        newest was trained on."""
        from metrics.models.trained_model import TrainedModel

        newest = TrainedModel.objects.filter(metric=OuterRef("pk")).order_by("-version")

        def answering(field: str) -> Coalesce:
            # The active version's field; the newest version's when none is active (staff deleted it).
            return Coalesce(F(f"active_model__{field}"), Subquery(newest.values(field)[:1]))

        annotated = self.annotate(
            latest_model_version=answering("version"),
            latest_model_accuracy=answering("accuracy"),
            latest_model_baseline_accuracy=answering("baseline_accuracy"),
            latest_model_trained_at=answering("trained_at"),
            latest_model_sklearn_version=answering("sklearn_version"),
            latest_model_signing_key_id=answering("signing_key_id"),
            latest_model_refused_because=answering("refused_because"),
            latest_model_data_version=answering("data_version"),
            newest_model_data_version=Subquery(newest.values("data_version")[:1]),
        )
        return annotated.annotate(
            latest_model_is_usable=ExpressionWrapper(
                TrainedModel.usable_condition("latest_model_"), output_field=models.BooleanField()
            )
        )

    def needing_training(self, *, stale: bool = True, unusable: bool = True) -> MetricQuerySet:
        """Metrics whose newest model cannot be trusted to answer, oldest first.

        `stale`: no model yet, or the data changed since the newest version was trained.
        `unusable`: the answering version cannot be loaded on this server (see `TrainedModel.unusable_cause`).
        """
        condition = Q(pk__in=[])
        if stale:
            condition |= Q(latest_model_version__isnull=True) | ~Q(newest_model_data_version=F("data_version"))
        if unusable:
            condition |= Q(latest_model_version__isnull=False, latest_model_is_usable=False)
        return self.with_answering_version().filter(condition).order_by("pk")

    def answering_versions(self) -> models.QuerySet[Metric, dict[str, Any]]:
        """Each metric with a trained version, and the one that answers (`with_answering_version`),
        in one query: rows of `pk`, `name`, `latest_model_accuracy` (held out, 0 to 1) and
        `latest_model_trained_at`."""
        answering = self.with_answering_version().filter(Q(latest_model_version__isnull=False)).order_by()
        # The fields `with_answering_version` annotates, which the type checker cannot follow.
        return answering.values("pk", "name", "latest_model_accuracy", "latest_model_trained_at")  # type: ignore[misc]


def _enough_to_train() -> Q:
    """Where a metric has enough data to train: the training's own rule (`is_enough_to_train`) in
    SQL, without counting a big metric's rows (is there a MIN_PER_DECISION-th row of each decision?)."""
    from metrics.models.indicator import Indicator

    def enough_of(decision: int) -> Exists:
        rows = Indicator.objects.filter(metric=OuterRef("pk"), decision=decision).order_by().values("pk")
        return Exists(rows[MIN_PER_DECISION - 1 : MIN_PER_DECISION])

    return Q(enough_of(columns.ROLLBACK), enough_of(columns.ROLLOUT), indicator_count__gte=MIN_INDICATORS)


class Labelled(models.Model):
    """A model whose names (`LABELS`: each field, with what to say when it shows nothing) are
    stored as `normalise_label` makes them, and need a visible character."""

    LABELS: ClassVar[dict[str, StrOrPromise]] = {}

    class Meta:
        abstract = True

    def clean_fields(self, exclude: Iterable[str] | None = None) -> None:
        # The admin, the forms and the API all come through here: what is checked
        # (length, duplicates) is what will be stored.
        excluded = set(exclude or ())
        errors: dict[str, Any] = {}
        for field in self.LABELS:
            setattr(self, field, normalise_label(getattr(self, field) or ""))
            if field not in excluded and not has_visible_character(getattr(self, field)):
                errors[field] = [self.LABELS[field]]
        try:
            super().clean_fields(exclude=excluded | set(errors))
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)


class Metric(Labelled):
    LABELS = {
        "name": _("Enter a name with at least one visible character."),
        "category": _("Enter a category with at least one visible character."),
    }

    name = models.CharField(_("name"), max_length=120)
    category = models.CharField(_("category"), max_length=120)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="metrics",
        verbose_name=_("owner"),
    )
    # Case-folding may lengthen a name (ß -> ss; a character folds to at most three).
    name_key = models.CharField(max_length=3 * 120, editable=False)
    category_key = models.CharField(max_length=3 * 120, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Bumped on every change to the indicators, so that "train the models" knows
    # which metrics have data their newest model has not seen.
    data_version = models.PositiveIntegerField(default=0, editable=False)
    # Kept by every write of indicators (see MetricQuerySet.record_indicator_changes): the
    # list shows it for metrics of millions of rows without counting them.
    indicator_count = models.PositiveIntegerField(_("indicators"), default=0, editable=False)

    # When a verdict is inconclusive: the owner's settings, defaults explained in the README.
    rollback_threshold = models.FloatField(
        _("rollback threshold"),
        default=0.6,
        validators=[MinValueValidator(0.5), MaxValueValidator(1.0)],
        help_text=_("Share of similar past cases that must have been rolled back to recommend a rollback."),
    )
    rollout_threshold = models.FloatField(
        _("rollout threshold"),
        default=0.8,
        validators=[MinValueValidator(0.5), MaxValueValidator(1.0)],
        help_text=_("Share of similar past cases that must have been rolled out to recommend a rollout."),
    )
    min_leaf_cases = models.PositiveIntegerField(
        _("minimum similar cases"),
        default=5,
        # The same bound on every database: PostgreSQL's integer, which SQLite would exceed.
        validators=[MinValueValidator(1), MaxValueValidator(LARGEST_MIN_LEAF_CASES)],
        help_text=_("Fewer similar past cases than this make the verdict inconclusive."),
    )
    range_margin = models.FloatField(
        _("out-of-range margin"),
        default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(10.0)],
        help_text=_(
            "How far beyond the values and times the model has seen an observation may lie, as a share of "
            "their range (0.1 = 10%), before the verdict is inconclusive."
        ),
    )
    refuse_stale = models.BooleanField(
        _("refuse a stale model"),
        default=False,
        help_text=_("When the data changed since the model was trained: inconclusive, rather than a warning."),
    )
    bad_direction = models.CharField(
        _("bad direction"),
        max_length=8,
        choices=BadDirection.choices,
        default=BadDirection.EITHER,
        help_text=_(
            "Which way the value is bad: a value beyond anything the model has seen (by the out-of-range "
            "margin) on that side is judged rollback; on the other side it stays inconclusive."
        ),
    )
    # The version that answers. A new training replaces it unless it is pinned, or the
    # new one is worse on held-out data (see TrainedModelQuerySet.train).
    active_model = models.ForeignKey(
        "metrics.TrainedModel",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("active version"),
    )
    is_active_model_pinned = models.BooleanField(_("active version pinned"), default=False)

    objects = MetricQuerySet.as_manager()

    class Meta:
        ordering = ["name_key", "category_key", "pk"]  # case-insensitive, as people read
        verbose_name = _("metric")
        verbose_name_plural = _("metrics")
        constraints = [
            models.UniqueConstraint(fields=["name_key", "category_key"], name="metric_unique_name_category"),
            models.CheckConstraint(
                condition=Q(min_leaf_cases__lte=LARGEST_MIN_LEAF_CASES), name="metric_min_leaf_cases_bounded"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.category})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.name = normalise_label(self.name)
        self.category = normalise_label(self.category)
        self.name_key = search_key(self.name)
        self.category_key = search_key(self.category)
        if kwargs.get("update_fields") is not None and {"name", "category"} & set(kwargs["update_fields"]):
            kwargs["update_fields"] = {*kwargs["update_fields"], "name_key", "category_key"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("metrics:detail", args=[self.pk])

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        with transaction.atomic():
            # Wait for an upload into this metric to commit, so that its rows go too
            # (otherwise they would point at a deleted metric when they commit).
            self._lock()
            return super().delete(*args, **kwargs)

    def clean(self) -> None:
        duplicates = Metric.objects.same_as(self.name, self.category).exclude(pk=self.pk)
        if self.name and self.category and duplicates.exists():
            raise ValidationError(self.duplicate_message(), code="duplicate")

    def add(self) -> None:
        """Store this new, checked metric. The check and the insert are two steps: a metric of the
        same name and category made by another request in between is refused as the check would."""
        try:
            with transaction.atomic():
                self.save()
        except IntegrityError:
            raise DuplicateMetric(self) from None

    def duplicate_message(self) -> str:
        return gettext("A metric named “%(name)s” already exists in the category “%(category)s”.") % {
            "name": self.name,
            "category": self.category,
        }

    def can_delete(self, user: User | AnonymousUser) -> bool:
        return user.is_authenticated and user.pk == self.owner_id

    def export_file_name(self) -> str:
        """The name its indicators download under, from its page or the API: which metric it is,
        as a person reads it, and its id, as two metrics may share a name (in two categories)."""
        return f"{slugify(self.name)[:60] or 'metric'}-{self.pk}-indicators.csv"

    def add_indicator(self, value: float, decision: int, time: float, user: User) -> Indicator:
        """Store one indicator; raises `MetricDeleted` if the metric is gone."""
        with transaction.atomic():
            self._lock()
            indicator = self.indicators.create(value=value, decision=decision, time=time, created_by=user)
            # Inside the transaction: once it commits, the owner may delete the metric.
            self.refresh_from_db(fields=["data_version"])
        return indicator

    def import_indicators(self, data: IndicatorColumns, user: User | None, batch: ImportBatch | None = None) -> int:
        """Store every row in one transaction; return how many were stored.

        Raises `MetricDeleted`, storing nothing, if the metric was deleted meanwhile.
        """
        from metrics.models.indicator import Indicator

        with transaction.atomic():
            self._lock()
            count = Indicator.objects.bulk_insert(self, data, user, batch)
            # Inside the transaction: once it commits, the owner may delete the metric.
            self.refresh_from_db(fields=["data_version"])
        return count

    def queue_import(
        self,
        user: User,
        *,
        file_name: str,
        data: bytes,
        sha256: str,
        delimiter: str,
        import_again: bool = False,
        send_to_worker: bool = True,
    ) -> Job:
        """Keep an uploaded file and queue its import (a job, sent to a worker once the
        transaction commits; or, without `send_to_worker`, run by the caller: `Job.objects.run_here`).

        Raises `DuplicateFile` when the same file was imported into this metric, or is being
        imported, unless `import_again`; `MetricDeleted` if the metric is gone.
        """
        from metrics.models.indicator import ImportBatch
        from metrics.models.job import Job

        with transaction.atomic():  # no file kept without its job
            # Locked: of two uploads of one file at once (a pipeline retrying while its first
            # request still runs), the second sees the first.
            self._lock()
            uploads = self.batches.filter(fill_minutes__isnull=True)  # a history fill's file is another kind
            if not import_again and (earlier := uploads.imported_file(sha256)) is not None:
                raise DuplicateFile(earlier)
            batch = ImportBatch.objects.create(
                metric=self,
                uploaded_by=user,
                file_name=file_name[:255],
                sha256=sha256,
                size=len(data),
                delimiter=delimiter,
                data=data,
            )
            return Job.objects.enqueue_import(batch, user, send_to_worker=send_to_worker)

    def can_fill(self, user: User | AnonymousUser) -> bool:
        """Filling its history from its data source is its owner's call (who bound it)."""
        return self.can_delete(user)

    def queue_fill(
        self, upload: Upload, minutes: int, user: User, *, file_name: str, send_to_worker: bool = True
    ) -> Job:
        """Keep a fill file (past releases: `started_at,decision[,key,version,name]`) and queue
        its history fill: a job that reads the first `minutes` minutes of each release from the
        metric's data source and stores them as one import batch, all or none (`Job._fill`);
        sent to a worker once the transaction commits, or, without `send_to_worker`, run by the
        caller.

        Raises `NotBound` when the metric has no query to read it with, `DuplicateFill` when the
        same file was filled into it from the same source (and not undone), or is being filled,
        and `MetricDeleted` if the metric is gone. Who may: `can_fill`.
        """
        return self._queue_fill(upload, minutes, user, file_name=file_name, send_to_worker=send_to_worker)

    def queue_fill_from_releases(self, minutes: int, user: User, *, send_to_worker: bool = True) -> Job:
        """Queue a history fill of the releases recorded here with an outcome: those of `user`'s
        gates that judge with this metric (`Release.objects.to_fill`: left out, those whose
        observations their outcome labelled already, whose first `minutes` are not over, or
        recorded twice), each read and stored as a fill file's release would be (`queue_fill`),
        with its decision, key and version; its job says which it read and left out.

        Raises `NothingToFill` when none is left, `DuplicateFill` while an earlier fill of the
        releases recorded here from the same source is kept (undo it to fill them again, with
        those recorded since) or is being filled, and what `queue_fill` raises."""
        from metrics.models.gate import Release
        from metrics.models.indicator import Upload

        if not 1 <= minutes <= MAX_FILL_MINUTES:
            raise ValueError(f"a fill reads 1 to {MAX_FILL_MINUTES} minutes of each release, not {minutes}")
        to_fill = Release.objects.to_fill(self, user, minutes)
        if not to_fill.releases:
            raise NothingToFill(self, to_fill.with_outcome, left_out_words(to_fill.counts))
        data = csv_io.write_release_csv(to_fill.releases)
        return self._queue_fill(
            Upload(data, hashlib.sha256(data).hexdigest()),
            minutes,
            user,
            file_name=gettext("Releases recorded here with an outcome"),
            send_to_worker=send_to_worker,
            releases=to_fill,
        )

    def _queue_fill(
        self,
        upload: Upload,
        minutes: int,
        user: User,
        *,
        file_name: str,
        send_to_worker: bool,
        releases: ReleasesToFill | None = None,
    ) -> Job:
        from metrics.models.indicator import ImportBatch
        from metrics.models.job import Job

        if not 1 <= minutes <= MAX_FILL_MINUTES:
            raise ValueError(f"a fill reads 1 to {MAX_FILL_MINUTES} minutes of each release, not {minutes}")
        with transaction.atomic():
            self._lock()  # as an upload: of two fills of one file at once, the second sees the first
            bound = self.bound_query()
            if bound is None:
                raise NotBound(self)
            fills = self.batches.filter(source=bound.source, fill_minutes__isnull=False)
            if releases is not None:
                # Any earlier one: the releases it read are among these (or were before an outcome changed).
                if (earlier := fills.filter(delimiter=FILL_FROM_RELEASES).kept().first()) is not None:
                    raise DuplicateFill(earlier, from_releases=True)
            elif (earlier := fills.imported_file(upload.sha256)) is not None:
                raise DuplicateFill(earlier)
            batch = ImportBatch.objects.create(
                metric=self,
                uploaded_by=user,
                file_name=file_name[:255],
                sha256=upload.sha256,
                size=len(upload.data),
                delimiter=csv_io.DETECT if releases is None else FILL_FROM_RELEASES,
                data=upload.data,
                source=bound.source,
                fill_minutes=minutes,
            )
            return Job.objects.enqueue_fill(batch, user, send_to_worker=send_to_worker, releases=releases)

    def chart_sample(self) -> IndicatorColumns:
        """An even sample of the indicators, small enough to draw."""
        return self.indicators.sample_columns(settings.MBREAK_CHART_MAX_POINTS)

    def not_enough_data_reason(self) -> str:
        """Why this metric cannot be trained yet (too few indicators, or of one decision), in
        words; empty when it can. The rule is the training's own (`is_enough_to_train`)."""
        from metrics.models.job import not_enough_data_message

        # Each decision read up to the minimum only (no count of a big metric's rows).
        rollbacks, rollouts = (
            len(self.indicators.filter(decision=decision).order_by().values_list("pk", flat=True)[:MIN_INDICATORS])
            for decision in (Decision.ROLLBACK, Decision.ROLLOUT)
        )
        total = self.indicator_count
        if is_enough_to_train(total, rollbacks, rollouts):
            return ""
        # Short of data, a count that reached the minimum is the rest of the rows.
        if rollbacks >= MIN_INDICATORS:
            rollbacks = total - rollouts
        if rollouts >= MIN_INDICATORS:
            rollouts = total - rollbacks
        return not_enough_data_message(self.name, total, rollbacks, rollouts)

    def retraining(self) -> Retraining:
        """What the retraining schedule does with this metric at its next run, as things stand."""
        metrics = Metric.objects.filter(pk=self.pk).with_retraining()
        code = metrics.values_list("scheduled_retraining", flat=True).first()  # type: ignore[misc]  # an annotation
        return Retraining(code) if code is not None else Retraining.NEVER_TRAINED

    def answering_model(self) -> TrainedModel | None:
        """The version that gives this metric's verdicts: the active one (the newest if none is)."""
        versions = self.trained_models.defer("artifact", "chart_sample").select_related("trained_by")
        if self.active_model_id is not None:
            active = versions.filter(pk=self.active_model_id).first()
            if active is not None:
                return active
        return versions.order_by("-version").first()

    def predict(self, value: float, minutes: float, user: User | None, source: str = "web") -> Verdict:
        """Judge a value observed over `minutes`, asked by `user`, and log the verdict.

        Raises `NoTrainedModel` when there is no model yet, and `ModelUnusable` (with
        its cause) when the stored model cannot be trusted on this server.
        """
        from metrics.models.trained_model import TrainedModel
        from metrics.models.verdict import Verdict

        model = TrainedModel.objects.answering_verdicts(self)
        if model is None:
            raise NoTrainedModel(self)
        return Verdict.objects.give(self, model, value, minutes, user, source)

    def save_settings(self, fields: Iterable[str] = VERDICT_SETTINGS) -> None:
        """Store its verdict settings `fields` (all of them by default), and only them: a
        training, an upload or a change of another setting may have changed the rest of its
        row meanwhile. Who may change them: `can_change_settings`."""
        self.save(update_fields=[field for field in VERDICT_SETTINGS if field in fields])

    def can_change_settings(self, user: User | AnonymousUser) -> bool:
        """Thresholds, the active version and its pin are the owner's to set."""
        return self.can_delete(user)

    def activate(self, model: TrainedModel, *, pin: bool) -> None:
        """Make `model` the version that answers; pinned, it stays so through later trainings.

        Raises `ModelUnusable` for a version that cannot answer on this server.
        """
        if model.metric_id != self.pk:
            raise ValueError("a version of another metric")
        cause = model.unusable_cause
        if cause is not None:
            raise ModelUnusable(model, cause)
        Metric.objects.filter(pk=self.pk).update(active_model=model, is_active_model_pinned=pin)
        self.active_model_id, self.is_active_model_pinned = model.pk, pin

    def unpin(self) -> None:
        """Let the next training that is not worse replace the active version again."""
        Metric.objects.filter(pk=self.pk).update(is_active_model_pinned=False)
        self.is_active_model_pinned = False

    def current_candidate(self) -> TrainedModel | None:
        """The newest version when it was trained on the data as it is now but does not answer
        (kept as a candidate: worse than the active one, or the active one pinned). While it
        is, training again gives the same: only the owner's choice of version changes what
        answers."""
        newest = self.trained_models.newest()
        if newest is None or newest.data_version != self.data_version or newest.pk == self.active_model_id:
            return None
        return newest if newest.candidate_reason else None

    def feedback_summary(self) -> dict[str, int]:
        """How the verdicts given were borne out: counts of those confirmed, overridden, or
        decided after an inconclusive verdict, among those with feedback."""
        return self.verdicts.feedback_summary()

    def bound_query(self) -> MetricQuery | None:
        """Its query on a data source, with the source; None when it is not bound."""
        from metrics.models.data_source import MetricQuery

        return MetricQuery.objects.filter(metric=self).select_related("source").first()

    def can_bind(self, user: User | AnonymousUser) -> bool:
        """Where its value is read from in production is the owner's to set, as its settings."""
        return self.can_change_settings(user)

    def bind(self, source: DataSource, user: User | AnonymousUser, **fields: Any) -> MetricQuery:
        """Read this metric's value from `source` with the query `fields` (those of `MetricQuery`:
        what is not given takes its default), in place of the query it had.

        Raises `PermissionDenied` unless `user` owns both the metric and the source,
        `ValidationError` for a query `MetricQuery.clean` refuses, `MetricDeleted` if the metric
        is gone, `SourceDeleted` if the source is; nothing is changed then."""
        from metrics.models.data_source import DataSource, MetricQuery, SourceKind

        if not self.can_bind(user):
            raise PermissionDenied(gettext("Only the metric's owner may bind it to a data source."))
        if not source.can_change(user):
            raise PermissionDenied(gettext("Only a data source's owner may bind metrics to it."))
        query = MetricQuery(metric=self, source=source, **fields)
        # Only what the source's kind reads is kept: a Prometheus query does not linger under a
        # CloudWatch source, nor the other way round.
        if source.kind == SourceKind.CLOUDWATCH:
            query.query = ""
        else:
            query.namespace, query.metric_name, query.dimensions = "", "", []
        with transaction.atomic():
            self._lock()
            # Locked too: a source is not deleted while a metric is being bound to it (nor after).
            if not DataSource.objects.select_for_update().filter(pk=source.pk).values_list("pk", flat=True):
                raise SourceDeleted()
            earlier = MetricQuery.objects.filter(metric=self).values_list("pk", "created_at").first()
            if earlier is not None:
                query.pk, query.created_at = earlier
            query.updated_at = timezone.now()
            # Unique by its metric, which is locked: the row, if any, is the one replaced.
            query.full_clean(exclude=["metric"], validate_unique=False)
            query.save()
        return query

    def unbind(self, user: User | AnonymousUser) -> bool:
        """Stop reading this metric's value from a data source; whether it was bound to one.
        Raises `PermissionDenied` unless `user` owns the metric."""
        from metrics.models.data_source import MetricQuery

        if not self.can_bind(user):
            raise PermissionDenied(gettext("Only the metric's owner may bind it to a data source."))
        deleted, _by_model = MetricQuery.objects.filter(metric=self).delete()
        return bool(deleted)

    def _lock(self) -> None:
        """Lock this metric's row until the transaction ends; raise `MetricDeleted` if it is gone.

        On PostgreSQL a row lock; SQLite runs each transaction with the database's
        write lock (`transaction_mode` IMMEDIATE), which serialises the same way.
        """
        if not Metric.objects.select_for_update().filter(pk=self.pk).values_list("pk", flat=True):
            raise MetricDeleted(self)
