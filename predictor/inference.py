"""Asking a fitted tree for one decision. Pure: a model and numbers in, numbers out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from predictor.training import as_features

if TYPE_CHECKING:
    from sklearn.tree import DecisionTreeClassifier


@dataclass(frozen=True)
class TreeAnswer:
    decision: int  # ROLLOUT or ROLLBACK
    probability: float  # for that decision: the share of its leaf's past cases that took it


def predict_decision(model: DecisionTreeClassifier, value: float, minutes: float) -> TreeAnswer:
    """The decision the tree gives for one observation, and the probability the tree gives it."""
    probabilities = model.predict_proba(as_features([value], [minutes]))[0]
    best = int(probabilities.argmax())
    return TreeAnswer(decision=int(model.classes_[best]), probability=float(probabilities[best]))
