"""Figures of indicator columns and of a tree's decision regions, without the database."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import pytest

from predictor.charts import (
    INCONCLUSIVE_COLOUR,
    ROLLBACK_COLOUR,
    ROLLOUT_COLOUR,
    Box,
    ChartLabels,
    Observation,
    decision_regions_figure,
    render_pairplot_png,
    with_observation,
)
from predictor.columns import ROLLBACK, ROLLOUT, IndicatorColumns
from predictor.explain import Condition, Leaf
from tests.data import rule_data

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Okabe and Ito's palette: told apart by readers with any common colour-vision deficiency.
OKABE_ITO = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000", "#999999"}

# A tree of rule_data's rule, by hand: rollout above 400; below, rollback after 10 minutes.
HIGH_VALUE = Leaf(node=1, rollbacks=0, rollouts=40, conditions=(Condition("value", lower=400.0),))
LOW_VALUE_SHORT = Leaf(
    node=3, rollbacks=1, rollouts=3, conditions=(Condition("value", upper=400.0), Condition("minutes", upper=10.0))
)
LOW_VALUE_LONG = Leaf(
    node=4, rollbacks=18, rollouts=2, conditions=(Condition("value", upper=400.0), Condition("minutes", lower=10.0))
)
LEAVES = [HIGH_VALUE, LOW_VALUE_SHORT, LOW_VALUE_LONG]
BOX = Box(value_low=100.0, value_high=1000.0, minutes_low=0.0, minutes_high=60.0)
LABELS = ChartLabels(rollback="Rollback", rollout="Rollout", observation="Sua observação", time="Tempo (minutos)")


def test_pairplot_is_a_png_and_leaves_no_figure_open() -> None:
    before = len(plt.get_fignums())

    png = render_pairplot_png(rule_data(300), ChartLabels())

    assert png.startswith(PNG_SIGNATURE)
    assert len(plt.get_fignums()) == before


def test_pairplot_draws_data_with_a_single_decision() -> None:
    data = IndicatorColumns(values=[1.0, 2.0, 3.0], times=[1.0, 1.0, 2.0], decisions=[ROLLOUT] * 3)

    png = render_pairplot_png(data, ChartLabels())

    assert png.startswith(PNG_SIGNATURE)


def test_colours_are_distinct_and_safe_for_colour_blind_readers() -> None:
    assert {ROLLBACK_COLOUR, ROLLOUT_COLOUR, INCONCLUSIVE_COLOUR} <= OKABE_ITO
    assert len({ROLLBACK_COLOUR, ROLLOUT_COLOUR, INCONCLUSIVE_COLOUR}) == 3


def test_regions_have_one_shape_per_leaf_coloured_by_its_decision_within_the_box() -> None:
    figure = decision_regions_figure(LEAVES, rule_data(50), BOX, LABELS)

    shapes = figure["layout"]["shapes"]
    # Time on x, value on y; open bounds end at the box.
    assert [(s["x0"], s["x1"], s["y0"], s["y1"], s["fillcolor"]) for s in shapes] == [
        (0.0, 60.0, 400.0, 1000.0, ROLLOUT_COLOUR),
        (0.0, 10.0, 100.0, 400.0, ROLLOUT_COLOUR),
        (10.0, 60.0, 100.0, 400.0, ROLLBACK_COLOUR),
    ]
    assert all(shape["type"] == "rect" and shape["layer"] == "below" for shape in shapes)
    # The larger the majority, the darker: 40 of 40 over 18 of 20 over 3 of 4.
    opacities = [shape["opacity"] for shape in shapes]
    assert opacities[0] > opacities[2] > opacities[1] > 0


def test_a_leaf_outside_the_box_is_not_drawn() -> None:
    beyond = Leaf(node=5, rollbacks=5, rollouts=0, conditions=(Condition("value", lower=5000.0),))

    figure = decision_regions_figure([*LEAVES, beyond], rule_data(50), BOX, LABELS)

    assert len(figure["layout"]["shapes"]) == len(LEAVES)


def test_regions_put_the_points_of_each_decision_in_their_own_trace_and_symbol() -> None:
    data = rule_data(50)

    figure = decision_regions_figure(LEAVES, data, BOX, LABELS)

    rollout, rollback = figure["data"]
    assert [rollout["name"], rollback["name"]] == ["Rollout", "Rollback"]
    # Each point in the trace of its own decision: time on x, value on y.
    expected_rollback = [(t, v) for v, t, d in data.rows() if d == ROLLBACK]
    expected_rollout = [(t, v) for v, t, d in data.rows() if d == ROLLOUT]
    assert expected_rollback, "the data should hold both decisions"
    assert expected_rollout, "the data should hold both decisions"
    assert list(zip(rollback["x"], rollback["y"], strict=True)) == expected_rollback
    assert list(zip(rollout["x"], rollout["y"], strict=True)) == expected_rollout
    # Told apart by shape as well as by colour.
    assert (rollout["marker"]["symbol"], rollout["marker"]["color"]) == ("circle", ROLLOUT_COLOUR)
    assert (rollback["marker"]["symbol"], rollback["marker"]["color"]) == ("x", ROLLBACK_COLOUR)
    assert figure["layout"]["xaxis"]["title"]["text"] == "Tempo (minutos)"
    # Plain JSON, for json_script.
    assert json.loads(json.dumps(figure)) == figure


@pytest.mark.parametrize(
    ("decision", "colour"),
    [(ROLLBACK, ROLLBACK_COLOUR), (ROLLOUT, ROLLOUT_COLOUR), (None, INCONCLUSIVE_COLOUR)],
    ids=["rollback", "rollout", "inconclusive"],
)
def test_the_observation_is_a_star_coloured_by_the_verdict(decision: int | None, colour: str) -> None:
    figure = decision_regions_figure(LEAVES, rule_data(50), BOX, LABELS)

    marked = with_observation(figure, Observation(value=250.0, minutes=30.0, decision=decision), LABELS)

    *points, star = marked["data"]
    assert points == figure["data"]
    assert star["name"] == "Sua observação"
    assert (star["x"], star["y"]) == ([30.0], [250.0])
    assert (star["marker"]["symbol"], star["marker"]["color"]) == ("star", colour)
    assert marked["layout"] == figure["layout"]
    # The figure is drawn once per version and shared: marking one observation leaves it as it was.
    assert len(figure["data"]) == 2
