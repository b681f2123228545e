"""The verdict: when it is inconclusive and why, what it explains, and that it never changes but for its feedback.

Most tests judge with a version whose tree is built here, so that the deciding leaf's
counts are known exactly: `one_leaf` (every observation lands in one leaf of the given
counts) or `split_version` (a known two-level split).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from sklearn.tree import DecisionTreeClassifier

from metrics.exceptions import FeedbackAlreadyGiven
from metrics.formatting import rule_text, threshold
from metrics.models import Decision, Indicator, Metric, Reason, TrainedModel, Verdict, VerdictState
from metrics.models.trained_model import chart_sample
from metrics.models.verdict import reason_text
from predictor.columns import ROLLBACK, ROLLOUT
from predictor.explain import written_split
from predictor.training import as_features, wilson_lower_bound
from tests.data import database_state, rows_of, rule_data
from tests.factories import IndicatorFactory, TrainedModelFactory
from tests.pages import messages_of, table_rows
from tests.refusals import changes_nothing

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

Row = tuple[float, float, int]

# Rollback only above 449.6 with at most 9.5 minutes: value is split first (it separates
# 8 pure rollouts), then time. The split points are the midpoints 449.6 and 9.5.
SPLIT_ROWS: list[Row] = (
    [(399.2, 5.0, ROLLOUT)] * 4
    + [(399.2, 14.0, ROLLOUT)] * 4
    + [(500.0, 5.0, ROLLBACK)] * 3
    + [(500.0, 14.0, ROLLOUT)] * 3
)


# --- Helpers shared with the other verdict test modules ----------------------------------


def fitted(rows: Sequence[Row]) -> DecisionTreeClassifier:
    values, times, decisions = zip(*rows, strict=True)
    return DecisionTreeClassifier(random_state=0).fit(as_features(values, times), list(decisions))


def version_with_tree(metric: Metric, tree: DecisionTreeClassifier, **fields: Any) -> TrainedModel:
    """A stored, signed, active version of `metric` that answers with `tree`."""
    defaults: dict[str, Any] = {
        "value_min": 0.0,
        "value_max": 1000.0,
        "minutes_min": 0.0,
        "minutes_max": 60.0,
        "accuracy": 0.9,
        "baseline_accuracy": 0.6,
        # Measured on as many held-out predictions as it takes to be better than the baseline
        # beyond chance: these figures stand for a model that earned its verdicts.
        "n_indicators": 200,
        "n_trained_on": 200,
    }
    return TrainedModelFactory.create(metric=metric, tree=tree, **{**defaults, **fields})


def one_leaf(metric: Metric, rollbacks: int, rollouts: int, **fields: Any) -> TrainedModel:
    """A version whose tree is a single leaf of these counts: every observation lands in it."""
    rows = [(500.0, 30.0, ROLLBACK)] * rollbacks + [(500.0, 30.0, ROLLOUT)] * rollouts
    return version_with_tree(metric, fitted(rows), **fields)


def split_version(metric: Metric, **fields: Any) -> TrainedModel:
    return version_with_tree(metric, fitted(SPLIT_ROWS), **fields)


def configure(metric: Metric, **settings: Any) -> None:
    Metric.objects.filter(pk=metric.pk).update(**settings)


def ask(metric: Metric, value: float = 500.0, minutes: float = 30.0, user: User | None = None) -> Verdict:
    # As the views do: the metric as stored now, with its settings and data version.
    return Metric.objects.get(pk=metric.pk).predict(value, minutes, user)


class _TextById(HTMLParser):
    """The text of the element carrying data-testid=`testid`."""

    def __init__(self, testid: str) -> None:
        super().__init__()
        self.testid = testid
        self.parts: list[str] = []
        self.found = False
        self._tag: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._tag is None and ("data-testid", self.testid) in attrs:
            self._tag, self._depth, self.found = tag, 1, True
        elif tag == self._tag:
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == self._tag:
            self._depth -= 1
            if self._depth == 0:
                self._tag = None

    def handle_data(self, data: str) -> None:
        if self._tag is not None:
            self.parts.append(data)


def text_of(response: Response, testid: str) -> str | None:
    """What a person reads in the element marked `testid`, spaces collapsed; None if absent."""
    reader = _TextById(testid)
    reader.feed(response.content.decode())
    return " ".join(" ".join(reader.parts).split()) if reader.found else None


# --- Conclusive, and each reason on its own ----------------------------------------------


def test_enough_cases_with_a_clear_majority_give_a_conclusive_verdict_with_what_it_rests_on(
    metric: Metric, stranger: User
) -> None:
    model = one_leaf(metric, rollbacks=5, rollouts=0, accuracy=0.93)

    verdict = ask(metric, 500, 30, stranger)

    assert verdict.pk is not None
    assert verdict.state == VerdictState.ROLLBACK
    assert verdict.reasons == []
    assert verdict.reason_texts() == []
    assert (verdict.leaf_rollbacks, verdict.leaf_rollouts) == (5, 0)
    assert (verdict.model_id, verdict.model_version, verdict.model_accuracy) == (model.pk, model.version, 0.93)
    assert (verdict.asked_by, verdict.source, verdict.is_stale) == (stranger, "web", False)
    assert timezone.now() - verdict.asked_at < timedelta(minutes=1)
    assert verdict.thresholds == {
        "rollback_threshold": 0.6,
        "rollout_threshold": 0.8,
        "min_leaf_cases": 5,
        "range_margin": 0.1,
        "refuse_stale": False,
        "bad_direction": "either",
    }


def test_a_value_beyond_the_range_seen_alone_makes_the_verdict_inconclusive(metric: Metric) -> None:
    one_leaf(metric, rollbacks=5, rollouts=0, value_min=0.0, value_max=1000.0)

    verdict = ask(metric, value=1100.5)

    assert verdict.state == VerdictState.INCONCLUSIVE
    assert verdict.leaning == VerdictState.ROLLBACK
    assert verdict.reasons == [{"code": Reason.VALUE_OUT_OF_RANGE, "observed": 1100.5, "low": 0.0, "high": 1000.0}]
    assert verdict.reason_texts() == ["The value 1100.5 lies outside what the model has seen (0 to 1000)."]


def test_a_time_beyond_the_range_seen_alone_makes_the_verdict_inconclusive(metric: Metric) -> None:
    one_leaf(metric, rollbacks=5, rollouts=0, minutes_min=0.0, minutes_max=60.0)

    verdict = ask(metric, minutes=66.5)

    assert verdict.state == VerdictState.INCONCLUSIVE
    assert verdict.reasons == [{"code": Reason.MINUTES_OUT_OF_RANGE, "observed": 66.5, "low": 0.0, "high": 60.0}]
    assert verdict.reason_texts() == ["The time, 66.5 minutes, lies outside what the model has seen (0 to 60 minutes)."]


def test_too_few_similar_cases_alone_make_the_verdict_inconclusive(metric: Metric) -> None:
    one_leaf(metric, rollbacks=4, rollouts=0)

    verdict = ask(metric)

    assert verdict.state == VerdictState.INCONCLUSIVE
    assert verdict.reasons == [{"code": Reason.FEW_CASES, "cases": 4, "minimum": 5}]
    assert verdict.reason_texts() == ["Only 4 similar past cases decide it; at least 5 are needed."]


@pytest.mark.parametrize(
    ("rollbacks", "rollouts", "leaning", "share", "needed", "decision", "text"),
    [
        (
            59,
            41,
            VerdictState.ROLLBACK,
            0.59,
            0.6,
            ROLLBACK,
            "Only 59.0% of similar past cases were rolled back; a rollback needs 60.0%.",
        ),
        # 79% would be plenty for a rollback (60%), not for a rollout (80%).
        (
            21,
            79,
            VerdictState.ROLLOUT,
            0.79,
            0.8,
            ROLLOUT,
            "Only 79.0% of similar past cases were rolled out; a rollout needs 80.0%.",
        ),
    ],
    ids=["rollback", "rollout-held-to-its-own-threshold"],
)
def test_a_weak_majority_alone_makes_the_verdict_inconclusive(
    metric: Metric,
    rollbacks: int,
    rollouts: int,
    leaning: VerdictState,
    share: float,
    needed: float,
    decision: int,
    text: str,
) -> None:
    one_leaf(metric, rollbacks=rollbacks, rollouts=rollouts)

    verdict = ask(metric)

    assert verdict.state == VerdictState.INCONCLUSIVE
    assert verdict.leaning == leaning
    assert verdict.reasons == [
        {"code": Reason.WEAK_MAJORITY, "share": share, "threshold": needed, "decision": decision}
    ]
    assert verdict.reason_texts() == [text]


def test_a_model_no_better_than_its_baseline_alone_makes_the_verdict_inconclusive(metric: Metric) -> None:
    one_leaf(metric, rollbacks=5, rollouts=0, accuracy=0.6, baseline_accuracy=0.6)

    verdict = ask(metric)

    assert verdict.state == VerdictState.INCONCLUSIVE
    assert verdict.reasons == [{"code": Reason.NOT_BETTER_THAN_BASELINE, "accuracy": 0.6, "baseline": 0.6}]
    assert verdict.reason_texts() == [
        "The model is no better on data it did not see (60.0%) than always answering the most common decision (60.0%)."
    ]


def test_a_model_better_than_its_baseline_only_by_chance_makes_the_verdict_inconclusive(
    client: Client, metric: Metric, owner: User
) -> None:
    # 14 random rows: 66.7% held out against 50% is what chance gives often enough.
    one_leaf(metric, rollbacks=5, rollouts=0, accuracy=2 / 3, baseline_accuracy=0.5, n_indicators=14, n_trained_on=14)

    verdict = ask(metric, user=owner)

    assert verdict.state == VerdictState.INCONCLUSIVE
    assert verdict.leaning == VerdictState.ROLLBACK
    assert verdict.reasons == [
        {
            "code": Reason.COULD_BE_CHANCE,
            "accuracy": 2 / 3,
            "cases": 14,
            "lower_bound": pytest.approx(0.4091, abs=1e-4),
            "baseline": 0.5,
        }
    ]
    assert verdict.reason_texts() == [
        "The model's accuracy, 66.7% on 14 cases, could be chance: at 95% confidence it is only above 40.9%, "
        "and always answering the most common decision scores 50.0%."
    ]
    with translation.override("pt-br"):
        assert verdict.reason_texts() == [
            "A acurácia do modelo, 66,7% em 14 casos, pode ser acaso: com 95% de confiança, só se sabe que passa "
            "de 40,9%, e responder sempre a decisão mais comum acerta 50,0%."
        ]
    client.force_login(owner)
    page = client.get(verdict.get_absolute_url())
    assert text_of(page, "verdict") == "Inconclusive"
    assert text_of(page, "reasons") == verdict.reason_texts()[0]


@pytest.mark.parametrize(("above", "state"), [(0.001, VerdictState.ROLLBACK), (0.0, VerdictState.INCONCLUSIVE)])
def test_a_model_is_trusted_once_its_accuracys_lower_bound_is_above_the_baseline(
    metric: Metric, above: float, state: VerdictState
) -> None:
    bound = wilson_lower_bound(0.9, 200)  # about 85.1%
    one_leaf(metric, rollbacks=5, rollouts=0, accuracy=0.9, baseline_accuracy=bound - above)

    assert ask(metric).state == state


def test_the_same_accuracy_on_more_cases_is_trusted(metric: Metric) -> None:
    one_leaf(metric, rollbacks=5, rollouts=0, accuracy=0.7, baseline_accuracy=0.6, n_trained_on=40)
    on_few_cases = ask(metric)
    one_leaf(metric, rollbacks=5, rollouts=0, accuracy=0.7, baseline_accuracy=0.6, n_trained_on=400)

    assert (on_few_cases.state, ask(metric).state) == (VerdictState.INCONCLUSIVE, VerdictState.ROLLBACK)


def test_every_applicable_reason_is_listed_together(metric: Metric, owner: User) -> None:
    one_leaf(metric, rollbacks=2, rollouts=2, accuracy=0.5, baseline_accuracy=0.6)
    configure(metric, refuse_stale=True)
    metric.add_indicator(value=500, decision=Decision.ROLLOUT, time=30, user=owner)  # the model is now stale

    verdict = ask(metric, value=2000, minutes=100)

    assert verdict.state == VerdictState.INCONCLUSIVE
    assert verdict.leaning == VerdictState.ROLLOUT  # a tie goes to rollout, as in scikit-learn
    assert [reason["code"] for reason in verdict.reasons] == [
        Reason.VALUE_OUT_OF_RANGE,
        Reason.MINUTES_OUT_OF_RANGE,
        Reason.FEW_CASES,
        Reason.WEAK_MAJORITY,
        Reason.NOT_BETTER_THAN_BASELINE,
        Reason.STALE,
    ]
    assert verdict.reason_texts() == [
        "The value 2000 lies outside what the model has seen (0 to 1000).",
        "The time, 100 minutes, lies outside what the model has seen (0 to 60 minutes).",
        "Only 4 similar past cases decide it; at least 5 are needed.",
        "Only 50.0% of similar past cases were rolled out; a rollout needs 80.0%.",
        "The model is no better on data it did not see (50.0%) than always answering the most common decision (60.0%).",
        "The data changed since this model was trained, and this metric refuses stale models.",
    ]


# --- The edges of each threshold -------------------------------------------------------


@pytest.mark.parametrize(
    ("rollbacks", "rollouts", "state"),
    [
        pytest.param(3, 2, VerdictState.ROLLBACK, id="rollback share exactly 60%"),
        pytest.param(59, 41, VerdictState.INCONCLUSIVE, id="rollback share 59%"),
        pytest.param(1, 4, VerdictState.ROLLOUT, id="rollout share exactly 80%"),
        pytest.param(21, 79, VerdictState.INCONCLUSIVE, id="rollout share 79%"),
    ],
)
def test_a_share_equal_to_its_threshold_is_enough_and_just_below_is_not(
    metric: Metric, rollbacks: int, rollouts: int, state: VerdictState
) -> None:
    one_leaf(metric, rollbacks=rollbacks, rollouts=rollouts)

    assert ask(metric).state == state


def test_the_thresholds_are_the_metrics_own(metric: Metric) -> None:
    # 3 of 5 rolled back passes the default 60%, not this metric's 61%.
    one_leaf(metric, rollbacks=3, rollouts=2)
    configure(metric, rollback_threshold=0.61)

    verdict = ask(metric)

    assert verdict.state == VerdictState.INCONCLUSIVE
    assert verdict.reasons == [{"code": Reason.WEAK_MAJORITY, "share": 0.6, "threshold": 0.61, "decision": ROLLBACK}]
    assert verdict.thresholds["rollback_threshold"] == 0.61


@pytest.mark.parametrize(
    ("cases", "state"),
    [
        pytest.param(7, VerdictState.ROLLBACK, id="exactly the minimum"),
        pytest.param(6, VerdictState.INCONCLUSIVE, id="one fewer"),
    ],
)
def test_exactly_the_minimum_of_cases_is_enough_and_one_fewer_is_not(
    metric: Metric, cases: int, state: VerdictState
) -> None:
    one_leaf(metric, rollbacks=cases, rollouts=0)
    configure(metric, min_leaf_cases=7)

    verdict = ask(metric)

    assert verdict.state == state
    assert [reason["code"] for reason in verdict.reasons] == ([] if state == VerdictState.ROLLBACK else ["few_cases"])


# Range seen: values 200 to 600, times 10 to 50 minutes; a margin of 25% of each range
# (100 and 10) accepts values 100 to 700 and times 0 to 60.
@pytest.mark.parametrize(
    ("value", "minutes", "reasons"),
    [
        pytest.param(700.0, 30.0, [], id="value at the upper edge"),
        pytest.param(100.0, 30.0, [], id="value at the lower edge"),
        pytest.param(400.0, 60.0, [], id="time at the upper edge"),
        pytest.param(400.0, 0.0, [], id="time at the lower edge"),
        pytest.param(700.5, 30.0, [Reason.VALUE_OUT_OF_RANGE], id="value just above"),
        pytest.param(99.5, 30.0, [Reason.VALUE_OUT_OF_RANGE], id="value just below"),
        pytest.param(400.0, 60.5, [Reason.MINUTES_OUT_OF_RANGE], id="time just above"),
    ],
)
def test_an_observation_at_the_margin_edge_is_judged_and_just_beyond_it_is_not(
    metric: Metric, value: float, minutes: float, reasons: list[str]
) -> None:
    one_leaf(metric, rollbacks=5, rollouts=0, value_min=200.0, value_max=600.0, minutes_min=10.0, minutes_max=50.0)
    configure(metric, range_margin=0.25)

    verdict = ask(metric, value, minutes)

    assert [reason["code"] for reason in verdict.reasons] == reasons
    assert verdict.state == (VerdictState.INCONCLUSIVE if reasons else VerdictState.ROLLBACK)


# --- Stale: a warning, or a refusal ----------------------------------------------------


def test_a_stale_model_still_judges_with_a_warning_by_default(client: Client, metric: Metric, owner: User) -> None:
    one_leaf(metric, rollbacks=5, rollouts=0)
    metric.add_indicator(value=500, decision=Decision.ROLLBACK, time=30, user=owner)

    verdict = ask(metric, user=owner)

    assert (verdict.state, verdict.reasons, verdict.is_stale) == (VerdictState.ROLLBACK, [], True)
    client.force_login(owner)
    response = client.get(verdict.get_absolute_url())
    assert text_of(response, "stale-warning") == (
        "Warning: the data changed since this model was trained. Train it again for a verdict on all of it."
    )
    assert text_of(response, "verdict") == "Rollback recommended"


def test_a_metric_that_refuses_stale_models_gets_an_inconclusive_verdict(
    client: Client, metric: Metric, owner: User
) -> None:
    one_leaf(metric, rollbacks=5, rollouts=0)
    configure(metric, refuse_stale=True)
    metric.add_indicator(value=500, decision=Decision.ROLLBACK, time=30, user=owner)

    verdict = ask(metric, user=owner)

    assert (verdict.state, verdict.reasons, verdict.is_stale) == (VerdictState.INCONCLUSIVE, [{"code": "stale"}], True)
    client.force_login(owner)
    response = client.get(verdict.get_absolute_url())
    assert text_of(response, "verdict") == "Inconclusive"
    assert text_of(response, "reasons") == (
        "The data changed since this model was trained, and this metric refuses stale models."
    )
    assert text_of(response, "stale-warning") is None


def test_a_current_model_is_not_stale_even_for_a_metric_that_refuses_stale_models(metric: Metric) -> None:
    one_leaf(metric, rollbacks=5, rollouts=0)
    configure(metric, refuse_stale=True)

    verdict = ask(metric)

    assert (verdict.state, verdict.is_stale) == (VerdictState.ROLLBACK, False)


# --- The rule: which past cases count as similar ------------------------------------


@pytest.mark.parametrize(
    ("value", "minutes", "rule", "leaf"),
    [
        pytest.param(480, 7, "value above 449.6 and time at most 9.5 minutes", (3, 0), id="rollback leaf"),
        pytest.param(480, 12, "value above 449.6 and time above 9.5 minutes", (0, 3), id="rollout leaf, right"),
        pytest.param(300, 12, "value at most 449.6", (0, 8), id="rollout leaf, left"),
    ],
)
def test_the_rule_names_the_path_of_a_known_split_in_english(
    client: Client, metric: Metric, owner: User, value: float, minutes: float, rule: str, leaf: tuple[int, int]
) -> None:
    split_version(metric)

    verdict = ask(metric, value, minutes, owner)

    assert rule_text(verdict.path) == rule
    assert (verdict.leaf_rollbacks, verdict.leaf_rollouts) == leaf
    client.force_login(owner)
    assert text_of(client.get(verdict.get_absolute_url()), "rule") == f"Similar means: {rule}."


@pytest.mark.parametrize(
    ("share", "decision", "text"),
    [
        (0.7999, 0, "Only 79.9% of similar past cases were rolled out; a rollout needs 80.0%."),
        (5999 / 10000, 1, "Only 59.9% of similar past cases were rolled back; a rollback needs 60.0%."),
        (0.57, 1, "Only 57.0% of similar past cases were rolled back; a rollback needs 60.0%."),
    ],
)
def test_a_weak_majority_never_reads_as_reaching_its_threshold(share: float, decision: int, text: str) -> None:
    threshold = 0.8 if decision == 0 else 0.6
    reason = {"code": "weak_majority", "decision": decision, "share": share, "threshold": threshold}

    assert reason_text(reason) == text


@pytest.mark.parametrize(
    ("split", "shown"),
    [
        (12345.5, "12345.5"),  # between 12345 and 12346: "12346" would hold 12346 on the wrong side
        (99999.5, "99999.5"),  # "1e+05" or "100000" would say 100000 is at most it
        (1000.1000061035156, "1000.1"),  # 1000.1 as a 32-bit float is at or below it: "at most 1000.1" holds
        (449.6000061035156, "449.6"),
        (0.25, "0.25"),
    ],
)
def test_a_split_is_shown_with_the_digits_that_keep_numbers_on_the_trees_side(split: float, shown: str) -> None:
    assert threshold(written_split(split)) == shown


@pytest.mark.parametrize(
    ("times", "rule", "portuguese"),
    [
        # Kept as 48.19999885559082: 48.2 itself goes right, so the left side is "below 48.2".
        ((48.1, 48.3), "time below 48.2 minutes", "o tempo fica abaixo de 48,2 minutos"),
        ((44.9, 45.1), "time at most 45 minutes", "o tempo é no máximo 45 minutos"),
    ],
)
def test_a_split_between_two_times_reads_as_people_write_it_on_the_trees_side(
    metric: Metric, times: tuple[float, float], rule: str, portuguese: str
) -> None:
    low, high = times
    version_with_tree(metric, fitted([(500.0, low, ROLLBACK)] * 5 + [(500.0, high, ROLLOUT)] * 5))

    verdict = ask(metric, 500, low)

    assert rule_text(verdict.path) == rule
    with translation.override("pt-br"):
        assert rule_text(verdict.path) == portuguese
    assert rule_text(verdict.path) == rule  # each reader's language, whoever asked before
    # What the rule says of the number it writes is what the tree does with it.
    written = float(rule.split()[-2])
    expected = VerdictState.ROLLBACK if "at most" in rule else VerdictState.ROLLOUT
    assert ask(metric, 500, written).leaning == expected


@pytest.mark.parametrize(
    ("value", "minutes", "rule"),
    [
        pytest.param(480, 7, "o valor passa de 449,6 e o tempo é no máximo 9,5 minutos", id="rollback leaf"),
        pytest.param(480, 12, "o valor passa de 449,6 e o tempo passa de 9,5 minutos", id="rollout leaf, right"),
        pytest.param(300, 12, "o valor é no máximo 449,6", id="rollout leaf, left"),
    ],
)
def test_the_rule_is_worded_in_portuguese_for_a_portuguese_reader(
    metric: Metric, value: float, minutes: float, rule: str
) -> None:
    split_version(metric)
    verdict = ask(metric, value, minutes)  # asked in English: the words are not stored

    with translation.override("pt-br"):
        assert rule_text(verdict.path) == rule


def test_a_portuguese_reader_sees_the_stored_reasons_in_portuguese(client: Client, metric: Metric, owner: User) -> None:
    one_leaf(metric, rollbacks=2, rollouts=2)
    verdict = ask(metric, value=1100.5, user=owner)

    with translation.override("pt-br"):
        texts = verdict.reason_texts()

    assert texts == [
        "O valor 1100,5 está fora do que o modelo já viu (0 a 1000).",
        "Só 4 casos passados semelhantes o decidem; são necessários pelo menos 5.",
        "Só 50,0% dos casos passados semelhantes tiveram rollout; um rollout exige 80,0%.",
    ]
    assert verdict.reason_texts()[0] == "The value 1100.5 lies outside what the model has seen (0 to 1000)."
    client.force_login(owner)
    client.post(reverse("set_language"), {"language": "pt-br", "next": "/"})
    response = client.get(verdict.get_absolute_url())
    assert text_of(response, "reasons") == " ".join(texts)


def test_the_path_is_stored_as_ranges_of_each_feature(metric: Metric) -> None:
    split_version(metric)

    verdict = ask(metric, 480, 7)

    # 449.6 as a 32-bit float, as scikit-learn compares.
    assert verdict.conditions == [["value", pytest.approx(449.6), None], ["minutes", None, 9.5]]


# --- The nearest past cases --------------------------------------------------------------


def test_nearest_cases_are_the_five_closest_in_the_training_ranges_with_who_and_when(
    metric: Metric, owner: User, contributor: User, stranger: User
) -> None:
    def registered(value: float, minutes: float, decision: int, by: User, day: int) -> None:
        when = datetime(2024, 3, day, 12, 0, tzinfo=UTC)
        IndicatorFactory.create(
            metric=metric, value=value, time=minutes, decision=decision, created_by=by, created_at=when
        )

    # The range seen is 0 to 1000 and 0 to 100 minutes: 30 in value is as near as 3 minutes.
    registered(0, 0, ROLLOUT, owner, 1)
    registered(1000, 100, ROLLBACK, owner, 2)
    registered(530, 10, ROLLBACK, contributor, 3)  # 0.030 away
    registered(500, 15, ROLLOUT, owner, 4)  # 0.050
    registered(480, 12, ROLLBACK, contributor, 5)  # 0.028
    registered(560, 10, ROLLOUT, stranger, 6)  # 0.060
    registered(500, 17, ROLLBACK, stranger, 7)  # 0.070
    registered(500, 18, ROLLOUT, owner, 8)  # 0.080: sixth, left out (though 8 from the value unscaled)
    TrainedModelFactory.create(metric=metric)

    verdict = ask(metric, 500, 10)

    assert verdict.nearest == [
        {
            "value": 480,
            "minutes": 12,
            "decision": ROLLBACK,
            "registered_by": "contributor",
            "registered_at": "2024-03-05T12:00:00+00:00",
        },
        {
            "value": 530,
            "minutes": 10,
            "decision": ROLLBACK,
            "registered_by": "contributor",
            "registered_at": "2024-03-03T12:00:00+00:00",
        },
        {
            "value": 500,
            "minutes": 15,
            "decision": ROLLOUT,
            "registered_by": "owner",
            "registered_at": "2024-03-04T12:00:00+00:00",
        },
        {
            "value": 560,
            "minutes": 10,
            "decision": ROLLOUT,
            "registered_by": "stranger",
            "registered_at": "2024-03-06T12:00:00+00:00",
        },
        {
            "value": 500,
            "minutes": 17,
            "decision": ROLLBACK,
            "registered_by": "stranger",
            "registered_at": "2024-03-07T12:00:00+00:00",
        },
    ]


def test_a_nearest_case_deleted_since_training_keeps_the_author_it_had_when_trained(
    metric: Metric, owner: User
) -> None:
    """The version learnt from it, and its sample keeps its value: its author stays too."""
    IndicatorFactory.create(metric=metric, value=0, time=0, created_by=owner)
    IndicatorFactory.create(metric=metric, value=1000, time=100, created_by=owner)
    deleted = IndicatorFactory.create(
        metric=metric, value=500, time=10, created_by=owner, created_at=datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    )
    TrainedModelFactory.create(metric=metric)
    deleted.delete()

    verdict = ask(metric, 500, 10)

    assert verdict.nearest[0] == {
        "value": 500,
        "minutes": 10,
        "decision": ROLLOUT,
        "registered_by": "owner",
        "registered_at": "2024-03-01T09:30:00+00:00",
    }


def test_a_version_trained_before_its_sample_kept_authors_reads_them_at_each_verdict(
    metric: Metric, owner: User, contributor: User
) -> None:
    IndicatorFactory.create(metric=metric, value=0, time=0, created_by=owner)
    IndicatorFactory.create(metric=metric, value=1000, time=100, created_by=owner)
    IndicatorFactory.create(
        metric=metric, value=500, time=10, created_by=contributor, created_at=datetime(2024, 3, 2, 8, 0, tzinfo=UTC)
    )
    deleted = IndicatorFactory.create(metric=metric, value=510, time=10, created_by=owner)
    data, ids = metric.indicators.columns_and_ids()
    TrainedModelFactory.create(metric=metric, chart_sample=chart_sample(data, ids, 3000))
    deleted.delete()

    verdict = ask(metric, 500, 10)

    assert [(case["value"], case["registered_by"], case["registered_at"]) for case in verdict.nearest[:2]] == [
        (500, "contributor", "2024-03-02T08:00:00+00:00"),
        (510, "", None),  # deleted since: no one to name
    ]


# --- Kept as it was given ------------------------------------------------------------


def verdict_page_as_read(client: Client, verdict: Verdict) -> dict[str, object]:
    response = client.get(verdict.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    return {
        "verdict": text_of(response, "verdict"),
        "reasons": text_of(response, "reasons"),
        "similar cases": text_of(response, "similar-cases"),
        "rule": text_of(response, "rule"),
        "version": html.count(f"Model version {verdict.model_version},"),
        "nearest": table_rows(response),
    }


def test_a_verdict_page_reads_the_same_after_retraining_and_new_settings(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    configure(trained_metric, min_leaf_cases=1000)
    inconclusive = ask(trained_metric, 200, 30, owner)
    configure(trained_metric, min_leaf_cases=5)
    conclusive = ask(trained_metric, 200, 30, owner)
    client.force_login(owner)
    before = {verdict.pk: verdict_page_as_read(client, verdict) for verdict in (inconclusive, conclusive)}
    rows_before = rows_of(Verdict)
    assert before[inconclusive.pk]["verdict"] == "Inconclusive"
    assert before[conclusive.pk]["verdict"] == "Rollback recommended"
    assert before[conclusive.pk]["version"] == 1
    assert len(before[conclusive.pk]["nearest"]) == 5  # type: ignore[arg-type]

    # New data, a new version trained on it, and stricter settings for the conclusive verdict
    # and laxer ones for the inconclusive: had verdicts been judged again, both would change.
    trained_metric.import_indicators(rule_data(60, seed=1), owner)
    new = TrainedModel.objects.train(trained_metric, owner)
    configure(trained_metric, min_leaf_cases=1, rollback_threshold=1.0, range_margin=0.0, refuse_stale=True)

    assert new.version == 2
    assert Metric.objects.get(pk=trained_metric.pk).active_model_id == new.pk
    after = {verdict.pk: verdict_page_as_read(client, verdict) for verdict in (inconclusive, conclusive)}
    assert after == before
    assert rows_of(Verdict) == rows_before


def test_a_verdict_page_still_reads_the_same_once_its_version_is_deleted(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    verdict = ask(trained_metric, 200, 30, owner)
    client.force_login(owner)
    before = verdict_page_as_read(client, verdict)

    assert verdict.model is not None
    verdict.model.delete()  # by staff, in the admin

    assert verdict_page_as_read(client, verdict) == before
    assert Verdict.objects.get(pk=verdict.pk).model_id is None


def test_a_given_verdict_cannot_be_saved_again(metric: Metric) -> None:
    one_leaf(metric, rollbacks=5, rollouts=0)
    verdict = ask(metric)
    before = rows_of(Verdict)

    verdict.state = VerdictState.ROLLOUT
    with pytest.raises(ValueError, match="kept as it was given"):
        verdict.save()

    assert rows_of(Verdict) == before


# --- Feedback ------------------------------------------------------------------------


def feedback_url(verdict: Verdict) -> str:
    return reverse("metrics:feedback", args=[verdict.pk])


@pytest.fixture
def asked(metric: Metric, contributor: User) -> Verdict:
    """A rollback verdict on 500 over 30 minutes, asked by `contributor`."""
    one_leaf(metric, rollbacks=5, rollouts=0)
    return ask(metric, 500, 30, contributor)


def test_feedback_from_who_asked_becomes_one_labelled_indicator_by_them(
    client: Client, asked: Verdict, contributor: User
) -> None:
    indicators_before = set(Indicator.objects.values_list("pk", flat=True))
    data_version = Metric.objects.get(pk=asked.metric_id).data_version
    client.force_login(contributor)

    response = client.post(feedback_url(asked), {"decided": Decision.ROLLOUT, "note": "The spike was a test."})

    assert response.status_code == 302
    assert response["Location"] == asked.get_absolute_url()
    new = Indicator.objects.exclude(pk__in=indicators_before)
    assert list(new.values_list("metric_id", "value", "time", "decision", "created_by_id")) == [
        (asked.metric_id, 500.0, 30.0, Decision.ROLLOUT, contributor.pk)
    ]
    verdict = Verdict.objects.get(pk=asked.pk)
    assert verdict.feedback_indicator_id == new.get().pk
    assert (verdict.decided, verdict.feedback_note, verdict.feedback_by) == (
        Decision.ROLLOUT,
        "The spike was a test.",
        contributor,
    )
    assert verdict.feedback_at is not None
    assert verdict.state == VerdictState.ROLLBACK  # what was said stays what was said
    assert Metric.objects.get(pk=asked.metric_id).data_version == data_version + 1
    assert messages_of(response) == [
        "Thank you: “Rollout” is now an indicator of “Requests per minute”, for the next training to learn from."
    ]
    page = client.get(asked.get_absolute_url())
    assert text_of(page, "agreement") == (
        "Overridden The team decided: Rollout (recorded by contributor). The spike was a test."
    )


def test_the_metric_owner_may_record_what_was_decided_on_anothers_verdict(
    client: Client, asked: Verdict, owner: User
) -> None:
    client.force_login(owner)

    response = client.post(feedback_url(asked), {"decided": Decision.ROLLBACK, "note": ""})

    assert response.status_code == 302
    verdict = Verdict.objects.get(pk=asked.pk)
    assert verdict.feedback_indicator is not None
    assert verdict.feedback_indicator.created_by == owner
    assert verdict.agreement == "confirmed"


@pytest.mark.parametrize(
    "form",
    [
        pytest.param({"decided": "", "note": "hm"}, id="nothing chosen"),
        pytest.param({"decided": "2", "note": "hm"}, id="not a decision"),
        pytest.param({"decided": "rollback", "note": "hm"}, id="a word"),
        pytest.param({"decided": "1", "note": "x" * 2001}, id="note too long"),
    ],
)
def test_an_invalid_feedback_form_is_refused_and_nothing_changes(
    client: Client, asked: Verdict, contributor: User, form: dict[str, str]
) -> None:
    client.force_login(contributor)
    with changes_nothing():
        response = client.post(feedback_url(asked), form)

    assert response.status_code == 400
    assert 'class="invalid-feedback d-block"' in response.content.decode()


@pytest.mark.parametrize("role", ["stranger", "contributor"])
def test_only_who_asked_or_the_owner_may_record_feedback_and_nothing_changes(
    client: Client, contributed_metric: Metric, owner: User, role: str, request: pytest.FixtureRequest
) -> None:
    one_leaf(contributed_metric, rollbacks=5, rollouts=0)
    verdict = ask(contributed_metric, 500, 30, owner)
    intruder: User = request.getfixturevalue(role)
    before = database_state()
    client.force_login(intruder)

    response = client.post(feedback_url(verdict), {"decided": Decision.ROLLBACK, "note": ""})

    assert response.status_code == 403
    assert database_state() == before
    with pytest.raises(PermissionDenied):
        verdict.add_feedback(Decision.ROLLBACK, "", intruder)
    assert database_state() == before


def test_a_second_feedback_records_nothing_more(client: Client, asked: Verdict, contributor: User, owner: User) -> None:
    client.force_login(contributor)
    client.post(feedback_url(asked), {"decided": Decision.ROLLBACK, "note": "first"}, follow=True)
    before = database_state()
    client.force_login(owner)

    response = client.post(feedback_url(asked), {"decided": Decision.ROLLOUT, "note": "second"}, follow=True)

    assert response.status_code == 200
    assert messages_of(response) == ["What was decided for this verdict has already been recorded."]
    assert database_state() == before
    with pytest.raises(FeedbackAlreadyGiven):
        Verdict.objects.get(pk=asked.pk).add_feedback(Decision.ROLLOUT, "again", owner)
    # Even from a copy read before the first feedback.
    with pytest.raises(FeedbackAlreadyGiven):
        asked.add_feedback(Decision.ROLLOUT, "stale copy", contributor)
    assert database_state() == before


def test_who_registered_a_large_sample_is_read_in_parts_the_database_takes(
    metric: Metric, owner: User, contributor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite bounds a query's parameters (999 for Django): a training's sample of 3,000 ids
    is looked up in parts. Here a bound of 20 leaves parts of 4 ids."""
    authors = [owner, contributor] * 5
    ids = [IndicatorFactory.create(metric=metric, created_by=author).pk for author in authors]
    monkeypatch.setattr(connection.features, "max_query_params", 20)

    with CaptureQueriesContext(connection) as captured:
        registered = metric.indicators.registrations([*ids, 0])

    assert len(captured) == 3  # 11 ids in parts of 4
    assert [person for person, _when in registered] == [author.username for author in authors] + [""]
    assert registered[-1] == ("", None)
