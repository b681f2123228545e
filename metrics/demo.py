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


# The worked example with a real Prometheus (`manage.py demo_prometheus`): the demo service's
# past releases as its metric store holds them, one series per release and metric, selected
# by the release's key as Argo Rollouts labels its pods (`pod_template_hash`).
PROMETHEUS_SERIES = {
    "Error rate (%)": "checkout_error_rate_percent",
    "Requests per minute": "checkout_requests_per_minute",
    "p95 latency (ms)": "checkout_latency_p95_ms",
}
PAST_RELEASES = 40
BAD_SHARE = 0.2  # about a fifth of the past releases were rolled back
PAST_RELEASE_MINUTES = 60  # the minutes of each past release the store holds
HOURS_BETWEEN_RELEASES = 3


@dataclass(frozen=True)
class PastRelease:
    key: str
    started_hours_ago: float
    rolled_back: bool
    # Per metric name, its value 1..PAST_RELEASE_MINUTES minutes after the start.
    values: dict[str, list[float]]


def service_values(name: str, minutes: np.ndarray, *, bad: bool, generator: np.random.Generator) -> np.ndarray:
    """The demo service's `name` metric at these minutes after a release: a healthy release's
    around its usual level, a bad one's drifting to where the demo team rolls back (the
    rules of DEMO_METRICS)."""
    noise = generator.normal(0, 1, len(minutes))
    ramp = np.minimum(1.0, minutes / 15)  # a bad release's harm grows over its first quarter hour
    if name == "Error rate (%)":
        level = 0.6 + 0.2 * noise + (ramp * 7.0 if bad else 0.0)
        return np.round(np.clip(level, 0, 12), 2)
    if name == "Requests per minute":
        level = 850 + 60 * noise - (ramp * 550 if bad else 0.0)
        return np.round(np.clip(level, 150, 1200), 0)
    level = 320 + 40 * noise + (ramp * 900 if bad else 0.0)
    return np.round(np.clip(level, 80, 2000), 0)


def past_releases(count: int = PAST_RELEASES, *, seed: int = DEMO_SEED) -> list[PastRelease]:
    """The demo service's `count` past releases, newest last, one every few hours, about a fifth bad."""
    generator = np.random.default_rng(seed)
    minutes = np.arange(1, PAST_RELEASE_MINUTES + 1, dtype=float)
    releases = []
    bad_ones = set(generator.choice(count, size=max(1, round(count * BAD_SHARE)), replace=False).tolist())
    for index in range(count):
        bad = index in bad_ones
        values = {
            name: service_values(name, minutes, bad=bad, generator=generator).tolist() for name in PROMETHEUS_SERIES
        }
        releases.append(
            PastRelease(
                key=f"{generator.integers(16**9, 16**10):x}",
                started_hours_ago=(count - index) * HOURS_BETWEEN_RELEASES + 1,
                rolled_back=bad,
                values=values,
            )
        )
    return releases
