"""What every store gives: values of a series, each with the moment it stands for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Sample:
    """One value of a series, and when the store sampled it (UTC)."""

    value: float
    at: datetime
