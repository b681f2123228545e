from __future__ import annotations

import matplotlib.pyplot as plt

from predictor.charts import ChartLabels, render_pairplot_png, scatter_figure_json
from tests.conftest import rule_data

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_pairplot_is_a_png_and_leaves_no_figure_open():
    data = rule_data(300)
    before = len(plt.get_fignums())
    png = render_pairplot_png(data.values, data.times, data.decisions, ChartLabels())
    assert png.startswith(PNG_SIGNATURE)
    assert len(plt.get_fignums()) == before


def test_pairplot_draws_data_with_a_single_decision():
    png = render_pairplot_png([1.0, 2.0, 3.0], [1.0, 1.0, 2.0], [0, 0, 0], ChartLabels())
    assert png.startswith(PNG_SIGNATURE)


def test_scatter_has_one_trace_per_decision_and_marks_the_observation():
    data = rule_data(50)
    labels = ChartLabels(rollback="Rollback", rollout="Rollout", observation="Sua observação")
    figure = scatter_figure_json(data.values, data.times, data.decisions, labels, observation=(250.0, 30.0, 1))
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["Rollout", "Rollback", "Sua observação"]
    assert len(figure["data"][0]["x"]) + len(figure["data"][1]["x"]) == 50
    assert figure["data"][2]["x"] == [30.0]
    assert figure["data"][2]["y"] == [250.0]
