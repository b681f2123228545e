"""Figures of a metric's data. Pure: arrays in, PNG bytes or plotly JSON out.

matplotlib runs with the Agg backend (no display needed on a server) and every figure
is closed, or a long-running worker leaks memory with each chart.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from predictor.columns import ROLLBACK, ROLLOUT, IndicatorColumns

if TYPE_CHECKING:
    import pandas as pd

# pyplot keeps global state; seaborn draws through it. Threaded workers (gunicorn
# --threads) must not draw two figures at once.
_PYPLOT_LOCK = threading.Lock()

ROLLBACK_COLOUR = "#dc3545"
ROLLOUT_COLOUR = "#198754"


@dataclass(frozen=True)
class ChartLabels:
    """The words on a chart, translated by the caller."""

    value: str = "Value"
    time: str = "Time (minutes)"
    decision: str = "Decision"
    rollback: str = "Rollback"
    rollout: str = "Rollout"
    observation: str = "Your observation"


def render_pairplot_png(columns: IndicatorColumns, labels: ChartLabels) -> bytes:
    """A seaborn pairplot of value and time, coloured by decision, as PNG bytes."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            labels.value: list(columns.values),
            labels.time: list(columns.times),
            labels.decision: [labels.rollback if d == ROLLBACK else labels.rollout for d in columns.decisions],
        }
    )
    palette = {labels.rollback: ROLLBACK_COLOUR, labels.rollout: ROLLOUT_COLOUR}
    with _PYPLOT_LOCK:
        return _draw_pairplot(frame, labels, palette)


def _draw_pairplot(frame: pd.DataFrame, labels: ChartLabels, palette: dict[str, str]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    import matplotlib.pyplot as plt
    import seaborn as sns

    grid = sns.pairplot(
        frame,
        hue=labels.decision,
        hue_order=[labels.rollout, labels.rollback],
        palette=palette,
        height=2.6,
        plot_kws={"s": 14, "alpha": 0.6, "linewidth": 0},
        diag_kws={"common_norm": False, "warn_singular": False},
    )
    try:
        buffer = io.BytesIO()
        grid.figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
        return buffer.getvalue()
    finally:
        plt.close(grid.figure)


@dataclass(frozen=True)
class Observation:
    """What was entered on the predict page, and the decision the model gave for it."""

    value: float
    minutes: float
    decision: int


def scatter_figure_json(
    columns: IndicatorColumns, labels: ChartLabels, observation: Observation | None = None
) -> dict[str, Any]:
    """A plotly scatter of value against time, with the observation just entered marked."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for decision, name, colour in (
        (ROLLOUT, labels.rollout, ROLLOUT_COLOUR),
        (ROLLBACK, labels.rollback, ROLLBACK_COLOUR),
    ):
        xs = [t for _, t, d in columns.rows() if d == decision]
        ys = [v for v, _, d in columns.rows() if d == decision]
        figure.add_trace(
            go.Scatter(x=xs, y=ys, mode="markers", name=name, marker={"color": colour, "size": 6, "opacity": 0.55})
        )
    if observation is not None:
        figure.add_trace(
            go.Scatter(
                x=[observation.minutes],
                y=[observation.value],
                mode="markers",
                name=labels.observation,
                marker={
                    "symbol": "star",
                    "size": 20,
                    "color": ROLLBACK_COLOUR if observation.decision == ROLLBACK else ROLLOUT_COLOUR,
                    "line": {"color": "#000", "width": 2},
                },
            )
        )
    figure.update_layout(
        xaxis_title=labels.time,
        yaxis_title=labels.value,
        legend_title_text=labels.decision,
        # Below the plot, so that a phone's narrow screen keeps its width for the data.
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "xanchor": "left", "x": 0},
        margin={"l": 60, "r": 20, "t": 20, "b": 20},
        height=460,
        template="plotly_white",
    )
    # Round-trip through plotly's encoder so numpy values become plain JSON.
    result: dict[str, Any] = json.loads(figure.to_json())
    return result
