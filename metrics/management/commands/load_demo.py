"""Create the demo account with realistic metrics, indicators and trained models.

Safe to run again: existing demo metrics are left as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from metrics.models import Metric, TrainedModel
from predictor.columns import IndicatorColumns

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "make-or-break"  # noqa: S105 - printed for newcomers; a local demo only
INDICATORS_PER_METRIC = 400
NOISE = 0.08

Rule = Callable[[np.ndarray, np.ndarray], np.ndarray]

# (name, category, value range, time range, rule deciding rollback)
DEMO_METRICS: list[tuple[str, str, tuple[float, float], tuple[float, float], Rule]] = [
    # Traffic that stays low for a while after a deploy means users cannot reach the service.
    ("Requests per minute", "Traffic", (150, 1200), (1, 120), lambda v, t: (v < 450) & (t >= 10)),
    # A short spike of errors is tolerated; a sustained one is not.
    ("Error rate (%)", "Reliability", (0, 12), (1, 90), lambda v, t: v > 2 + 20 / (t + 4)),
    ("p95 latency (ms)", "Performance", (80, 2000), (1, 60), lambda v, t: v > 750),
]


class Command(BaseCommand):
    help = "Create the demo account with demo metrics, indicators and trained models."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=DEMO_USERNAME)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        rng = np.random.default_rng(2024)
        for name, category, value_range, time_range, rule in DEMO_METRICS:
            metric, created = Metric.objects.get_or_create(name=name, category=category, defaults={"owner": user})
            if not created:
                continue
            values = np.round(rng.uniform(*value_range, INDICATORS_PER_METRIC), 2)
            times = np.round(rng.uniform(*time_range, INDICATORS_PER_METRIC))
            decisions = rule(values, times).astype(int)
            flip = rng.random(INDICATORS_PER_METRIC) < NOISE
            decisions[flip] = 1 - decisions[flip]
            data = IndicatorColumns(values=values.tolist(), times=times.tolist(), decisions=decisions.tolist())
            metric.import_indicators(data, user)
            model = TrainedModel.objects.train(metric, user)
            self.stdout.write(f"  {name}: {INDICATORS_PER_METRIC} indicators, model accuracy {model.accuracy:.1%}")
        self.stdout.write(self.style.SUCCESS(f"Demo login: username {DEMO_USERNAME!r}, password {DEMO_PASSWORD!r}"))
