"""Reading a fitted tree: its answers, its leaves and the path to them. No database."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from predictor.columns import ROLLBACK, ROLLOUT
from predictor.explain import Condition, WrittenSplit, compile_tree, written_split
from tests.data import rule_data
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


def between(low: float, high: float) -> float:
    """Where scikit-learn splits between two training values: halfway between their 32-bit floats."""
    return float(np.float32(low)) / 2 + float(np.float32(high)) / 2


@pytest.mark.parametrize(
    ("split", "text", "goes_left"),
    [
        (between(48.1, 48.3), "48.2", False),  # 48.19999885559082: 48.2 itself goes right ("below 48.2")
        (float(np.float32(449.48)), "449.48", True),  # 449.47998046875 is the last number sent left
        (1000.1000061035156, "1000.1", True),
        (12345.5, "12345.5", True),  # "12346" would say 12346 is at most it: the tree sends it right
        (99999.5, "99999.5", True),  # never "1e+05"
        (1.2345e-05, "0.000012345", True),  # people do not write exponents
        (between(-3.3, -3.2), "-3.25", True),
        (0.0, "0", True),
        (-0.0, "0", True),
    ],
)
def test_a_split_is_written_as_people_write_it(split: float, text: str, goes_left: bool) -> None:
    assert written_split(split) == WrittenSplit(text, goes_left)


def test_a_written_split_keeps_every_number_on_the_trees_side() -> None:
    generator = np.random.default_rng(11)
    for _ in range(3_000):
        low = np.float32(generator.uniform(-1, 1) * 10.0 ** generator.integers(-6, 9))
        next_up = np.nextafter(low, np.float32(np.inf))
        high = next_up if generator.random() < 0.3 else np.float32(low + abs(low) * 0.001 + 1)
        split = float(low) / 2 + float(high) / 2  # as scikit-learn places a split between two values
        written = written_split(split)
        number = np.float32(written.number)

        # The written number goes where the rule says; its 32-bit neighbour on the other side, the other way.
        if written.goes_left:  # "at most" it
            assert float(number) <= split < float(np.nextafter(number, np.float32(np.inf)))
        else:  # "below" it
            assert float(np.nextafter(number, np.float32(-np.inf))) <= split < float(number)
        assert float(low) <= split < float(high)


def test_a_condition_is_written_with_plain_numbers_and_which_side_each_is_on() -> None:
    condition = Condition("minutes", lower=float(np.float32(9.5)), upper=between(48.1, 48.3))

    assert condition.as_written() == {
        "feature": "minutes",
        "lower": {"number": 9.5, "inclusive": False},  # above 9.5
        "upper": {"number": 48.2, "inclusive": False},  # below 48.2
    }
    assert Condition("value", upper=449.6000061035156).as_written() == {
        "feature": "value",
        "lower": None,
        "upper": {"number": 449.6, "inclusive": True},  # at most 449.6
    }
