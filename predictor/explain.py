"""What a fitted tree says and why: its leaves as rules, and the path an observation takes.

Pure: a fitted `DecisionTreeClassifier` is read once into a `CompiledTree` (plain lists,
cheap to keep in memory and to walk), which answers without scikit-learn. Its answers
agree with `predict_proba`: like scikit-learn, it compares 32-bit floats.
"""

from __future__ import annotations

import functools
import math
from array import array
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from predictor.columns import ROLLBACK, ROLLOUT

if TYPE_CHECKING:
    from sklearn.tree import DecisionTreeClassifier

Feature = Literal["value", "minutes"]
FEATURES: tuple[Feature, Feature] = ("value", "minutes")  # the columns of `training.as_features`
_LEAF = -1


def as_float32(number: float) -> float:
    """`number` rounded as scikit-learn's trees see it (they compare 32-bit floats)."""
    return array("f", [number])[0]


@dataclass(frozen=True)
class WrittenSplit:
    """A split point as people write it: `text`, plain ("48.2"), and the side the tree sends
    that very number: left, the rule reads "at most 48.2" / "above 48.2"; right, it reads
    "below 48.2" / "at least 48.2"."""

    text: str
    goes_left: bool

    @property
    def number(self) -> float:
        return float(self.text)


def _shortest(number: Any) -> str:
    """The fewest digits that read back as this 32-bit float, without an exponent ("0", not "-0")."""
    import numpy as np

    return "0" if number == 0 else str(np.format_float_positional(number, unique=True, trim="-"))


def _significant_digits(text: str) -> int:
    return len(text.replace("-", "").replace(".", "").strip("0")) or 1


@functools.lru_cache(maxsize=4096)
def written_split(split: float) -> WrittenSplit:
    """The split as people write it, with each number kept on the tree's side.

    The tree compares each number as a 32-bit float with `split`: it sends left every 32-bit
    float up to the last one at or below `split`, and right from the next one. The shortest
    decimal that reads back as the last one on the left is written "at most" it, as the
    shortest that reads back as the first one on the right is written "below" it: whichever
    has fewer digits. A split between 48.1 and 48.3 kept as 48.19999885559082 is then "below
    48.2" (48.2 itself goes right), never "at most 48.19999694824219". Every page and the API
    write splits with it; the pages in the reader's language. Worked out once per split in a
    process: a tree has few, and each verdict's answer writes those of its path."""
    import numpy as np

    last_left = np.float32(split)
    if float(last_left) > split:  # compared as 64-bit floats (NumPy would round `split` to 32 bits)
        last_left = np.nextafter(last_left, np.float32(-np.inf))
    first_right = np.nextafter(last_left, np.float32(np.inf))
    left, right = _shortest(last_left), _shortest(first_right)
    if _significant_digits(right) < _significant_digits(left):
        return WrittenSplit(right, goes_left=False)
    return WrittenSplit(left, goes_left=True)


@dataclass(frozen=True)
class Condition:
    """`lower < feature <= upper`; a missing bound is open."""

    feature: Feature
    lower: float | None = None
    upper: float | None = None

    def holds(self, value: float, minutes: float) -> bool:
        x = as_float32(value if self.feature == "value" else minutes)
        return (self.lower is None or x > self.lower) and (self.upper is None or x <= self.upper)

    def as_written(self) -> dict[str, Any]:
        """The condition with its bounds as people write them (`written_split`), as plain numbers,
        each saying whether the number itself is inside: time above 9.5 and below 48.2 minutes is
        {"feature": "minutes", "lower": {"number": 9.5, "inclusive": False},
        "upper": {"number": 48.2, "inclusive": False}}; an open side is None."""
        lower = None if self.lower is None else written_split(self.lower)
        upper = None if self.upper is None else written_split(self.upper)
        return {
            "feature": self.feature,
            # Above the split: the number is inside when the tree sends it right.
            "lower": None if lower is None else {"number": lower.number, "inclusive": not lower.goes_left},
            "upper": None if upper is None else {"number": upper.number, "inclusive": upper.goes_left},
        }


@dataclass(frozen=True)
class Leaf:
    """One leaf: the cases of the training data that reached it, and how to reach it."""

    node: int
    rollbacks: int
    rollouts: int
    conditions: tuple[Condition, ...]

    @property
    def cases(self) -> int:
        return self.rollbacks + self.rollouts

    @property
    def decision(self) -> int:
        # As scikit-learn breaks ties: the first class, rollout.
        return ROLLBACK if self.rollbacks > self.rollouts else ROLLOUT

    @property
    def share(self) -> float:
        """The share of the leaf's cases that took its decision."""
        return max(self.rollbacks, self.rollouts) / self.cases if self.cases else 0.0


@dataclass(frozen=True)
class CompiledTree:
    left: tuple[int, ...]
    right: tuple[int, ...]
    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    rollbacks: tuple[int, ...]
    rollouts: tuple[int, ...]

    def leaf_node(self, value: float, minutes: float) -> int:
        point = (as_float32(value), as_float32(minutes))
        node = 0
        while self.left[node] != _LEAF:
            node = self.left[node] if point[self.feature[node]] <= self.threshold[node] else self.right[node]
        return node

    def leaf_for(self, value: float, minutes: float) -> Leaf:
        """The leaf that decides for this observation, with the path to it as merged conditions."""
        return self.leaf(self.leaf_node(value, minutes))

    def probabilities(self, value: float, minutes: float) -> tuple[float, float]:
        """(rollout, rollback) shares of the deciding leaf: what `predict_proba` gives."""
        leaf = self.leaf_for(value, minutes)
        return leaf.rollouts / leaf.cases, leaf.rollbacks / leaf.cases

    def leaf(self, node: int) -> Leaf:
        return Leaf(node, self.rollbacks[node], self.rollouts[node], self._conditions(self._path_to(node)))

    def leaves(self) -> list[Leaf]:
        """Every leaf, left to right."""
        return [self.leaf(node) for node in range(len(self.left)) if self.left[node] == _LEAF]

    @cached_property
    def _parents(self) -> dict[int, tuple[int, bool]]:
        """Each node's parent and whether it is its left child: found once per tree, not at
        every verdict (a tree is compiled once per process and version)."""
        parent: dict[int, tuple[int, bool]] = {}
        for node in range(len(self.left)):
            if self.left[node] != _LEAF:
                parent[self.left[node]] = (node, True)
                parent[self.right[node]] = (node, False)
        return parent

    def _path_to(self, target: int) -> list[tuple[int, bool]]:
        """(node, went left) for each split from the root to `target`."""
        parent = self._parents
        path = []
        while target in parent:
            node, went_left = parent[target]
            path.append((node, went_left))
            target = node
        return path[::-1]

    def _conditions(self, path: list[tuple[int, bool]]) -> tuple[Condition, ...]:
        bounds: dict[int, list[float]] = {}
        for node, went_left in path:
            lower, upper = bounds.setdefault(self.feature[node], [-math.inf, math.inf])
            if went_left:
                bounds[self.feature[node]][1] = min(upper, self.threshold[node])
            else:
                bounds[self.feature[node]][0] = max(lower, self.threshold[node])
        return tuple(
            Condition(
                FEATURES[feature],
                None if bounds[feature][0] == -math.inf else bounds[feature][0],
                None if bounds[feature][1] == math.inf else bounds[feature][1],
            )
            for feature in sorted(bounds)
        )


def compile_tree(model: DecisionTreeClassifier) -> CompiledTree:
    """Read a fitted tree's arrays once; counts are those of the data it was fitted on."""
    tree = model.tree_
    classes = [int(each) for each in model.classes_]
    rollbacks, rollouts = [], []
    for node in range(tree.node_count):
        shares = tree.value[node][0]
        # scikit-learn >= 1.4 stores each node's class shares; older versions stored counts.
        total = tree.weighted_n_node_samples[node] if abs(float(shares.sum()) - 1.0) < 1e-9 else 1.0
        counts = {cls: round(float(share) * float(total)) for cls, share in zip(classes, shares, strict=True)}
        rollbacks.append(counts.get(ROLLBACK, 0))
        rollouts.append(counts.get(ROLLOUT, 0))
    return CompiledTree(
        left=tuple(int(each) for each in tree.children_left),
        right=tuple(int(each) for each in tree.children_right),
        feature=tuple(int(each) for each in tree.feature),
        threshold=tuple(float(each) for each in tree.threshold),
        rollbacks=tuple(rollbacks),
        rollouts=tuple(rollouts),
    )
