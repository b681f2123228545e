"""The past cases nearest to an observation, on the scale of the training ranges."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def nearest_positions(
    values: npt.NDArray[np.float64],
    times: npt.NDArray[np.float64],
    value: float,
    minutes: float,
    scales: tuple[float, float],
    count: int,
) -> list[int]:
    """The positions of the `count` rows nearest to (`value`, `minutes`), nearest first; each
    axis divided by its scale (its training range), ties in the order of the rows."""
    if count <= 0 or len(values) == 0:
        return []
    distances = np.hypot((values - value) / scales[0], (times - minutes) / scales[1])
    if len(distances) > count:
        # Every row as near as the count-th nearest: ties at the edge are kept in row order.
        edge = np.partition(distances, count - 1)[count - 1]
        candidates = np.flatnonzero(distances <= edge)
    else:
        candidates = np.arange(len(distances))
    ordered = candidates[np.argsort(distances[candidates], kind="stable")]
    return [int(position) for position in ordered[:count]]
