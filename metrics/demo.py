"""The demo's metrics and the indicators that follow their rules.

`load_demo` stores them for a newcomer; the benchmarks and the tests take rows of the same
kind from here, so that "realistic data" is written once. Pure: no ORM, no settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from predictor.columns import IndicatorColumns

INDICATORS_PER_METRIC = 400
# The share of decisions taken the other way: real history is not a clean rule.
NOISE = 0.08
DEMO_SEED = 2024

Rule = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class DemoMetric:
    name: str
    category: str
    value_range: tuple[float, float]
    time_range: tuple[float, float]
    rule: Rule  # True where the team rolled back
    time_decimals: int = 0  # minutes as observed: whole by default
    bad_direction: str = "either"  # a BadDirection value: which way a value beyond the data is bad


# Traffic that stays low for a while after a deploy means users cannot reach the service.
REQUESTS_PER_MINUTE = DemoMetric(
    "Requests per minute",
    "Traffic",
    (150, 1200),
    (1, 120),
    lambda values, times: (values < 450) & (times >= 10),
    bad_direction="lower",
)
# A short spike of errors is tolerated; a sustained one is not.
ERROR_RATE = DemoMetric(
    "Error rate (%)",
    "Reliability",
    (0, 12),
    (1, 90),
    lambda values, times: values > 2 + 20 / (times + 4),
    bad_direction="higher",
)
LATENCY = DemoMetric(
    "p95 latency (ms)", "Performance", (80, 2000), (1, 60), lambda values, _times: values > 750, bad_direction="higher"
)
DEMO_METRICS = (REQUESTS_PER_MINUTE, ERROR_RATE, LATENCY)


def demo_data(
    rows: int = INDICATORS_PER_METRIC,
    *,
    seed: int | Sequence[int] = DEMO_SEED,
    noise: float = NOISE,
    metrics: Sequence[DemoMetric] = DEMO_METRICS,
) -> Iterator[tuple[DemoMetric, IndicatorColumns]]:
    """Each metric with `rows` indicators: values and minutes drawn evenly over its ranges
    (values to the cent, minutes to the metric's decimals), decided by its rule, a share `noise` the other way.

    One generator draws for every metric in turn, so the same seed always gives the same rows,
    whichever of them the caller stores. Lazy: a caller that wants the first metric's rows
    draws no others.
    """
    generator = np.random.default_rng(seed)
    for metric in metrics:
        values = np.round(generator.uniform(*metric.value_range, rows), 2)
        times = np.round(generator.uniform(*metric.time_range, rows), metric.time_decimals)
        flip = generator.random(rows) < noise
        decisions = metric.rule(values, times).astype(np.int8)
        decisions[flip] ^= 1
        yield metric, IndicatorColumns(values=values.tolist(), times=times.tolist(), decisions=decisions.tolist())


def requests_per_minute(rows: int, *, seed: int | Sequence[int] = DEMO_SEED, noise: float = NOISE) -> IndicatorColumns:
    """The demo's first metric's rule, `rows` times: what the benchmarks load."""
    _metric, columns = next(demo_data(rows, seed=seed, noise=noise, metrics=[REQUESTS_PER_MINUTE]))
    return columns
