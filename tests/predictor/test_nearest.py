"""The nearest past cases: numpy's search gives what sorting every distance gave."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from predictor.nearest import nearest_positions


def by_sorting(values: list[float], times: list[float], value: float, minutes: float, scales, count: int) -> list[int]:
    """The plain definition: every distance, sorted, ties in row order."""
    distances = sorted(
        (math.hypot((v - value) / scales[0], (t - minutes) / scales[1]), position)
        for position, (v, t) in enumerate(zip(values, times, strict=True))
    )
    return [position for _, position in distances[:count]]


@pytest.mark.parametrize("seed", range(40))
def test_the_nearest_rows_are_those_of_sorting_every_distance(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.choice([1, 3, 5, 6, 50, 2500])
    # Few distinct values on a grid: many rows at the same distance, ties at the edge.
    values = [float(rng.randint(0, 20) * 10) for _ in range(size)]
    times = [float(rng.randint(0, 12) * 5) for _ in range(size)]
    value, minutes = float(rng.randint(-5, 25) * 10), float(rng.randint(0, 12) * 5)
    scales = (200.0, 60.0)

    found = nearest_positions(np.array(values), np.array(times), value, minutes, scales, 5)

    assert found == by_sorting(values, times, value, minutes, scales, 5)


@pytest.mark.parametrize("seed", range(40))
def test_the_nearest_rows_of_measured_data_are_those_of_sorting_every_distance(seed: int) -> None:
    """Numbers as metrics have them (no grid), sometimes sorted (the rows that bound the search
    are then all on one side), sometimes far from the observation, with its scale tiny or huge."""
    rng = random.Random(seed)
    size = rng.choice([7, 80, 81, 2500])
    spread = rng.choice([1e-6, 1.0, 1e3, 1e30])
    values = [rng.gauss(500.0, 100.0) * spread for _ in range(size)]
    times = [rng.uniform(0.0, 60.0) for _ in range(size)]
    if seed % 2:
        values.sort()
    value = rng.choice([500.0, -1e6, 3e38]) * spread
    minutes = rng.uniform(-10.0, 70.0)
    scales = ((max(values) - min(values)) or 1.0, (max(times) - min(times)) or 1.0)

    found = nearest_positions(np.array(values), np.array(times), value, minutes, scales, 5)

    assert found == by_sorting(values, times, value, minutes, scales, 5)


def test_rows_at_the_same_distance_as_the_fifth_are_taken_in_row_order() -> None:
    """The same point repeated: which of them is shown is the earliest rows, as sorting gives."""
    values = [10.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0] * 40
    times = [1.0] * len(values)

    found = nearest_positions(np.array(values), np.array(times), 3.0, 1.0, (7.0, 1.0), 5)

    assert found == [1, 2, 3, 4, 5]


def test_no_rows_or_no_count_gives_nothing() -> None:
    empty = np.array([], dtype=np.float64)
    assert nearest_positions(empty, empty, 1.0, 1.0, (1.0, 1.0), 5) == []
    assert nearest_positions(np.array([1.0]), np.array([1.0]), 1.0, 1.0, (1.0, 1.0), 0) == []
