"""Create the demo account with realistic metrics, indicators, trained models and logged verdicts.

Safe to run again: existing demo metrics are left as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from metrics.models import Decision, Gate, GateMetric, Metric, Release, TrainedModel
from predictor.columns import IndicatorColumns

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "make-or-break"  # noqa: S105 - printed for newcomers; a local demo only
INDICATORS_PER_METRIC = 400
NOISE = 0.08

Rule = Callable[[np.ndarray, np.ndarray], np.ndarray]

# Verdicts the demo team asked for after past deployments, and what they then decided
# (None: no feedback yet): (value, minutes, decided) per metric, in DEMO_METRICS' order.
DEMO_VERDICTS: list[list[tuple[float, float, int | None]]] = [
    [(260, 45, Decision.ROLLBACK), (900, 30, Decision.ROLLOUT), (5_000, 30, None)],
    [(9.5, 60, Decision.ROLLBACK), (0.4, 10, Decision.ROLLBACK), (3.1, 8, None)],
    [(1_400, 20, Decision.ROLLBACK), (300, 15, Decision.ROLLOUT), (760, 30, None)],
]

# (name, category, value range, time range, rule deciding rollback)
DEMO_METRICS: list[tuple[str, str, tuple[float, float], tuple[float, float], Rule]] = [
    # Traffic that stays low for a while after a deploy means users cannot reach the service.
    ("Requests per minute", "Traffic", (150, 1200), (1, 120), lambda v, t: (v < 450) & (t >= 10)),
    # A short spike of errors is tolerated; a sustained one is not.
    ("Error rate (%)", "Reliability", (0, 12), (1, 90), lambda v, t: v > 2 + 20 / (t + 4)),
    ("p95 latency (ms)", "Performance", (80, 2000), (1, 60), lambda v, t: v > 750),
]


DEMO_GATE = "Checkout deploys"
# (metric, weight, critical, observe only)
DEMO_GATE_METRICS = [
    ("Error rate (%)", 2.0, True, False),
    ("Requests per minute", 1.0, False, False),
    ("p95 latency (ms)", 1.0, False, True),
]
# The release's observations so far: (metric, value, minutes since it started).
DEMO_OBSERVATIONS = [
    ("Error rate (%)", 0.8, 10),
    ("Requests per minute", 820, 10),
    ("p95 latency (ms)", 640, 10),
    ("Error rate (%)", 1.1, 25),
    ("Requests per minute", 760, 25),
]


class Command(BaseCommand):
    help = "Create the demo account with demo metrics, indicators, trained models and verdicts with feedback."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=DEMO_USERNAME)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        rng = np.random.default_rng(2024)
        for (name, category, value_range, time_range, rule), verdicts in zip(DEMO_METRICS, DEMO_VERDICTS, strict=True):
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
            given = [(metric.predict(value, minutes, user), decided) for value, minutes, decided in verdicts]
            for verdict, decided in given:
                if decided is not None:
                    verdict.add_feedback(decided, "", user)
            # The feedback is new data: a second version learns from it.
            TrainedModel.objects.train(metric, user)
        self.load_gate(user)
        self.stdout.write(self.style.SUCCESS(f"Demo login: username {DEMO_USERNAME!r}, password {DEMO_PASSWORD!r}"))

    def load_gate(self, user: Any) -> None:
        """A gate over the three metrics, and a release of half an hour ago with its observations."""
        if Gate.objects.filter(name=DEMO_GATE, owner=user).exists():
            return
        metrics = {metric.name: metric for metric in Metric.objects.filter(name__in=[m[0] for m in DEMO_METRICS])}
        gate = Gate.objects.create(name=DEMO_GATE, owner=user, pass_score=80, marginal_score=50)
        for name, weight, critical, observe_only in DEMO_GATE_METRICS:
            GateMetric.objects.create(
                gate=gate, metric=metrics[name], weight=weight, critical=critical, observe_only=observe_only
            )
        release = Release.objects.create(
            gate=gate,
            name="checkout-web",
            version="v42",
            started_at=timezone.now() - timedelta(minutes=30),
            created_by=user,
        )
        for name, value, minutes in DEMO_OBSERVATIONS:
            release.observe(metrics[name], value, user, minutes)
            release.answer(user, at=release.started_at + timedelta(minutes=minutes))  # as the pipeline asked
        verdict = release.verdict()
        self.stdout.write(f"  Gate {DEMO_GATE!r}, release {release.pk} (checkout-web v42): {verdict.summary}")
