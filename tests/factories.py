from __future__ import annotations

import factory
from django.contrib.auth.models import User

from metrics.models import Decision, Indicator, Metric

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()


class MetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Metric

    name = factory.Sequence(lambda n: f"Requests per minute {n}")
    category = "Traffic"
    owner = factory.SubFactory(UserFactory)


class IndicatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Indicator

    metric = factory.SubFactory(MetricFactory)
    value = factory.Sequence(lambda n: float(100 + n))
    decision = Decision.ROLLOUT
    time = 10.0
    created_by = factory.SelfAttribute("metric.owner")
