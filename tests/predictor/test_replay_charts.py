"""A replayed release's timeline and the catch minutes' bars: pure, lists in, JSON out."""

from __future__ import annotations

import json

from predictor.charts import (
    INCONCLUSIVE_COLOUR,
    ROLLBACK_COLOUR,
    ROLLOUT_COLOUR,
    Bar,
    Span,
    TimelineLabels,
    minute_histogram,
    replay_timeline_figure,
    state_spans,
)

STATES = ["inconclusive", "inconclusive", "rollout", "rollback", "rollback"]
SCORES = ["—", "—", "85", "12.5", "0"]


def test_each_minute_is_a_dot_in_its_states_colour_at_its_level_with_its_score_on_hover() -> None:
    figure = replay_timeline_figure(STATES, SCORES, None, TimelineLabels())

    line, *dots = figure["data"]
    assert line["x"] == [1, 2, 3, 4, 5]
    assert line["y"] == [1, 1, 0, 2, 2]  # rollout at the bottom, rollback on top
    assert line["line"]["shape"] == "hv"
    assert [(dot["name"], dot["x"], dot["marker"]["color"], dot["customdata"]) for dot in dots] == [
        ("Rollout", [3], ROLLOUT_COLOUR, ["85"]),
        ("Inconclusive", [1, 2], INCONCLUSIVE_COLOUR, ["—", "—"]),
        ("Rollback", [4, 5], ROLLBACK_COLOUR, ["12.5", "0"]),
    ]
    assert figure["layout"]["yaxis"]["ticktext"] == ["Rollout", "Inconclusive", "Rollback"]
    assert figure["layout"]["shapes"] == []
    json.dumps(figure)  # plain JSON, for the page


def test_the_teams_decision_is_a_dashed_line_and_the_minutes_reach_it() -> None:
    labels = TimelineLabels(minute="Minuto", rollback="Reverter", decided="A equipe decidiu")

    figure = replay_timeline_figure(STATES, SCORES, 30.0, labels)

    [line] = figure["layout"]["shapes"]
    assert (line["x0"], line["x1"], line["line"]["dash"]) == (30.0, 30.0, "dash")
    assert figure["layout"]["annotations"][0]["text"] == "A equipe decidiu"
    assert figure["layout"]["xaxis"]["range"] == [0.5, 30.5]
    assert figure["layout"]["xaxis"]["title"]["text"] == "Minuto"
    assert "Reverter" in figure["data"][-1]["hovertemplate"]


def test_words_given_for_the_hover_cannot_read_as_plotly_placeholders() -> None:
    figure = replay_timeline_figure(["rollback"], ["1"], None, TimelineLabels(score="%{x} <b>"))

    assert "%{x} <b>" not in figure["data"][-1]["hovertemplate"]


def test_minutes_are_counted_one_bar_a_minute_or_in_wider_bars_when_there_are_many() -> None:
    assert minute_histogram([]) == []
    assert minute_histogram([5, 5, 7]) == [Bar(5, 5, 2), Bar(6, 6, 0), Bar(7, 7, 1)]
    bars = minute_histogram([1, 2, 30, 60], most_bars=6)
    assert bars == [Bar(1, 10, 2), Bar(11, 20, 0), Bar(21, 30, 1), Bar(31, 40, 0), Bar(41, 50, 0), Bar(51, 60, 1)]


def test_the_timeline_in_words_is_its_runs_of_the_same_state() -> None:
    assert state_spans(STATES) == [Span(1, 2, "inconclusive"), Span(3, 3, "rollout"), Span(4, 5, "rollback")]
    assert state_spans([]) == []
