"""Figures of a metric's data. Pure: arrays in, PNG bytes or plotly JSON out.

matplotlib runs with the Agg backend (no display needed on a server) and every figure
is closed, or a long-running worker leaks memory with each chart.
"""

from __future__ import annotations

import io
import json
import math
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


# A replayed release's verdict per minute, as `metrics` stores it (VerdictState's values).
TIMELINE_STATES = ("rollout", "inconclusive", "rollback")  # bottom to top
TIMELINE_COLOURS = {"rollback": ROLLBACK_COLOUR, "inconclusive": INCONCLUSIVE_COLOUR, "rollout": ROLLOUT_COLOUR}


@dataclass(frozen=True)
class TimelineLabels:
    """The words on a replayed release's timeline, translated by the caller."""

    minute: str = "Minute of the release"
    rollback: str = "Rollback"
    inconclusive: str = "Inconclusive"
    rollout: str = "Rollout"
    score: str = "Score"
    decided: str = "The team decided"


def replay_timeline_figure(
    states: Sequence[str], scores: Sequence[str], decided_minute: float | None, labels: TimelineLabels
) -> dict[str, Any]:
    """A plotly chart of a replayed release: the verdict at each minute from 1 (one of
    `TIMELINE_STATES`, rollback on top) as a step line with a dot per minute in its state's
    colour, each minute's score (already worded, "—" for none) on hover, and a dashed vertical
    line at the minute the team decided. Plain JSON: no plotly needed to build it."""
    words = {"rollback": labels.rollback, "inconclusive": labels.inconclusive, "rollout": labels.rollout}
    level = {state: index for index, state in enumerate(TIMELINE_STATES)}
    minutes = list(range(1, len(states) + 1))
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": minutes,
            "y": [level.get(state, 1) for state in states],
            "line": {"shape": "hv", "color": "#BBBBBB", "width": 2},
            "hoverinfo": "skip",
            "showlegend": False,
        }
    ]
    for state in TIMELINE_STATES:
        at = [index for index, each in enumerate(states) if each == state]
        if not at:
            continue
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": words[state],
                "x": [minutes[index] for index in at],
                "y": [level[state]] * len(at),
                "customdata": [scores[index] for index in at],
                "marker": {"color": TIMELINE_COLOURS[state], "size": 7},
                # The words are the caller's: braces or a percent sign in them must not read as plotly's.
                "hovertemplate": f"{_plain(labels.minute)} %{{x}}<br>{_plain(words[state])}<br>"
                f"{_plain(labels.score)}: %{{customdata}}<extra></extra>",
            }
        )
    last = max(len(states), math.ceil(decided_minute) if decided_minute is not None else 0, 1)
    layout: dict[str, Any] = {
        "height": 220,
        "margin": {"l": 100, "r": 16, "t": 28, "b": 44},
        "showlegend": False,
        "plot_bgcolor": "#FFFFFF",
        "paper_bgcolor": "#FFFFFF",
        "hovermode": "closest",
        "xaxis": {
            "title": {"text": labels.minute},
            "range": [0.5, last + 0.5],
            "gridcolor": "#EEEEEE",
            "zeroline": False,
            "fixedrange": True,
        },
        "yaxis": {
            "tickvals": list(range(len(TIMELINE_STATES))),
            "ticktext": [words[state] for state in TIMELINE_STATES],
            "range": [-0.5, len(TIMELINE_STATES) - 0.5],
            "gridcolor": "#EEEEEE",
            "zeroline": False,
            "fixedrange": True,
        },
        "shapes": [],
        "annotations": [],
    }
    if decided_minute is not None:
        layout["shapes"].append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": decided_minute,
                "x1": decided_minute,
                "y0": 0,
                "y1": 1,
                "line": {"color": "#000000", "width": 2, "dash": "dash"},
            }
        )
        # Written on the side of the line with more room.
        right_half = decided_minute > (last + 1) / 2
        layout["annotations"].append(
            {
                "x": decided_minute,
                "y": 1,
                "xref": "x",
                "yref": "paper",
                "text": labels.decided,
                "showarrow": False,
                "xanchor": "right" if right_half else "left",
                "yanchor": "bottom",
                "xshift": -4 if right_half else 4,
            }
        )
    return {"data": data, "layout": layout}


def _plain(text: str) -> str:
    """`text` as plotly's hover template shows it as written."""
    return text.replace("%{", "%&#123;").replace("<", "&lt;")


@dataclass(frozen=True)
class Bar:
    """Of a histogram of whole minutes: how many fell in [low, high] (both included)."""

    low: int
    high: int
    count: int


def minute_histogram(minutes: Sequence[int], most_bars: int = 12) -> list[Bar]:
    """Whole minutes counted per minute, from the first to the last; in bars of several
    minutes each when that would make more than `most_bars` bars. Empty for none."""
    if not minutes:
        return []
    first, last = min(minutes), max(minutes)
    width = max(1, math.ceil((last - first + 1) / most_bars))
    bars = [Bar(low, min(low + width - 1, last), 0) for low in range(first, last + 1, width)]
    counts = [0] * len(bars)
    for minute in minutes:
        counts[(minute - first) // width] += 1
    return [Bar(bar.low, bar.high, count) for bar, count in zip(bars, counts, strict=True)]


@dataclass(frozen=True)
class Span:
    """Minutes `first` to `last` (both included) of a replayed release, all in one `state`."""

    first: int
    last: int
    state: str


def state_spans(states: Sequence[str]) -> list[Span]:
    """The verdict per minute from 1, as runs of the same state: what the timeline shows, in words."""
    spans: list[Span] = []
    for minute, state in enumerate(states, start=1):
        if spans and spans[-1].state == state:
            spans[-1] = Span(spans[-1].first, minute, state)
        else:
            spans.append(Span(minute, minute, state))
    return spans
