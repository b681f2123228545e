from __future__ import annotations

import functools
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, models, transaction
from django.db.models import Max, Q
from django.utils import timezone, translation
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from metrics.exceptions import ModelUnusable
from metrics.formatting import percent
from metrics.models.metric import Metric
from metrics.models.verdict import Reason, Rule, model_reasons, reason_text, rules_of
from predictor import artifacts, charts, explain, training
from predictor.columns import IndicatorColumns

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from sklearn.tree import DecisionTreeClassifier

    from predictor.explain import CompiledTree

logger = logging.getLogger(__name__)

PAIRPLOT_CACHE_SECONDS = 7 * 24 * 3600


def signing_keys() -> list[bytes]:
    """The key that signs new models, then the older keys whose signatures are still accepted.

    `MBREAK_MODEL_SIGNING_KEY` (and its `_FALLBACKS`) when set; otherwise keys derived
    from `SECRET_KEY` and `SECRET_KEY_FALLBACKS`, so that rotating Django's key the
    documented way (old key kept as a fallback) keeps every model usable.
    """
    if settings.MBREAK_MODEL_SIGNING_KEY:
        keys = [settings.MBREAK_MODEL_SIGNING_KEY, *settings.MBREAK_MODEL_SIGNING_KEY_FALLBACKS]
    else:
        keys = [f"models:{key}" for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]]
    return [key.encode() for key in keys]


class Unusable(models.TextChoices):
    """Why a stored model cannot answer on this server."""

    HASH = "hash", _("its stored bytes no longer match their hash: it was altered in the database")
    SIGNATURE = "signature", _("its signature does not match: it was altered in the database")
    UNKNOWN_KEY = (
        "key",
        _(
            "it was signed with a key this server no longer has (the secret key changed without "
            "the old one kept as a fallback)"
        ),
    )
    SKLEARN_VERSION = "sklearn", _("it was made by another version of scikit-learn than this server runs")
    NOT_A_TREE = "not_a_tree", _("the stored object is not a decision tree")


# What a refusal found in the stored bytes themselves: it stays true whatever the server's
# configuration, so it is recorded on the model. A key or version mismatch is not: another
# server, or this one once configured right, can use the model.
_REFUSALS_RECORDED = {
    artifacts.RefusalCause.HASH: Unusable.HASH,
    artifacts.RefusalCause.SIGNATURE: Unusable.SIGNATURE,
    artifacts.RefusalCause.NOT_A_TREE: Unusable.NOT_A_TREE,
}


KeyT = TypeVar("KeyT")
ValueT = TypeVar("ValueT")


class _LruCache(Generic[KeyT, ValueT]):
    """A small thread-safe least-recently-used cache, for what a process reads once per version.

    Kept for the compiled trees only, where `functools.lru_cache` (used for the samples and the
    versions, and faster: 114 ns a hit against 608) does not fit: compiling needs the version
    read and who asked (named in the log when its bytes are refused), while the key is the
    version's id and bytes' hash; `lru_cache` keys on every argument of what it computes.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[KeyT, ValueT] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: KeyT) -> ValueT | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def put(self, key: KeyT, value: ValueT) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


_COMPILED_TREES: _LruCache[tuple[int, str, str], CompiledTree] = _LruCache(256)


@dataclass(frozen=True)
class ChartSample:
    """Indicators sampled at training: their ids (for who registered them and when) and columns."""

    ids: list[int]
    columns: IndicatorColumns
    # Who registered each row and when, as they stood at training; None for a version trained
    # before they were kept with the sample (its verdicts read them from the indicators).
    registered_by: list[str] | None = None
    registered_at: list[str | None] | None = None

    @cached_property
    def arrays(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Values and times as arrays, made once per process (searched at every verdict)."""
        return np.asarray(self.columns.values, dtype=np.float64), np.asarray(self.columns.times, dtype=np.float64)

    @classmethod
    def from_json(cls, stored: dict[str, list[Any]] | None) -> ChartSample:
        stored = stored or {"ids": [], "values": [], "times": [], "decisions": []}
        columns = IndicatorColumns(values=stored["values"], times=stored["times"], decisions=stored["decisions"])
        return cls(
            ids=stored["ids"],
            columns=columns,
            registered_by=stored.get("registered_by"),
            registered_at=stored.get("registered_at"),
        )


@functools.lru_cache(maxsize=256)
def _sample_of(version_id: int) -> ChartSample:
    return ChartSample.from_json(TrainedModel.objects.values_list("chart_sample", flat=True).get(pk=version_id))


@functools.lru_cache(maxsize=256)
def _verdict_version(metric_id: int, version_id: int) -> TrainedModel:
    """What a verdict reads of a version; `TrainedModel.DoesNotExist` (not kept) if it is gone."""
    return TrainedModel.objects.only(*VERDICT_FIELDS).get(metric=metric_id, pk=version_id)


# What giving a verdict reads of a version (`Metric.predict` reads no more; its bytes are
# read once per process, when its tree is compiled).
VERDICT_FIELDS = (
    "metric",
    "version",
    "data_version",
    "accuracy",
    "baseline_accuracy",
    "n_trained_on",
    "value_min",
    "value_max",
    "minutes_min",
    "minutes_max",
    "artifact_sha256",
    "artifact_signature",
    "signing_key_id",
    "sklearn_version",
    "refused_because",
)


def forget_read_versions() -> None:
    """Drop every version this process has read, verified and compiled. Ids are never reused
    in one database, so a server needs no such call; tests do, as ids repeat between them."""
    _COMPILED_TREES.clear()
    _sample_of.cache_clear()
    _verdict_version.cache_clear()


def chart_labels() -> charts.ChartLabels:
    """The words on the charts, in the active language."""
    return charts.ChartLabels(
        value=gettext("Value"),
        time=gettext("Time (minutes)"),
        decision=gettext("Decision"),
        rollback=gettext("Rollback"),
        rollout=gettext("Rollout"),
        observation=gettext("Your observation"),
    )


def cached(key: str, compute: Callable[[], Any], seconds: int = PAIRPLOT_CACHE_SECONDS) -> Any:
    """`compute()`, kept in the shared cache under `key`. A cache that cannot be reached (Redis
    down) makes pages slower, not broken: the value is computed each time, and that is logged."""
    try:
        value = cache.get(key)
    except Exception:
        logger.warning("cache unreachable: %s computed without it", key, exc_info=True)
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(key, value, seconds)
        except Exception:
            logger.warning("cache unreachable: %s not kept", key, exc_info=True)
    return value


class CandidateReason(models.TextChoices):
    """Why a new training did not become the active version."""

    PINNED = "pinned", _("the active version is pinned")
    WORSE = "worse", _("its held-out accuracy is worse than the active version's")


# A new version must not be worse than the active one by more than this (2 points of
# held-out accuracy): the noise between two trainings on nearly the same data.
PROMOTION_TOLERANCE = 0.02


def chart_sample(data: IndicatorColumns, ids: Sequence[int], max_points: int) -> dict[str, list[Any]]:
    """An even sample of the training data with the indicators' ids: drawn on the charts, and
    searched for the past cases nearest to an observation, without reading all the data again."""
    stride = max(1, math.ceil(len(data) / max_points))
    return {
        "ids": list(ids[::stride]),
        "values": list(data.values[::stride]),
        "times": list(data.times[::stride]),
        "decisions": list(data.decisions[::stride]),
    }


def with_registrations(sample: dict[str, list[Any]], metric: Metric) -> dict[str, list[Any]]:
    """`sample` with who registered each of its indicators and when, as they stand when the
    version is trained: a verdict names its nearest cases' authors without a query."""
    registered = metric.indicators.registrations(sample["ids"])
    return {
        **sample,
        "registered_by": [person for person, _when in registered],
        "registered_at": [when for _person, when in registered],
    }


def figures_of(result: training.TrainingResult) -> dict[str, Any]:
    """What a version keeps of its training: its held-out figures (the model card), what it was
    trained on and the range of data it saw. A replay's unsaved versions are made of the same."""
    return {
        "accuracy": result.accuracy,
        "n_indicators": result.n_indicators,
        "n_trained_on": result.n_trained_on,
        "n_rollback": result.n_rollback,
        "n_rollout": result.n_rollout,
        "max_depth": result.max_depth,
        "n_leaves": result.n_leaves,
        "baseline_accuracy": result.baseline_accuracy,
        "balanced_accuracy": result.balanced_accuracy,
        "rollback_precision": result.rollback_precision,
        "rollback_recall": result.rollback_recall,
        "confusion_rollout_as_rollout": result.confusion.rollout_as_rollout,
        "confusion_rollout_as_rollback": result.confusion.rollout_as_rollback,
        "confusion_rollback_as_rollout": result.confusion.rollback_as_rollout,
        "confusion_rollback_as_rollback": result.confusion.rollback_as_rollback,
        "value_min": result.value_range[0],
        "value_max": result.value_range[1],
        "minutes_min": result.minutes_range[0],
        "minutes_max": result.minutes_range[1],
        "data_sha256": result.data_sha256,
        "training_seconds": result.training_seconds,
    }


class TrainedModelQuerySet(models.QuerySet["TrainedModel"]):
    def answering_verdicts(self, metric: Metric) -> TrainedModel | None:
        """The version that answers `metric`'s verdicts, with only what a verdict reads of it
        (`VERDICT_FIELDS`): the active one, else the newest.

        A version does not change once trained (its refusal aside, which the process that
        reads its bytes records and sees), so the active one is read once per process, like
        its tree and its sample: a verdict then costs no query for it. A metric with no
        active version has its newest read each time, as a training may add one at any moment.
        """
        if metric.active_model_id is not None:
            try:
                return _verdict_version(metric.pk, metric.active_model_id)
            except TrainedModel.DoesNotExist:  # deleted meanwhile (by staff): the newest answers
                pass
        return self.filter(metric=metric).only(*VERDICT_FIELDS).order_by("-version").first()

    def newest(self, *, with_artifact: bool = False) -> TrainedModel | None:
        """The newest version; call it on `metric.trained_models`, which also sets `.metric`."""
        models = self.select_related("trained_by").order_by("-version")
        return (models if with_artifact else models.defer("artifact")).first()

    def train(
        self, metric: Metric, user: User | None, progress: training.Progress = training._no_progress
    ) -> TrainedModel:
        """Train a new version of `metric`'s model on all its indicators and store it.

        The new version becomes the active one (the one that answers) unless the active
        version is pinned, or the new one's held-out accuracy is worse than the active
        one's by more than `PROMOTION_TOLERANCE`: then it is kept as a candidate, with why.

        Raises `training.NotEnoughDataError` (or another `TrainingDataError`) when the
        data cannot give a model.
        """
        # Read the data version first: rows added while fitting make the metric stale again.
        progress("reading", 0, 1)
        data_version = Metric.objects.values_list("data_version", flat=True).get(pk=metric.pk)
        data, ids = metric.indicators.columns_and_ids()
        result = training.fit_decision_tree(data, max_rows=settings.MBREAK_MAX_TRAINING_ROWS, progress=progress)
        progress("storing", 0, 1)
        artifact = artifacts.dump_model(result.model, signing_keys()[0])
        fields = {
            "metric": metric,
            "data_version": data_version,
            "artifact": artifact.data,
            "artifact_sha256": artifact.sha256,
            "artifact_signature": artifact.signature,
            "signing_key_id": artifact.key_id,
            "sklearn_version": artifact.sklearn_version,
            **figures_of(result),
            "chart_sample": with_registrations(chart_sample(data, ids, settings.MBREAK_CHART_MAX_POINTS), metric),
            "trained_by": user,
        }
        try:
            return self._create_next_version(metric, fields)
        except IntegrityError:
            # Another training of this metric took the version number (SQLite cannot
            # lock the row); the next one is free now.
            return self._create_next_version(metric, fields)

    def _create_next_version(self, metric: Metric, fields: dict[str, Any]) -> TrainedModel:
        with transaction.atomic():
            # Lock the metric row so that two trainings cannot take the same version, nor
            # both think they replace the same active version.
            locked = Metric.objects.select_for_update().get(pk=metric.pk)
            last = self.filter(metric=metric).aggregate(last=Max("version"))["last"] or 0
            model = self.create(version=last + 1, **fields)
            active = (
                None
                if locked.active_model_id is None
                else self.filter(pk=locked.active_model_id).defer("artifact", "chart_sample").first()
            )
            model.candidate_reason = self._candidate_reason(model, active, locked.is_active_model_pinned)
            if active is not None and model.candidate_reason:
                model.compared_version, model.compared_accuracy = active.version, active.accuracy
                model.save(update_fields=["candidate_reason", "compared_version", "compared_accuracy"])
            else:
                Metric.objects.filter(pk=metric.pk).update(active_model=model, is_active_model_pinned=False)
            metric.active_model_id = locked.active_model_id if model.candidate_reason else model.pk
            metric.is_active_model_pinned = locked.is_active_model_pinned and bool(model.candidate_reason)
            return model

    @staticmethod
    def _candidate_reason(new: TrainedModel, active: TrainedModel | None, pinned: bool) -> str:
        if active is None or not active.is_usable:
            return ""  # a version that cannot answer is replaced whatever the new one's score
        if pinned:
            return CandidateReason.PINNED
        if new.accuracy < active.accuracy - PROMOTION_TOLERANCE:
            return CandidateReason.WORSE
        return ""


class TrainedModel(models.Model):
    metric = models.ForeignKey(
        Metric, on_delete=models.CASCADE, related_name="trained_models", verbose_name=_("metric")
    )
    version = models.PositiveIntegerField(_("version"))
    data_version = models.PositiveIntegerField(editable=False)
    # Stored in the database rather than on disk so that every app server shares it.
    artifact = models.BinaryField(_("fitted model (joblib)"))
    artifact_sha256 = models.CharField(_("sha256 of the fitted model"), max_length=64)
    # HMAC-SHA256 with a server-side key: a hash alone stored beside the bytes would not
    # stop someone who can write to the database from swapping both.
    artifact_signature = models.CharField(_("signature of the fitted model"), max_length=64)
    # Which key signed it (`artifacts.key_id`): pages tell a model signed with a key the
    # server no longer has without reading and hashing its bytes.
    signing_key_id = models.CharField(_("signing key id"), max_length=16, blank=True, default="")
    # Set when loading found the stored bytes altered: such a model never loads again.
    refused_because = models.CharField(
        _("refused because"), max_length=16, blank=True, default="", choices=Unusable.choices
    )
    sklearn_version = models.CharField(_("scikit-learn version"), max_length=32)
    accuracy = models.FloatField(_("held-out accuracy"))
    n_indicators = models.PositiveIntegerField(_("indicators"))
    n_trained_on = models.PositiveIntegerField(_("indicators in the training sample"))
    n_rollback = models.PositiveIntegerField(_("rollback indicators"))
    n_rollout = models.PositiveIntegerField(_("rollout indicators"))
    max_depth = models.PositiveIntegerField(_("tree depth limit"), null=True, blank=True)
    n_leaves = models.PositiveIntegerField(_("leaves"))
    # The model card: held-out figures from the same outer folds as `accuracy`. Empty for
    # versions trained before they were kept.
    baseline_accuracy = models.FloatField(_("majority baseline accuracy"), null=True, blank=True)
    balanced_accuracy = models.FloatField(_("balanced accuracy"), null=True, blank=True)
    rollback_precision = models.FloatField(_("rollback precision"), null=True, blank=True)
    rollback_recall = models.FloatField(_("rollback recall"), null=True, blank=True)
    confusion_rollout_as_rollout = models.PositiveIntegerField(null=True, blank=True)
    confusion_rollout_as_rollback = models.PositiveIntegerField(null=True, blank=True)
    confusion_rollback_as_rollout = models.PositiveIntegerField(null=True, blank=True)
    confusion_rollback_as_rollback = models.PositiveIntegerField(null=True, blank=True)
    # What the model has seen: an observation far outside it gets an inconclusive verdict.
    value_min = models.FloatField(null=True, blank=True)
    value_max = models.FloatField(null=True, blank=True)
    minutes_min = models.FloatField(null=True, blank=True)
    minutes_max = models.FloatField(null=True, blank=True)
    data_sha256 = models.CharField(_("sha256 of the training data"), max_length=64, blank=True, default="")
    training_seconds = models.FloatField(_("training time (s)"), null=True, blank=True)
    # See `chart_sample()` and `with_registrations()`: {"ids": [...], "values": [...], "times": [...],
    # "decisions": [...], "registered_by": [...], "registered_at": [...]} (the last two since 2026-11).
    chart_sample = models.JSONField(null=True, blank=True, editable=False)
    # Empty when this version became the active one as it was trained; else why not, and
    # the active version it was compared with.
    candidate_reason = models.CharField(
        _("kept as a candidate because"), max_length=16, blank=True, default="", choices=CandidateReason.choices
    )
    compared_version = models.PositiveIntegerField(null=True, blank=True)
    compared_accuracy = models.FloatField(null=True, blank=True)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="trained_models",
        verbose_name=_("trained by"),
    )
    trained_at = models.DateTimeField(_("trained at"), default=timezone.now)

    objects = TrainedModelQuerySet.as_manager()

    class Meta:
        ordering = ["metric", "-version"]
        verbose_name = _("trained model")
        verbose_name_plural = _("trained models")
        constraints = [
            models.UniqueConstraint(fields=["metric", "version"], name="trained_model_unique_version"),
        ]

    def __str__(self) -> str:
        return f"{self.metric.name} v{self.version}"

    @staticmethod
    def usable_condition(prefix: str = "") -> Q:
        """Where a model can be used on this server, as a filter: `prefix` names annotated copies of the fields."""
        return Q(
            **{
                f"{prefix}refused_because": "",
                f"{prefix}sklearn_version": artifacts.running_sklearn_version(),
                f"{prefix}signing_key_id__in": [artifacts.key_id(key) for key in signing_keys()],
            }
        )

    @property
    def unusable_cause(self) -> Unusable | None:
        """Why this model cannot answer on this server, as far as can be told without reading its bytes."""
        if self.refused_because:
            return Unusable(self.refused_because)
        if self.sklearn_version != artifacts.running_sklearn_version():
            return Unusable.SKLEARN_VERSION
        if self.signing_key_id not in {artifacts.key_id(key) for key in signing_keys()}:
            return Unusable.UNKNOWN_KEY
        return None

    @property
    def is_usable(self) -> bool:
        return self.unusable_cause is None

    @property
    def rollback_share(self) -> float:
        return self.n_rollback / self.n_indicators if self.n_indicators else 0.0

    @property
    def rollout_share(self) -> float:
        return self.n_rollout / self.n_indicators if self.n_indicators else 0.0

    @property
    def is_sampled(self) -> bool:
        return self.n_trained_on < self.n_indicators

    @property
    def is_current(self) -> bool:
        return self.data_version == self.metric.data_version

    def load_estimator(self, requested_by: User | None = None) -> DecisionTreeClassifier:
        """The fitted tree; raises `ModelUnusable` (and logs why) if it cannot be trusted here."""
        cause = self.unusable_cause
        if cause is not None:
            self._log_refusal(cause, requested_by, detail=f"sklearn {self.sklearn_version}, key {self.signing_key_id}")
            raise ModelUnusable(self, cause)
        # Read without keeping them on a version that deferred them: verdicts keep their
        # version in memory (`answering_verdicts`), and need its bytes only to compile its tree.
        if "artifact" in self.get_deferred_fields():
            data = TrainedModel.objects.values_list("artifact", flat=True).get(pk=self.pk)
        else:
            data = self.artifact
        try:
            return artifacts.load_model(
                bytes(data),
                sha256=self.artifact_sha256,
                signature=self.artifact_signature,
                sklearn_version=self.sklearn_version,
                keys=signing_keys(),
            )
        except artifacts.ArtifactError as refused:
            cause = _REFUSALS_RECORDED.get(refused.cause, Unusable.SKLEARN_VERSION)
            self._log_refusal(cause, requested_by, detail=str(refused))
            if refused.cause in _REFUSALS_RECORDED:
                TrainedModel.objects.filter(pk=self.pk).update(refused_because=cause)
                self.refused_because = cause
            raise ModelUnusable(self, cause) from refused

    def compiled_tree(self, requested_by: User | None = None) -> CompiledTree:
        """The fitted tree in the form verdicts walk; raises `ModelUnusable` if it cannot be trusted here.

        Read, verified and compiled once per process and version: a verdict costs the same
        on a metric of a million indicators as on one of four hundred.
        """
        cause = self.unusable_cause  # checked every time: the server's keys may have changed
        if cause is not None:
            self._log_refusal(cause, requested_by, detail=f"sklearn {self.sklearn_version}, key {self.signing_key_id}")
            raise ModelUnusable(self, cause)
        key = (self.pk, self.artifact_sha256, self.artifact_signature)
        tree = _COMPILED_TREES.get(key)
        if tree is None:
            tree = explain.compile_tree(self.load_estimator(requested_by))
            _COMPILED_TREES.put(key, tree)
        return tree

    def sample(self) -> ChartSample:
        """The even sample of its training data kept with this version (read once per process)."""
        return _sample_of(self.pk)

    def regions_figure(self, labels: charts.ChartLabels) -> dict[str, Any] | None:
        """The plotly chart of this version's decision regions and its sample, drawn once per
        version and language; None for a version that cannot be read here, or kept no range."""
        if self.value_min is None or self.value_max is None or self.minutes_min is None or self.minutes_max is None:
            return None
        key = f"regions:{self.pk}:{self.artifact_sha256}:{get_language()}"

        def draw() -> dict[str, Any] | None:
            try:
                leaves = self.compiled_tree().leaves()
            except ModelUnusable:
                return None
            box = charts.Box.around(
                (self.value_min or 0, self.value_max or 0), (self.minutes_min or 0, self.minutes_max or 0)
            )
            return charts.decision_regions_figure(leaves, self.sample().columns, box, labels)

        figure: dict[str, Any] | None = cached(key, draw)
        return figure

    def tree_rules(self) -> list[Rule]:
        """Every leaf of the tree with the conditions that lead to it: the whole model, readable,
        each leaf labelled as a verdict landing in it would be under the metric's settings now."""
        return rules_of(self.metric, self.compiled_tree().leaves(), self.verdict_reasons())

    def verdict_reasons(self) -> list[dict[str, Any]]:
        """Why every verdict of this version would be inconclusive now, whatever the observation
        (no better than the baseline beyond chance, or stale on a metric that refuses it)."""
        return model_reasons(self.metric, self, is_stale=not self.is_current)

    def verdict_reason_texts(self) -> list[str]:
        """`verdict_reasons()` in words, in the active language."""
        return [reason_text(reason) for reason in self.verdict_reasons()]

    @property
    def has_card(self) -> bool:
        """Whether it was trained with its held-out figures (versions trained before they were kept have none)."""
        return self.baseline_accuracy is not None

    @property
    def accuracy_lower_bound(self) -> float:
        """What its held-out accuracy is known to be above, at 95% confidence (Wilson): each of
        the rows it was trained on was predicted once by a model that had not seen it."""
        return training.wilson_lower_bound(self.accuracy, self.n_trained_on)

    @property
    def is_better_than_baseline(self) -> bool:
        """Better than always answering the most common decision beyond chance: its accuracy's
        95% lower bound is above that baseline (a version without a baseline cannot tell)."""
        return self.baseline_accuracy is not None and self.accuracy_lower_bound > self.baseline_accuracy

    @property
    def could_be_chance(self) -> bool:
        """Above the baseline, but not beyond chance: it rests on too little data to trust
        (the verdicts' own reason, `model_reasons`)."""
        reasons = model_reasons(self.metric, self, is_stale=False)
        return any(reason["code"] == Reason.COULD_BE_CHANCE for reason in reasons)

    @property
    def is_active(self) -> bool:
        return self.metric.active_model_id == self.pk

    @cached_property
    def was_scheduled(self) -> bool:
        """Whether the retraining schedule trained it (by nobody, then)."""
        from metrics.models.job import Job

        return self.trained_by_id is None and Job.objects.filter(result=self.pk, scheduled=True).exists()

    @property
    def candidate_summary(self) -> str:
        """Why this version did not become the active one when it was trained, as its model card
        says it; "" when it did."""
        if not self.candidate_reason:
            return ""
        return gettext("Kept as a candidate: %(reason)s (version %(compared)s, %(accuracy)s).") % {
            "reason": self.get_candidate_reason_display(),
            "compared": self.compared_version,
            "accuracy": percent(self.compared_accuracy),
        }

    def pairplot_png(self) -> bytes:
        """The pairplot of the data this version learnt from (its stored sample), in the active
        language: drawn once per version and language (by the training job, see `draw_charts`),
        then cached; no page reads a big metric's rows to draw it."""

        def draw() -> bytes:
            sample = self.sample().columns
            # A version trained before samples were kept: the metric's data as it is now.
            return charts.render_pairplot_png(sample if len(sample) else self.metric.chart_sample(), chart_labels())

        png: bytes = cached(f"pairplot:{self.pk}:{self.artifact_sha256}:{get_language()}", draw)
        return png

    def draw_charts(self) -> None:
        """Draw this version's pairplot in every language into the shared cache, so that the
        first person to open it does not wait for the drawing. A failure is logged, not raised:
        the page would draw it again."""
        for language, _name in settings.LANGUAGES:
            try:
                with translation.override(language):
                    self.pairplot_png()
            except Exception:
                logger.exception("pairplot of model %s (%s) not drawn", self.pk, language)

    def _log_refusal(self, cause: Unusable, requested_by: User | None, detail: str) -> None:
        logger.warning(
            "Refused model %s (id %s, metric %s) for user %s: %s (%s)",
            self,
            self.pk,
            self.metric_id,
            requested_by.get_username() if requested_by else "-",
            cause.value,
            detail,
        )
