from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import factory
from django.contrib.auth.models import User
from django.db import models

from metrics.models import Decision, Indicator, Metric

PASSWORD = "correct-horse-battery-staple"

ModelT = TypeVar("ModelT", bound=models.Model)


class ModelFactory(factory.django.DjangoModelFactory[ModelT]):
    """A factory whose call mypy knows returns the model (factory_boy's metaclass is untyped)."""

    class Meta:
        abstract = True

    if TYPE_CHECKING:

        def __new__(cls, *args: Any, **kwargs: Any) -> ModelT:  # type: ignore[misc]
            ...


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
