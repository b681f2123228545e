from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from metrics.models import Decision, Metric
from predictor import artifacts, training

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from sklearn.tree import DecisionTreeClassifier


@dataclass(frozen=True)
class Prediction:
    decision: int
    probability: float
    model: TrainedModel

    @property
    def is_rollback(self) -> bool:
        return self.decision == Decision.ROLLBACK


@dataclass
class TrainingReport:
    trained: list[TrainedModel] = field(default_factory=list)
    not_enough_data: list[Metric] = field(default_factory=list)
    failed: list[Metric] = field(default_factory=list)
    # Left for another press of the button once the time budget is spent.
    remaining: list[Metric] = field(default_factory=list)


class TrainedModelQuerySet(models.QuerySet["TrainedModel"]):
    def newest(self, *, with_artifact: bool = False) -> TrainedModel | None:
        """The newest version; call it on `metric.trained_models`, which also sets `.metric`."""
        models = self.select_related("trained_by").order_by("-version")
        return (models if with_artifact else models.defer("artifact")).first()

    def train(self, metric: Metric, user: User) -> TrainedModel:
        """Train a new version of `metric`'s model on all its indicators and store it.

        Raises `training.NotEnoughDataError` (or another `TrainingDataError`) when the
        data cannot give a model.
        """
        # Read the data version first: rows added while fitting make the metric stale again.
        data_version = Metric.objects.values_list("data_version", flat=True).get(pk=metric.pk)
        values, times, decisions = metric.training_data()
        result = training.fit_decision_tree(values, times, decisions, max_rows=settings.MBREAK_MAX_TRAINING_ROWS)
        artifact = artifacts.dump_model(result.model, settings.MBREAK_MODEL_SIGNING_KEY)
        fields = {
            "metric": metric,
            "data_version": data_version,
            "artifact": artifact.data,
            "artifact_sha256": artifact.sha256,
            "artifact_signature": artifact.signature,
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

    def train_stale(self, user: User, budget_seconds: float) -> TrainingReport:
        """Train every metric whose data changed since its newest model (or that has none).

        No new training starts once `budget_seconds` have passed, so that the request
        ends in time; the metrics left are reported.
        """
        report = TrainingReport()
        deadline = time.monotonic() + budget_seconds
        for metric in Metric.objects.needing_training():
            # At least one training per press, so that every press makes progress.
            attempted = report.trained or report.not_enough_data or report.failed
            if attempted and time.monotonic() > deadline:
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

    def load_estimator(self) -> DecisionTreeClassifier:
        """The fitted tree; raises `artifacts.ArtifactError` if it cannot be trusted."""
        return artifacts.load_model(
            bytes(self.artifact),
            sha256=self.artifact_sha256,
            signature=self.artifact_signature,
            sklearn_version=self.sklearn_version,
            key=settings.MBREAK_MODEL_SIGNING_KEY,
        )

    def predict(self, value: float, time: float) -> Prediction:
        decision, probability = training.predict_decision(self.load_estimator(), value, time)
        return Prediction(decision=decision, probability=probability, model=self)
