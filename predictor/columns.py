"""The shape in which indicator data travels: three named columns, and the two decisions."""

from __future__ import annotations

from array import array
from collections.abc import Iterator, MutableSequence, Sequence
from dataclasses import dataclass, field
from typing import Final

# The labels the tree learns. The domain's `Decision` choices are built on these.
ROLLOUT: Final = 0
ROLLBACK: Final = 1


def _floats() -> MutableSequence[float]:
    return array("d")


def _decisions() -> MutableSequence[int]:
    return array("b")


@dataclass
class IndicatorColumns:
    """Values, times (minutes) and decisions of indicators, row i across the three.

    Typed arrays by default: a million rows take 17 MB, where lists of Python floats
    would take about 100 MB. Any sequences of the right types are accepted.
    """

    values: MutableSequence[float] = field(default_factory=_floats)
    times: MutableSequence[float] = field(default_factory=_floats)
    decisions: MutableSequence[int] = field(default_factory=_decisions)

    def __post_init__(self) -> None:
        if not len(self.values) == len(self.times) == len(self.decisions):
            raise ValueError("values, times and decisions must have the same length")

    def __len__(self) -> int:
        return len(self.values)

    def append(self, *, value: float, time: float, decision: int) -> None:
        self.values.append(value)
        self.times.append(time)
        self.decisions.append(decision)

    def extend(self, *, values: Sequence[float], times: Sequence[float], decision: int) -> None:
        """Rows of one decision at once (a past release's minutes)."""
        if len(values) != len(times):
            raise ValueError(f"{len(values)} values but {len(times)} times")
        self.values.extend(values)
        self.times.extend(times)
        self.decisions.extend([decision] * len(values))

    def rows(self) -> Iterator[tuple[float, float, int]]:
        """(value, time, decision) of each row, in order."""
        return zip(self.values, self.times, self.decisions, strict=True)
