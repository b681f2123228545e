"""Fitting and evaluating the per-metric decision tree.

Pure: indicator columns in, a fitted model and its evaluation out. No request, no ORM.
The domain's `TrainedModel.objects.train` is its one caller; views, commands, the API
and background jobs go through that.

An unlimited tree memorises noisy labels, so its depth is chosen by cross-validation
(`GridSearchCV`). The accuracy reported is that of the whole procedure, depth choice
included, on folds it never saw: nested cross-validation. It is what
`cross_val_score(build_estimator(...), X, y, cv=outer_folds(y))` gives.
"""

from __future__ import annotations

import hashlib
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from predictor.columns import ROLLBACK, ROLLOUT, IndicatorColumns

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.tree import DecisionTreeClassifier

RANDOM_STATE = 0
MIN_INDICATORS = 10
MIN_PER_DECISION = 2
DEPTH_GRID: list[int | None] = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, None]
MAX_OUTER_FOLDS = 5
INNER_FOLDS = 3
# The normal quantile of a two-sided 95% interval.
Z_95 = 1.959963984540054


def is_enough_to_train(total: int, rollbacks: int, rollouts: int) -> bool:
    """Whether so many indicators (of each decision) can be trained on and evaluated."""
    return total >= MIN_INDICATORS and min(rollbacks, rollouts) >= MIN_PER_DECISION


class TrainingDataError(Exception):
    """The data cannot give a model; the message says what to change."""


class NotEnoughDataError(TrainingDataError):
    """Too few indicators, or too few of one decision, to train and evaluate a model."""

    def __init__(self, total: int, rollbacks: int, rollouts: int) -> None:
        self.total = total
        self.rollbacks = rollbacks
        self.rollouts = rollouts
        super().__init__(f"{total} indicators, {rollbacks} rollbacks, {rollouts} rollouts")


@dataclass(frozen=True)
class Confusion:
    """Held-out predictions against what was decided, pooled over the outer folds."""

    rollout_as_rollout: int
    rollout_as_rollback: int
    rollback_as_rollout: int  # a missed rollback: the costly mistake
    rollback_as_rollback: int


@dataclass(frozen=True)
class TrainingResult:
    model: DecisionTreeClassifier
    accuracy: float  # nested cross-validation: the mean of the outer folds' accuracies
    baseline_accuracy: float  # always answering the training folds' majority decision, same folds
    balanced_accuracy: float
    rollback_precision: float
    rollback_recall: float
    confusion: Confusion
    n_indicators: int
    n_trained_on: int  # fewer than n_indicators when a sample was used
    n_rollback: int
    n_rollout: int
    max_depth: int | None
    n_leaves: int
    value_range: tuple[float, float]  # of all the data, sample or not
    minutes_range: tuple[float, float]
    data_sha256: str  # of all the data: values, times (float64) and decisions (int8), in order
    training_seconds: float


def as_features(values: Sequence[float], times: Sequence[float]) -> np.ndarray:
    """The (n, 2) matrix the tree reads: value, then time in minutes."""
    import numpy as np

    return np.column_stack([np.asarray(values, dtype=float), np.asarray(times, dtype=float)])


def outer_folds(decisions: np.ndarray) -> StratifiedKFold:
    """The folds on which accuracy is measured: up to 5, never more than the rarer decision."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    rarer = int(np.bincount(decisions, minlength=2).min())
    return StratifiedKFold(n_splits=max(2, min(MAX_OUTER_FOLDS, rarer)), shuffle=True, random_state=RANDOM_STATE)


def build_estimator() -> GridSearchCV:
    """A tree whose depth is chosen by cross-validation on the data it is fitted to."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.tree import DecisionTreeClassifier

    return GridSearchCV(
        DecisionTreeClassifier(random_state=RANDOM_STATE),
        param_grid={"max_depth": DEPTH_GRID},
        cv=StratifiedKFold(n_splits=INNER_FOLDS, shuffle=True, random_state=RANDOM_STATE),
        scoring="accuracy",
    )


def wilson_lower_bound(share: float, count: int, z: float = Z_95) -> float:
    """The lower end of the Wilson score interval (95% by default) of a share measured on
    `count` trials: an accuracy of 66.7% on 12 held-out predictions is only known to be above
    39.1%. Nothing is known of a share measured on no trial: its bound is 0."""
    if count <= 0:
        return 0.0
    spread = z * z / count
    centre = share + spread / 2
    half_width = z * math.sqrt(share * (1 - share) / count + spread / (4 * count))
    return max(0.0, (centre - half_width) / (1 + spread))


# progress(stage, done, total): "folds" (done of total outer folds), then "final_fit".
Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    """The default `Progress`: nobody is told."""


def fit_decision_tree(
    columns: IndicatorColumns, max_rows: int | None = None, progress: Progress = _no_progress
) -> TrainingResult:
    """Fit a DecisionTreeClassifier on (value, time) -> decision and measure its accuracy.

    Raises `NotEnoughDataError` below `MIN_INDICATORS` rows or `MIN_PER_DECISION` of
    either decision. Same data, same model and same accuracy. With more than `max_rows`
    rows, a stratified sample of `max_rows` (the same each time) is used, which keeps
    the training time bounded; the counts reported are those of all the data.
    """
    import numpy as np
    from sklearn.model_selection import train_test_split

    started = time.perf_counter()
    features = as_features(columns.values, columns.times)
    labels = np.asarray(columns.decisions, dtype=int)
    counts = np.bincount(labels, minlength=2)
    rollouts, rollbacks = int(counts[ROLLOUT]), int(counts[ROLLBACK])
    if not is_enough_to_train(len(labels), rollbacks, rollouts):
        raise NotEnoughDataError(len(labels), rollbacks, rollouts)
    with np.errstate(over="ignore"):
        learnable = np.isfinite(features.astype(np.float32)).all()
    if not learnable:
        # Inputs are checked where they enter; this guards rows written around those checks.
        raise TrainingDataError("values or times are not finite 32-bit numbers")
    data_sha256 = hashlib.sha256(
        features[:, 0].tobytes() + features[:, 1].tobytes() + labels.astype(np.int8).tobytes()
    ).hexdigest()
    value_range = (float(features[:, 0].min()), float(features[:, 0].max()))
    minutes_range = (float(features[:, 1].min()), float(features[:, 1].max()))
    if max_rows is not None and len(labels) > max_rows:
        # A tree on two features learns as much from tens of thousands of rows as from a
        # million, and the nested cross-validation's cost grows with every row.
        features, _, labels, _ = train_test_split(
            features, labels, train_size=max_rows, stratify=labels, random_state=RANDOM_STATE
        )

    with warnings.catch_warnings():
        # Small data sets leave a fold with one member of a decision; sklearn warns,
        # the estimate is merely noisier, which the indicator count shown beside it says.
        warnings.simplefilter("ignore", UserWarning)
        held_out = _evaluate(features, labels, progress)
        progress("final_fit", 0, 1)
        search = build_estimator().fit(features, labels)
    model: DecisionTreeClassifier = search.best_estimator_
    return TrainingResult(
        model=model,
        accuracy=held_out.accuracy,
        baseline_accuracy=held_out.baseline_accuracy,
        balanced_accuracy=held_out.balanced_accuracy,
        rollback_precision=held_out.rollback_precision,
        rollback_recall=held_out.rollback_recall,
        confusion=held_out.confusion,
        n_indicators=rollbacks + rollouts,
        n_trained_on=len(labels),
        n_rollback=rollbacks,
        n_rollout=rollouts,
        max_depth=search.best_params_["max_depth"],
        n_leaves=int(model.get_n_leaves()),
        value_range=value_range,
        minutes_range=minutes_range,
        data_sha256=data_sha256,
        training_seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class _HeldOut:
    accuracy: float
    baseline_accuracy: float
    balanced_accuracy: float
    rollback_precision: float
    rollback_recall: float
    confusion: Confusion


def _evaluate(features: np.ndarray, labels: np.ndarray, progress: Progress) -> _HeldOut:
    """Nested cross-validation, once: each outer fold fits the whole procedure (depth search
    included) on the other folds and predicts its own. Scored per fold, as `cross_val_score`
    does, and pooled, as `cross_val_predict` does, for the figures that need every prediction."""
    import numpy as np
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, precision_score, recall_score

    predictions = np.empty_like(labels)
    accuracies, baselines = [], []
    # Always answering the most common decision (rollout on a tie). Of all the data, not of
    # each fold's training part: with balanced decisions and stratified folds, the training
    # part's majority is by construction the held-out fold's minority, which put the
    # baseline below chance and let a model no better than chance seem better than it.
    majority = int(np.bincount(labels, minlength=2).argmax())
    folds = outer_folds(labels)
    for fold, (train, test) in enumerate(folds.split(features, labels)):
        progress("folds", fold, folds.get_n_splits())
        predictions[test] = build_estimator().fit(features[train], labels[train]).predict(features[test])
        accuracies.append(float(np.mean(predictions[test] == labels[test])))
        baselines.append(float(np.mean(labels[test] == majority)))
    matrix = confusion_matrix(labels, predictions, labels=[ROLLOUT, ROLLBACK])
    return _HeldOut(
        accuracy=float(np.mean(accuracies)),
        baseline_accuracy=float(np.mean(baselines)),
        balanced_accuracy=float(balanced_accuracy_score(labels, predictions)),
        rollback_precision=float(precision_score(labels, predictions, pos_label=ROLLBACK, zero_division=0)),
        rollback_recall=float(recall_score(labels, predictions, pos_label=ROLLBACK, zero_division=0)),
        confusion=Confusion(
            rollout_as_rollout=int(matrix[0, 0]),
            rollout_as_rollback=int(matrix[0, 1]),
            rollback_as_rollout=int(matrix[1, 0]),
            rollback_as_rollback=int(matrix[1, 1]),
        ),
    )
