"""What replaying a gate over past releases needs of the models: the leaf each of many
observations lands in, at once, and how far a rate measured on a few releases can be trusted.

Pure: arrays in, arrays and numbers out. No request, no ORM. `metrics.models.replay` is its caller.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from predictor.explain import compile_tree
from predictor.training import Z_95

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from sklearn.tree import DecisionTreeClassifier


@dataclass(frozen=True)
class LeafCounts:
    """For each observation, the training cases of the leaf it lands in, by decision."""

    rollbacks: np.ndarray
    rollouts: np.ndarray


def leaf_counts(model: DecisionTreeClassifier, values: Sequence[float], times: Sequence[float]) -> LeafCounts:
    """The leaf of each (value, minutes) observation, found in one pass over all of them
    (`DecisionTreeClassifier.apply`), read as a verdict reads it (`CompiledTree.leaf_for`):
    the same 32-bit comparisons, the same counts."""
    import numpy as np

    tree = compile_tree(model)
    features = np.column_stack([np.asarray(values, dtype=np.float32), np.asarray(times, dtype=np.float32)])
    nodes = model.apply(features) if len(features) else np.empty(0, dtype=np.intp)
    return LeafCounts(
        rollbacks=np.asarray(tree.rollbacks, dtype=np.int64)[nodes],
        rollouts=np.asarray(tree.rollouts, dtype=np.int64)[nodes],
    )


def data_fingerprint(values: np.ndarray, times: np.ndarray, decisions: np.ndarray) -> str:
    """What identifies a training set: two replays (or two releases) with the same rows in the
    same order train the same model."""
    import numpy as np

    digest = hashlib.sha256()
    for column, dtype in ((values, np.float64), (times, np.float64), (decisions, np.int8)):
        digest.update(np.ascontiguousarray(column, dtype=dtype).tobytes())
        digest.update(b"|")
    return digest.hexdigest()


@dataclass(frozen=True)
class Rate:
    """A share measured on `trials` (releases), with its 95% Wilson score interval: 3 caught of
    4 is 75%, and only known to lie between 30% and 95%. None of it is known on no trial."""

    hits: int
    trials: int

    @property
    def share(self) -> float | None:
        return self.hits / self.trials if self.trials else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.hits, self.trials)


def wilson_interval(hits: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval (95% by default) of `hits` out of `trials`; None on no trial."""
    if trials <= 0:
        return None
    share = hits / trials
    spread = z * z / trials
    centre = share + spread / 2
    half_width = z * math.sqrt(share * (1 - share) / trials + spread / (4 * trials))
    # None seen (or all): the interval reaches 0 (or 1) exactly, whatever the rounding.
    low = 0.0 if hits == 0 else max(0.0, (centre - half_width) / (1 + spread))
    high = 1.0 if hits == trials else min(1.0, (centre + half_width) / (1 + spread))
    return low, high


def median(numbers: Sequence[float]) -> float | None:
    """The middle of `numbers` (the mean of the two middle ones for an even count); None for none."""
    ordered = sorted(numbers)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return float(ordered[middle]) if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
