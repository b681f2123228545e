from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth.models import User

from metrics.csv_io import ParsedIndicators
from metrics.models import Metric
from tests.factories import MetricFactory, UserFactory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    # The real hasher is slow on purpose; tests create many users and log in often.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner(db: None) -> User:
    return UserFactory(username="owner")


@pytest.fixture
def other_user(db: None) -> User:
    return UserFactory(username="stranger")


@pytest.fixture
def metric(owner: User) -> Metric:
    return MetricFactory(owner=owner, name="Requests per minute", category="Traffic")


def rule_data(n: int, noise: float = 0.0, seed: int = 0) -> ParsedIndicators:
    """Indicators that follow a known rule: rollback when value < 400 and time >= 10."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(100, 1000, n).round(2)
    times = rng.uniform(0, 60, n).round(1)
    decisions = ((values < 400) & (times >= 10)).astype(int)
    flip = rng.random(n) < noise
    decisions[flip] = 1 - decisions[flip]
    return ParsedIndicators(values=values.tolist(), decisions=decisions.tolist(), times=times.tolist())


@pytest.fixture
def trained_metric(metric: Metric, owner: User) -> Metric:
    from predictor.models import TrainedModel

    metric.import_indicators(rule_data(200), owner)
    TrainedModel.objects.train(metric, owner)
    return metric
