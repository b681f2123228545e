"""Reading a fitted tree: its answers, its leaves and the path to them. No database."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from predictor.columns import ROLLBACK, ROLLOUT
from predictor.explain import Condition, compile_tree
from tests.conftest import rule_data
from tests.factories import fitted_tree


def test_the_compiled_tree_agrees_with_predict_proba_on_random_inputs() -> None:
    data = rule_data(3000, noise=0.15, seed=4)
    model = DecisionTreeClassifier(max_depth=10, random_state=0).fit(
        np.column_stack([data.values, data.times]), list(data.decisions)
    )
    compiled = compile_tree(model)
    rng = np.random.default_rng(1)
    # Around the data, beyond it, and on the thresholds themselves (ties go left, as in sklearn).
    points = np.column_stack([rng.uniform(-500, 2000, 2000), rng.uniform(-10, 100, 2000)])
    splits = [t for t, f in zip(compiled.threshold, compiled.feature, strict=True) if f >= 0]
    points = np.vstack([points, [[t, 30.0] for t in splits], [[500.0, t] for t in splits]])
    expected = model.predict_proba(points)
    for (value, minutes), (rollout, rollback) in zip(points, expected, strict=True):
        assert compiled.probabilities(float(value), float(minutes)) == pytest.approx((rollout, rollback), abs=1e-12)


def test_a_leaf_has_the_counts_of_the_training_cases_that_reached_it() -> None:
    data = rule_data(200)
    model = fitted_tree()
    compiled = compile_tree(model)
    features = np.column_stack([data.values, data.times])
    reached = model.apply(features)
    for leaf in compiled.leaves():
        decisions = np.asarray(data.decisions)[reached == leaf.node]
        assert (leaf.rollbacks, leaf.rollouts) == (
            int((decisions == ROLLBACK).sum()),
            int((decisions == ROLLOUT).sum()),
        )
    assert sum(leaf.cases for leaf in compiled.leaves()) == 200


def test_the_path_to_a_leaf_is_merged_into_one_range_per_feature() -> None:
    # Rollback only for values in (300, 600] observed over more than 10 minutes.
    values = np.repeat(np.arange(0, 1000, 50.0), 6)
    minutes = np.tile([1.0, 5.0, 9.0, 11.0, 20.0, 40.0], 20)
    decisions = ((values > 300) & (values <= 600) & (minutes > 10)).astype(int)
    compiled = compile_tree(DecisionTreeClassifier(random_state=0).fit(np.column_stack([values, minutes]), decisions))

    leaf = compiled.leaf_for(450, 30)

    assert leaf.decision == ROLLBACK
    assert leaf.share == 1.0
    # Thresholds fall halfway between the observed values: 300|350, 600|650 and 9|11.
    assert leaf.conditions == (Condition("value", 325.0, 625.0), Condition("minutes", 10.0, None))
    assert all(condition.holds(450, 30) for condition in leaf.conditions)
    assert not compiled.leaf_for(450, 5).decision


def test_every_training_point_meets_the_conditions_of_its_leaf() -> None:
    data = rule_data(300, noise=0.1, seed=9)
    compiled = compile_tree(
        DecisionTreeClassifier(max_depth=6, random_state=0).fit(
            np.column_stack([data.values, data.times]), list(data.decisions)
        )
    )
    for value, minutes, _ in data.rows():
        leaf = compiled.leaf_for(value, minutes)
        assert all(condition.holds(value, minutes) for condition in leaf.conditions)
