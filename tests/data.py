"""Test data: indicators that follow a known rule or none, and the rows a refusal must leave alone.

Fixtures live in conftest.py; what they and the tests build from lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from django.db import models

from metrics.demo import DemoMetric, demo_data
from metrics.models import ImportBatch, Indicator, Metric, TrainedModel, Verdict
from predictor.columns import IndicatorColumns


def rows_of(model: type[models.Model], exclude: Sequence[str] = ()) -> list[tuple[Any, ...]]:
    """Every stored row of `model`, every column but `exclude`, in primary key order."""
    fields = [field.attname for field in model._meta.concrete_fields if field.name not in exclude]
    return list(model._default_manager.order_by("pk").values_list(*fields))


def database_state() -> dict[str, list[tuple[Any, ...]]]:
    """Every row a refused request, a verdict, its feedback or a version change could touch."""
    return {
        "metrics": rows_of(Metric),
        "indicators": rows_of(Indicator),
        "models": rows_of(TrainedModel, exclude=("artifact",)),
        "verdicts": rows_of(Verdict),
    }


def imports_state() -> dict[str, list]:
    """What an upload or an undo may change: each metric's counts, the indicators, the batches."""
    return {
        "metrics": list(Metric.objects.order_by("pk").values_list("pk", "data_version", "indicator_count")),
        "indicators": list(Indicator.objects.order_by("pk").values_list("pk", "metric_id", "batch_id")),
        "batches": list(ImportBatch.objects.order_by("pk").values_list("pk", "rows", "undone_at")),
    }


# The tests' rule: rollback when value < 400 and time >= 10, minutes to a tenth.
RULE = DemoMetric("Rule", "Tests", (100, 1000), (0, 60), lambda values, times: (values < 400) & (times >= 10), 1)


def rule_data(n: int, noise: float = 0.0, seed: int = 0) -> IndicatorColumns:
    """Indicators that follow a known rule: rollback when value < 400 and time >= 10 (the demo's
    generator, with the tests' rule)."""
    [(_, columns)] = demo_data(n, seed=seed, noise=noise, metrics=[RULE])
    return columns


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
