"""Fixtures shared by the whole suite.

The roles, as every test of a page or a rule uses them:
- `owner` created `metric`;
- `contributor` is another account that registered indicators of it (the catalogue is
  shared: anyone may add data to any metric);
- `stranger` is an account with nothing to do with it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import transaction
from django.utils import translation

from mbreak.celery import app as celery_app
from metrics.models import ImportBatch, Indicator, Metric
from metrics.models.trained_model import forget_read_versions
from predictor.columns import IndicatorColumns
from tests.factories import IndicatorFactory, MetricFactory, TrainedModelFactory, UserFactory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    # The real hasher is slow on purpose; tests create many users and log in often.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def english_unless_asked(settings) -> Iterator[None]:
    # A request in Portuguese leaves Portuguese active in the thread (LocaleMiddleware
    # activates, nothing deactivates): each test starts in the default language.
    with translation.override(settings.LANGUAGE_CODE):
        yield


@pytest.fixture(autouse=True)
def jobs_run_at_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Jobs run in the test's own process as they are queued (Celery's eager mode), and
    `on_commit` work runs at once: a test's transaction never commits. The tests that run
    a real worker process are in tests/jobs/test_worker.py."""
    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def nothing_read_before() -> None:
    # Model versions are read once per process and kept by id, charts cached by id, and
    # test databases hand the same ids out again from one test to the next.
    forget_read_versions()
    cache.clear()


@pytest.fixture
def owner(db: None) -> User:
    return UserFactory.create(username="owner")


@pytest.fixture
def contributor(db: None) -> User:
    return UserFactory.create(username="contributor")


@pytest.fixture
def stranger(db: None) -> User:
    return UserFactory.create(username="stranger")


@pytest.fixture
def metric(owner: User) -> Metric:
    return MetricFactory.create(owner=owner, name="Requests per minute", category="Traffic")


@pytest.fixture
def contributed_metric(metric: Metric, contributor: User) -> Metric:
    """`metric`, with one indicator registered by `contributor`."""
    IndicatorFactory.create(metric=metric, created_by=contributor)
    return metric


def imports_state() -> dict[str, list]:
    """What an upload or an undo may change: each metric's counts, the indicators, the batches."""
    return {
        "metrics": list(Metric.objects.order_by("pk").values_list("pk", "data_version", "indicator_count")),
        "indicators": list(Indicator.objects.order_by("pk").values_list("pk", "metric_id", "batch_id")),
        "batches": list(ImportBatch.objects.order_by("pk").values_list("pk", "rows", "undone_at")),
    }


def rule_data(n: int, noise: float = 0.0, seed: int = 0) -> IndicatorColumns:
    """Indicators that follow a known rule: rollback when value < 400 and time >= 10."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(100, 1000, n).round(2)
    times = rng.uniform(0, 60, n).round(1)
    decisions = ((values < 400) & (times >= 10)).astype(int)
    flip = rng.random(n) < noise
    decisions[flip] = 1 - decisions[flip]
    return IndicatorColumns(values=values.tolist(), times=times.tolist(), decisions=decisions.tolist())


def noise_data(n: int = 14, seed: int = 10) -> IndicatorColumns:
    """Indicators with no rule at all: as many rollbacks as rollouts, shuffled whatever the value
    and time. With the defaults, a model trained on them scores 66.7% on data it did not see
    against a baseline of 50%, and one of its leaves holds 6 rollouts (value above 443.675,
    time above 11.15 and at most 50.4 minutes): chance, that looks like a rule."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(100, 1000, n).round(2)
    times = rng.uniform(0, 60, n).round(1)
    decisions = [0] * (n // 2) + [1] * (n - n // 2)
    rng.shuffle(decisions)
    return IndicatorColumns(values=values.tolist(), times=times.tolist(), decisions=[int(d) for d in decisions])


@pytest.fixture
def trained_metric(metric: Metric, owner: User) -> Metric:
    """`metric` with 200 indicators following `rule_data`'s rule, and a model of them.

    The model is `TrainedModelFactory`'s tree, fitted once per test session: only the
    tests about training train.
    """
    metric.import_indicators(rule_data(200), owner)
    TrainedModelFactory.create(metric=metric, trained_by=owner)
    return metric
