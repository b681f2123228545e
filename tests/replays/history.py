"""Constructed release histories whose replay has a known answer.

Each history starts with indicators registered a month before its first release, then releases
one day apart: each observed every minute for `minutes` minutes, with its outcome recorded half
an hour after its start (labelling its observations, as a team's outcome does).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.contrib.auth.models import User
from django.utils import timezone

from metrics.models import Gate, GateMetric, Indicator, Metric, Outcome, OutcomeVia, Release, TrainedModel
from predictor.columns import IndicatorColumns
from tests.factories import MetricFactory

GOOD_VALUE = 900.0  # a rollout, whatever the minutes
BAD_VALUE = 100.0  # a rollback, whatever the minutes
FIRST_RELEASE = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.get_fixed_timezone(0))


@dataclass
class History:
    gate: Gate
    metric: Metric
    releases: list[Release]


def value_rule_data(n: int = 80, seed: int = 0) -> IndicatorColumns:
    """Indicators that follow a rule of the value alone: rollback below 400, whatever the minutes."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(100, 1000, n).round(1)
    times = rng.uniform(0, 60, n).round(1)
    decisions = (values < 400).astype(int)
    return IndicatorColumns(values.tolist(), times.tolist(), decisions.tolist())


def metric_with_history(owner: User, data: IndicatorColumns, name: str = "Error rate") -> Metric:
    """A metric whose indicators were registered a month before the first release, with a live
    model trained on them (so that releases could be observed as they happened)."""
    metric = MetricFactory.create(owner=owner, name=name)
    metric.import_indicators(data, owner)
    Indicator.objects.filter(metric=metric).update(created_at=FIRST_RELEASE - timedelta(days=30))
    TrainedModel.objects.train(metric, owner)
    metric.refresh_from_db()
    return metric


def observe_release(
    gate: Gate,
    metric: Metric,
    owner: User,
    name: str,
    started_at: datetime,
    value: Callable[[int], float],
    minutes: int,
    outcome: str | None,
) -> Release:
    release = gate.start_release(owner, name=name, started_at=started_at)
    for minute in range(1, minutes + 1):
        release.observe(metric, value(minute), owner, float(minute), at=started_at + timedelta(minutes=minute))
    if outcome:
        release.record_outcome(outcome, owner, via=OutcomeVia.PAGE, at=started_at + timedelta(minutes=30))
    return release


def history(
    owner: User,
    outcomes: Sequence[str],
    *,
    data: IndicatorColumns | None = None,
    value: Callable[[int, str], float] | None = None,
    minutes: int = 20,
    failure_limit: int = 0,
    **gate_options: object,
) -> History:
    """A gate of one metric and one release per outcome, a day apart. By default a rolled-back
    release shows the bad value throughout, and a rolled-out one the good value."""
    metric = metric_with_history(owner, data if data is not None else value_rule_data())
    gate = Gate.objects.create(name="Checkout", owner=owner, **gate_options)
    GateMetric.objects.create(gate=gate, metric=metric, weight=1, failure_limit=failure_limit)
    values = value or (lambda minute, outcome: BAD_VALUE if outcome == Outcome.ROLLBACK else GOOD_VALUE)
    releases = [
        observe_release(
            gate,
            metric,
            owner,
            f"v{index + 1}",
            FIRST_RELEASE + timedelta(days=index),
            functools.partial(lambda outcome, minute: values(minute, outcome), outcome),
            minutes,
            outcome,
        )
        for index, outcome in enumerate(outcomes)
    ]
    return History(gate, metric, releases)
