"""Fixtures shared by the whole suite.

The roles, as every test of a page or a rule uses them:
- `owner` created `metric`;
- `contributor` is another account that registered indicators of it (the catalogue is
  shared: anyone may add data to any metric);
- `stranger` is an account with nothing to do with it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import transaction
from django.utils import translation

from mbreak.celery import app as celery_app
from metrics.models import Metric
from metrics.models.trained_model import forget_read_versions
from tests.data import rule_data
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


@pytest.fixture
def trained_metric(metric: Metric, owner: User) -> Metric:
    """`metric` with 200 indicators following `rule_data`'s rule, and a model of them.

    The model is `TrainedModelFactory`'s tree, fitted once per test session: only the
    tests about training train.
    """
    metric.import_indicators(rule_data(200), owner)
    TrainedModelFactory.create(metric=metric, trained_by=owner)
    return metric
