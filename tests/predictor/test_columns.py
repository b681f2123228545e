"""`IndicatorColumns`: rows kept as three typed columns."""

from __future__ import annotations

import pytest

from predictor.columns import IndicatorColumns


def test_a_release_s_minutes_are_added_at_once_with_its_one_decision_after_the_rows_before() -> None:
    data = IndicatorColumns()
    data.append(value=9.0, time=1.0, decision=0)

    data.extend(values=[0.5, 0.25], times=[1.0, 2.0], decision=1)

    assert list(data.rows()) == [(9.0, 1.0, 0), (0.5, 1.0, 1), (0.25, 2.0, 1)]


def test_values_and_times_of_different_lengths_are_refused_and_add_nothing() -> None:
    data = IndicatorColumns()

    with pytest.raises(ValueError, match="2 values but 1 times"):
        data.extend(values=[0.5, 0.25], times=[1.0], decision=1)

    assert len(data) == 0
