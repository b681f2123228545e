from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, models, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from metrics.models.metric import Decision, Metric, MetricQuerySet
from predictor import artifacts, charts, inference, training

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from sklearn.tree import DecisionTreeClassifier

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


class NoTrainedModel(Exception):
    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        super().__init__(
            gettext("“%(name)s” has no trained model yet. Train it, then run the prediction again.")
            % {"name": metric.name}
        )


class ModelUnusable(Exception):
    def __init__(self, model: TrainedModel, cause: Unusable) -> None:
        self.model = model
        self.cause = cause
        super().__init__(
            gettext("Version %(version)d of the model of “%(name)s” cannot be used: %(cause)s. Train it again.")
            % {"version": model.version, "name": model.metric.name, "cause": cause.label}
        )


@dataclass(frozen=True)
class Prediction:
    value: float
    minutes: float
    decision: int
    probability: float
    model: TrainedModel

    @property
    def is_rollback(self) -> bool:
        return self.decision == Decision.ROLLBACK

    def scatter_figure(self, labels: charts.ChartLabels) -> dict[str, Any]:
        """The metric's data (a sample) as a plotly figure, with this observation marked."""
        observation = charts.Observation(value=self.value, minutes=self.minutes, decision=self.decision)
        return charts.scatter_figure_json(self.model.metric.chart_sample(), labels, observation)


@dataclass
class TrainingReport:
    trained: list[TrainedModel] = field(default_factory=list)
    not_enough_data: list[Metric] = field(default_factory=list)
    failed: list[Metric] = field(default_factory=list)
    # Left for another run once the time budget is spent.
    remaining: list[Metric] = field(default_factory=list)

    @property
    def did_nothing(self) -> bool:
        return not (self.trained or self.not_enough_data or self.failed or self.remaining)


class TrainedModelQuerySet(models.QuerySet["TrainedModel"]):
    def newest(self, *, with_artifact: bool = False) -> TrainedModel | None:
        """The newest version; call it on `metric.trained_models`, which also sets `.metric`."""
        models = self.select_related("trained_by").order_by("-version")
        return (models if with_artifact else models.defer("artifact")).first()

    def train(self, metric: Metric, user: User | None) -> TrainedModel:
        """Train a new version of `metric`'s model on all its indicators and store it.

        Raises `training.NotEnoughDataError` (or another `TrainingDataError`) when the
        data cannot give a model.
        """
        # Read the data version first: rows added while fitting make the metric stale again.
        data_version = Metric.objects.values_list("data_version", flat=True).get(pk=metric.pk)
        result = training.fit_decision_tree(metric.indicators.columns(), max_rows=settings.MBREAK_MAX_TRAINING_ROWS)
        artifact = artifacts.dump_model(result.model, signing_keys()[0])
        fields = {
            "metric": metric,
            "data_version": data_version,
            "artifact": artifact.data,
            "artifact_sha256": artifact.sha256,
            "artifact_signature": artifact.signature,
            "signing_key_id": artifact.key_id,
            "sklearn_version": artifact.sklearn_version,
            "accuracy": result.accuracy,
            "n_indicators": result.n_indicators,
            "n_trained_on": result.n_trained_on,
            "n_rollback": result.n_rollback,
            "n_rollout": result.n_rollout,
            "max_depth": result.max_depth,
            "n_leaves": result.n_leaves,
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
            # Lock the metric row so that two trainings cannot take the same version.
            Metric.objects.select_for_update().filter(pk=metric.pk).first()
            last = self.filter(metric=metric).aggregate(last=Max("version"))["last"] or 0
            return self.create(version=last + 1, **fields)

    def train_each(self, metrics: MetricQuerySet, user: User | None, budget_seconds: float | None) -> TrainingReport:
        """Train each of `metrics` in turn; see `MetricQuerySet.train_each`."""
        report = TrainingReport()
        deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
        for metric in metrics:
            # At least one training per run, so that every run makes progress.
            attempted = report.trained or report.not_enough_data or report.failed
            if attempted and deadline is not None and time.monotonic() > deadline:
                report.remaining.append(metric)
                continue
            try:
                report.trained.append(self.train(metric, user))
            except training.NotEnoughDataError:
                report.not_enough_data.append(metric)
            except training.TrainingDataError:
                report.failed.append(metric)
        return report


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
        try:
            return artifacts.load_model(
                bytes(self.artifact),
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

    def predict(self, value: float, minutes: float, user: User | None) -> Prediction:
        answer = inference.predict_decision(self.load_estimator(requested_by=user), value, minutes)
        return Prediction(
            value=value, minutes=minutes, decision=answer.decision, probability=answer.probability, model=self
        )

    def pairplot_png(self, labels: charts.ChartLabels) -> bytes:
        """The pairplot of the metric's data, drawn once per data version and language, then cached."""
        # The picture shows the metric's data: it changes with the data, not only with the model.
        key = f"pairplot:{self.pk}:{self.metric.data_version}:{get_language()}"
        png: bytes | None = cache.get(key)
        if png is None:
            png = charts.render_pairplot_png(self.metric.chart_sample(), labels)
            cache.set(key, png, PAIRPLOT_CACHE_SECONDS)
        return png

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
