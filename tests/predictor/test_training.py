"""Training on synthetic data with a known rule, without the database."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.tree import DecisionTreeClassifier

from predictor.columns import IndicatorColumns
from predictor.explain import compile_tree
from predictor.training import (
    DEPTH_GRID,
    MIN_INDICATORS,
    NotEnoughDataError,
    TrainingDataError,
    fit_decision_tree,
    wilson_lower_bound,
)
from tests.data import rule_data


def columns(values, times, decisions) -> IndicatorColumns:
    return IndicatorColumns(values=list(values), times=list(times), decisions=list(decisions))


def nested_cv_accuracy(values, times, decisions, outer_folds: int) -> float:
    """Written out independently of the module: depth chosen by an inner 3-fold search,
    accuracy measured on outer folds the search never saw."""
    search = GridSearchCV(
        DecisionTreeClassifier(random_state=0),
        {"max_depth": DEPTH_GRID},
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a fold with one member of a decision
        scores = cross_val_score(
            search,
            np.column_stack([values, times]),
            np.array(decisions),
            cv=StratifiedKFold(n_splits=outer_folds, shuffle=True, random_state=0),
        )
    return float(scores.mean())


def test_the_tree_recovers_a_known_rule_with_high_held_out_accuracy():
    data = rule_data(600)
    result = fit_decision_tree(data)
    assert result.accuracy > 0.9
    assert compile_tree(result.model).leaf_for(200, 30).decision == 1
    assert compile_tree(result.model).leaf_for(900, 30).decision == 0
    assert compile_tree(result.model).leaf_for(200, 2).decision == 0


def test_reported_accuracy_is_nested_cross_validation_as_scikit_learn_computes_it():
    data = rule_data(300, noise=0.1, seed=3)
    result = fit_decision_tree(data)

    expected = nested_cv_accuracy(data.values, data.times, data.decisions, outer_folds=5)
    assert result.accuracy == pytest.approx(expected)


def test_reported_accuracy_is_not_training_accuracy():
    data = rule_data(400, noise=0.2, seed=5)
    result = fit_decision_tree(data)
    training_accuracy = result.model.score(np.column_stack([data.values, data.times]), data.decisions)
    assert result.accuracy < training_accuracy


def test_depth_is_limited_on_noisy_labels_instead_of_memorising_them():
    data = rule_data(3000, noise=0.1, seed=7)
    result = fit_decision_tree(data)
    unlimited = DecisionTreeClassifier(random_state=0).fit(np.column_stack([data.values, data.times]), data.decisions)
    assert result.max_depth is not None
    assert result.n_leaves * 10 < unlimited.get_n_leaves()
    assert result.accuracy > 0.85


def test_same_data_gives_the_same_model_and_accuracy():
    data = rule_data(300, noise=0.1, seed=11)
    first = fit_decision_tree(data)
    second = fit_decision_tree(data)
    assert first.accuracy == second.accuracy
    assert first.max_depth == second.max_depth
    grid = np.column_stack([np.linspace(100, 1000, 50), np.linspace(0, 60, 50)])
    assert (first.model.predict_proba(grid) == second.model.predict_proba(grid)).all()


def test_counts_of_each_decision_are_reported():
    data = rule_data(200)
    result = fit_decision_tree(data)
    assert result.n_indicators == 200
    assert result.n_rollback == sum(data.decisions)
    assert result.n_rollout == 200 - sum(data.decisions)


def test_fewer_than_the_minimum_indicators_is_refused():
    values, times, decisions = [1.0] * 9, [1.0] * 9, [0, 1] * 4 + [0]
    assert len(values) == MIN_INDICATORS - 1
    with pytest.raises(NotEnoughDataError) as caught:
        fit_decision_tree(columns(values, times, decisions))
    assert (caught.value.total, caught.value.rollbacks, caught.value.rollouts) == (9, 4, 5)


def test_fewer_than_two_of_a_decision_is_refused():
    with pytest.raises(NotEnoughDataError) as caught:
        fit_decision_tree(columns(range(50), [1.0] * 50, [0] * 49 + [1]))
    assert caught.value.rollbacks == 1


def test_the_smallest_accepted_data_set_trains():
    values = [float(v) for v in range(10)]
    decisions = [0] * 8 + [1] * 2
    result = fit_decision_tree(columns(values, [5.0] * 10, decisions))
    # Two rollbacks allow two outer folds, no more.
    assert result.accuracy == pytest.approx(nested_cv_accuracy(values, [5.0] * 10, decisions, outer_folds=2))
    # The two rollbacks are the largest values: the tree learns that much.
    assert compile_tree(result.model).leaf_for(9.0, 5.0).decision == 1
    assert compile_tree(result.model).leaf_for(0.0, 5.0).decision == 0


def test_the_leaf_share_is_the_probability_scikit_learn_gives():
    data = rule_data(400, noise=0.1)
    result = fit_decision_tree(data)
    leaf = compile_tree(result.model).leaf_for(150, 40)
    assert leaf.decision == 1
    assert leaf.share == result.model.predict_proba([[150, 40]])[0][list(result.model.classes_).index(1)]


def test_values_too_large_for_the_tree_are_refused_not_crashed_on():
    data = rule_data(50)
    values = list(data.values)
    values[3] = 1e300
    with pytest.raises(TrainingDataError):
        fit_decision_tree(columns(values, data.times, data.decisions))


def test_large_data_trains_on_a_stratified_sample_and_reports_all_the_counts():
    data = rule_data(3000, noise=0.05, seed=13)
    result = fit_decision_tree(data, max_rows=600)
    again = fit_decision_tree(data, max_rows=600)
    assert (result.n_indicators, result.n_trained_on) == (3000, 600)
    assert result.n_rollback == sum(data.decisions)
    assert result.accuracy == again.accuracy
    assert result.accuracy > 0.85
    assert compile_tree(result.model).leaf_for(200, 30).decision == 1


def test_data_within_the_limit_is_used_whole():
    data = rule_data(300)
    assert fit_decision_tree(data, max_rows=300).n_trained_on == 300


def test_model_card_figures_are_what_scikit_learn_computes_on_the_same_folds():
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, precision_score, recall_score
    from sklearn.model_selection import cross_val_predict

    data = rule_data(300, noise=0.15, seed=21)
    result = fit_decision_tree(data)

    features, labels = np.column_stack([data.values, data.times]), np.array(data.decisions)
    outer = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    search = GridSearchCV(
        DecisionTreeClassifier(random_state=0),
        {"max_depth": DEPTH_GRID},
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
    )
    predicted = cross_val_predict(search, features, labels, cv=outer)
    (tn, fp), (fn, tp) = confusion_matrix(labels, predicted, labels=[0, 1])
    # Always the most common decision of all the data, scored on the same held-out folds.
    majority = np.full_like(labels, np.bincount(labels, minlength=2).argmax())
    baseline = np.mean([np.mean(labels[test] == majority[test]) for _train, test in outer.split(features, labels)])

    confusion = result.confusion
    assert (confusion.rollout_as_rollout, confusion.rollout_as_rollback) == (tn, fp)
    assert (confusion.rollback_as_rollout, confusion.rollback_as_rollback) == (fn, tp)
    assert result.balanced_accuracy == pytest.approx(balanced_accuracy_score(labels, predicted))
    assert result.rollback_precision == pytest.approx(precision_score(labels, predicted))
    assert result.rollback_recall == pytest.approx(recall_score(labels, predicted))
    assert result.baseline_accuracy == pytest.approx(baseline)
    assert result.baseline_accuracy < result.accuracy


def test_the_baseline_on_balanced_decisions_is_a_coin_toss_not_below_it():
    """With as many rollbacks as rollouts, each training part's majority is the held-out
    fold's minority: scored that way, the baseline fell below 50% and a model no better
    than chance passed as better than it."""
    data = IndicatorColumns()
    for number in range(6):
        data.append(value=float(number), time=float(number), decision=number % 2)
        data.append(value=float(number) + 0.5, time=float(number), decision=(number + 1) % 2)

    result = fit_decision_tree(data)

    assert result.baseline_accuracy == pytest.approx(0.5)


def test_training_records_the_data_range_and_a_hash_of_all_the_data():
    import hashlib

    data = rule_data(3000, noise=0.05, seed=13)
    result = fit_decision_tree(data, max_rows=600)
    again = fit_decision_tree(data, max_rows=600)
    changed = rule_data(3000, noise=0.05, seed=13)
    changed.decisions[0] = 1 - changed.decisions[0]

    assert result.value_range == (min(data.values), max(data.values))
    assert result.minutes_range == (min(data.times), max(data.times))
    expected = hashlib.sha256(
        np.asarray(data.values, dtype=float).tobytes()
        + np.asarray(data.times, dtype=float).tobytes()
        + np.asarray(data.decisions, dtype=np.int8).tobytes()
    ).hexdigest()
    assert result.data_sha256 == again.data_sha256 == expected
    assert fit_decision_tree(changed, max_rows=600).data_sha256 != expected
    assert result.training_seconds > 0


@pytest.mark.parametrize(("successes", "count"), [(7, 10), (8, 12), (9, 14), (28, 42), (195, 200), (0, 5), (5, 5)])
def test_the_accuracy_bound_is_the_lower_end_of_scipys_wilson_interval(successes: int, count: int) -> None:
    from scipy.stats import binomtest  # type: ignore[import-untyped]

    expected = binomtest(successes, count).proportion_ci(confidence_level=0.95, method="wilson").low

    assert wilson_lower_bound(successes / count, count) == pytest.approx(expected, abs=1e-12)


def test_the_accuracy_bound_is_wilsons_formula_worked_by_hand_for_7_of_10() -> None:
    # z = 1.96: (0.7 + 0.19208 - 1.96 * sqrt(0.021 + 0.0096040)) / 1.38416 = 0.39678
    assert round(wilson_lower_bound(0.7, 10), 4) == 0.3968


def test_an_accuracy_on_more_predictions_has_a_higher_bound() -> None:
    bounds = [wilson_lower_bound(2 / 3, count) for count in (12, 48, 480, 4800)]

    assert bounds == sorted(bounds)
    assert round(bounds[0], 3) == 0.391
    assert bounds[-1] == pytest.approx(2 / 3, abs=0.02)


def test_an_accuracy_measured_on_nothing_is_known_to_be_above_nothing() -> None:
    assert wilson_lower_bound(1.0, 0) == 0.0
