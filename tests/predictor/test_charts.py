"""Figures of indicator columns, without the database."""

from __future__ import annotations

import matplotlib.pyplot as plt

from predictor.charts import ChartLabels, Observation, render_pairplot_png, scatter_figure_json
from predictor.columns import ROLLBACK, ROLLOUT, IndicatorColumns
from tests.conftest import rule_data

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_pairplot_is_a_png_and_leaves_no_figure_open() -> None:
    before = len(plt.get_fignums())

    png = render_pairplot_png(rule_data(300), ChartLabels())

    assert png.startswith(PNG_SIGNATURE)
    assert len(plt.get_fignums()) == before


def test_pairplot_draws_data_with_a_single_decision() -> None:
    data = IndicatorColumns(values=[1.0, 2.0, 3.0], times=[1.0, 1.0, 2.0], decisions=[ROLLOUT] * 3)

    png = render_pairplot_png(data, ChartLabels())

    assert png.startswith(PNG_SIGNATURE)


def test_scatter_has_one_trace_per_decision_and_marks_the_observation() -> None:
    data = rule_data(50)
    labels = ChartLabels(rollback="Rollback", rollout="Rollout", observation="Sua observação")

    figure = scatter_figure_json(data, labels, Observation(value=250.0, minutes=30.0, decision=ROLLBACK))

    rollout, rollback, observation = figure["data"]
    assert [rollout["name"], rollback["name"], observation["name"]] == ["Rollout", "Rollback", "Sua observação"]
    # Each point in the trace of its own decision: time on x, value on y.
    expected_rollback = [(t, v) for v, t, d in data.rows() if d == ROLLBACK]
    expected_rollout = [(t, v) for v, t, d in data.rows() if d == ROLLOUT]
    assert expected_rollback, "the data should hold both decisions"
    assert expected_rollout, "the data should hold both decisions"
    assert list(zip(rollback["x"], rollback["y"], strict=True)) == expected_rollback
    assert list(zip(rollout["x"], rollout["y"], strict=True)) == expected_rollout
    assert observation["x"] == [30.0]
    assert observation["y"] == [250.0]
