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
    from collections.abc import Sequence

    import pandas as pd

    from predictor.explain import Leaf

# pyplot keeps global state; seaborn draws through it. Threaded workers (gunicorn
# --threads) must not draw two figures at once.
_PYPLOT_LOCK = threading.Lock()

# Okabe and Ito's palette, which readers with any common colour-vision deficiency tell apart.
ROLLBACK_COLOUR = "#D55E00"  # vermillion
ROLLOUT_COLOUR = "#0072B2"  # blue
INCONCLUSIVE_COLOUR = "#999999"


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
    """What was entered for a verdict, and the state it got (ROLLOUT, ROLLBACK or None: inconclusive)."""

    value: float
    minutes: float
    decision: int | None


@dataclass(frozen=True)
class Box:
    """The part of the plane drawn: what the model has seen, with a margin."""

    value_low: float
    value_high: float
    minutes_low: float
    minutes_high: float

    @classmethod
    def around(cls, value_range: tuple[float, float], minutes_range: tuple[float, float]) -> Box:
        value_pad = 0.05 * ((value_range[1] - value_range[0]) or 1.0)
        minutes_pad = 0.05 * ((minutes_range[1] - minutes_range[0]) or 1.0)
        return cls(
            value_range[0] - value_pad,
            value_range[1] + value_pad,
            minutes_range[0] - minutes_pad,
            minutes_range[1] + minutes_pad,
        )


def decision_regions_figure(
    leaves: Sequence[Leaf], sample: IndicatorColumns, box: Box, labels: ChartLabels
) -> dict[str, Any]:
    """A plotly chart of value against minutes: each leaf's region of the plane shaded by its
    decision (the stronger its majority, the darker), and the sample of past cases on top,
    rollouts as circles and rollbacks as crosses, in colours that colour-blind readers tell apart."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for leaf in leaves:
        bounds = {"value": [box.value_low, box.value_high], "minutes": [box.minutes_low, box.minutes_high]}
        for condition in leaf.conditions:
            low, high = bounds[condition.feature]
            bounds[condition.feature] = [
                low if condition.lower is None else max(low, condition.lower),
                high if condition.upper is None else min(high, condition.upper),
            ]
        (value_low, value_high), (minutes_low, minutes_high) = bounds["value"], bounds["minutes"]
        if value_low >= value_high or minutes_low >= minutes_high:
            continue  # the leaf lies outside the drawn part of the plane
        figure.add_shape(
            type="rect",
            x0=minutes_low,
            x1=minutes_high,
            y0=value_low,
            y1=value_high,
            fillcolor=ROLLBACK_COLOUR if leaf.decision == ROLLBACK else ROLLOUT_COLOUR,
            opacity=round(0.08 + 0.3 * (leaf.share - 0.5) * 2, 3),
            line={"width": 0},
            layer="below",
        )
    for decision, name, colour, symbol in (
        (ROLLOUT, labels.rollout, ROLLOUT_COLOUR, "circle"),
        (ROLLBACK, labels.rollback, ROLLBACK_COLOUR, "x"),
    ):
        figure.add_trace(
            go.Scatter(
                x=[t for _, t, d in sample.rows() if d == decision],
                y=[v for v, _, d in sample.rows() if d == decision],
                mode="markers",
                name=name,
                marker={"color": colour, "size": 6, "opacity": 0.6, "symbol": symbol},
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


def with_observation(figure: dict[str, Any], observation: Observation, labels: ChartLabels) -> dict[str, Any]:
    """`figure` with the observation marked as a star, coloured by its verdict (grey: inconclusive)."""
    colours = {ROLLBACK: ROLLBACK_COLOUR, ROLLOUT: ROLLOUT_COLOUR}
    colour = INCONCLUSIVE_COLOUR if observation.decision is None else colours[observation.decision]
    star = {
        "type": "scatter",
        "x": [observation.minutes],
        "y": [observation.value],
        "mode": "markers",
        "name": labels.observation,
        "marker": {"symbol": "star", "size": 20, "color": colour, "line": {"color": "#000", "width": 2}},
    }
    return {**figure, "data": [*figure["data"], star]}
