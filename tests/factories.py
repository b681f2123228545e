from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, TypeVar

import factory
from django.contrib.auth.models import User
from django.db import models
from django.db.models import Max

from metrics.models import Decision, Indicator, Metric, TrainedModel, signing_keys
from metrics.models.trained_model import chart_sample, with_registrations
from predictor import artifacts
from predictor.columns import IndicatorColumns

if TYPE_CHECKING:
    from sklearn.tree import DecisionTreeClassifier

PASSWORD = "correct-horse-battery-staple"

ModelT = TypeVar("ModelT", bound=models.Model)


class ModelFactory(factory.django.DjangoModelFactory[ModelT]):
    """A factory whose `create` mypy knows returns the model."""

    class Meta:
        abstract = True

    if TYPE_CHECKING:
        # factory_boy is untyped: say what `create` returns, and call it rather than the class.

        @classmethod
        def create(cls, **kwargs: Any) -> ModelT: ...

        @classmethod
        def create_batch(cls, size: int, **kwargs: Any) -> list[ModelT]: ...


class UserFactory(ModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj: User, create: bool, extracted: object, **kwargs: object) -> None:  # noqa: N805
        if create:
            obj.save()


class MetricFactory(ModelFactory[Metric]):
    class Meta:
        model = Metric

    name = factory.Sequence(lambda n: f"Requests per minute {n}")
    category = "Traffic"
    owner = factory.SubFactory(UserFactory)


class IndicatorFactory(ModelFactory[Indicator]):
    class Meta:
        model = Indicator

    metric = factory.SubFactory(MetricFactory)
    value = factory.Sequence(lambda n: float(100 + n))
    decision = Decision.ROLLOUT
    time = 10.0
    created_by = factory.SelfAttribute("metric.owner")


@functools.cache
def fitted_tree() -> DecisionTreeClassifier:
    """A tree of `tests.data.rule_data`'s rule (rollback when value < 400 and time >= 10), fitted once."""
    from sklearn.tree import DecisionTreeClassifier

    from predictor.training import as_features
    from tests.data import rule_data

    data: IndicatorColumns = rule_data(200)
    return DecisionTreeClassifier(max_depth=4, random_state=0).fit(
        as_features(data.values, data.times), list(data.decisions)
    )


class TrainedModelFactory(ModelFactory[TrainedModel]):
    """A stored model without training: the session's `fitted_tree` (or the `tree` given), signed
    with today's key.

    Counts, data version and next version number are read from the metric, as training would.
    """

    class Meta:
        model = TrainedModel

    metric = factory.SubFactory(MetricFactory)
    version = factory.LazyAttribute(lambda o: (o.metric.trained_models.aggregate(last=Max("version"))["last"] or 0) + 1)
    data_version = factory.LazyAttribute(lambda o: Metric.objects.get(pk=o.metric.pk).data_version)
    accuracy = 0.9
    n_indicators = factory.LazyAttribute(lambda o: o.metric.indicators.count())
    n_trained_on = factory.SelfAttribute("n_indicators")
    n_rollback = factory.LazyAttribute(lambda o: o.metric.indicators.filter(decision=Decision.ROLLBACK).count())
    n_rollout = factory.LazyAttribute(lambda o: o.n_indicators - o.n_rollback)
    max_depth = 4
    n_leaves = factory.LazyFunction(lambda: int(fitted_tree().get_n_leaves()))
    baseline_accuracy = 0.6
    balanced_accuracy = 0.88
    rollback_precision = 0.85
    rollback_recall = 0.8
    confusion_rollout_as_rollout = 110
    confusion_rollout_as_rollback = 10
    confusion_rollback_as_rollout = 12
    confusion_rollback_as_rollback = 68
    data_sha256 = "0" * 64
    training_seconds = 0.5
    trained_by = factory.SelfAttribute("metric.owner")

    @classmethod
    def _create(cls, model_class: type[TrainedModel], *args: Any, **kwargs: Any) -> TrainedModel:
        """Like a training: range and sample of the metric's data, and the new version answers
        (unless `active=False`)."""
        active = kwargs.pop("active", True)
        tree = kwargs.pop("tree", None) or fitted_tree()
        metric: Metric = kwargs["metric"]
        data, ids = metric.indicators.columns_and_ids()
        if len(data):
            kwargs.setdefault("value_min", min(data.values))
            kwargs.setdefault("value_max", max(data.values))
            kwargs.setdefault("minutes_min", min(data.times))
            kwargs.setdefault("minutes_max", max(data.times))
        kwargs.setdefault("chart_sample", with_registrations(chart_sample(data, ids, 3000), metric))
        if "artifact" not in kwargs:
            artifact = artifacts.dump_model(tree, signing_keys()[0])
            kwargs.update(
                artifact=artifact.data,
                artifact_sha256=artifact.sha256,
                artifact_signature=artifact.signature,
                signing_key_id=artifact.key_id,
                sklearn_version=artifact.sklearn_version,
            )
        model: TrainedModel = super()._create(model_class, *args, **kwargs)
        if active:
            Metric.objects.filter(pk=metric.pk).update(active_model=model)
            metric.active_model_id = model.pk
        return model
