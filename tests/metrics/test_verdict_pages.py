"""The pages around verdicts: a metric's verdict log, the model card, the verdict settings, and who sees them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone

from metrics.forms import MetricSettingsForm
from metrics.models import Decision, Metric, TrainedModel, Verdict, VerdictState
from predictor.columns import ROLLBACK, ROLLOUT
from tests.data import database_state
from tests.factories import TrainedModelFactory
from tests.metrics.test_verdicts import (
    ask,
    configure,
    fitted,
    one_leaf,
    split_version,
    text_of,
    version_with_tree,
)
from tests.pages import messages_of, table_rows
from tests.refusals import changes_nothing

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response


def log_url(metric: Metric) -> str:
    return reverse("metrics:verdicts", args=[metric.pk])


def settings_url(metric: Metric) -> str:
    return reverse("metrics:settings", args=[metric.pk])


def card_url(model: TrainedModel) -> str:
    return reverse("metrics:model_card", args=[model.pk])


def card_seen_by(client: Client, user: User, model: TrainedModel) -> Response:
    """The model card of `model`, as `user` opens it."""
    client.force_login(user)
    return client.get(card_url(model))


def logged_values(client: Client, url: str, **params: Any) -> list[str]:
    """The value column of the log's rows, top to bottom."""
    return [row[2] for row in table_rows(client.get(url, params))]


# --- The verdict log ---------------------------------------------------------------


def test_the_log_lists_verdicts_newest_first_with_a_link_to_each(
    client: Client, trained_metric: Metric, owner: User, contributor: User, stranger: User
) -> None:
    first = ask(trained_metric, 200, 30, owner)
    second = ask(trained_metric, 900, 30, contributor)
    third = ask(trained_metric, 5000, 30, stranger)
    # The time asked decides the order, not the id.
    Verdict.objects.filter(pk=first.pk).update(asked_at=timezone.now() + timedelta(hours=1))
    client.force_login(stranger)

    response = client.get(log_url(trained_metric))

    assert response.status_code == 200
    assert [row[1:] for row in table_rows(response)] == [
        ["Rollback", "200", "30", "1", "owner", "—"],
        ["Inconclusive", "5000", "30", "1", "stranger", "—"],
        ["Rollout", "900", "30", "1", "contributor", "—"],
    ]
    html = response.content.decode()
    for verdict in (first, second, third):
        assert f'<a href="{verdict.get_absolute_url()}">' in html


def test_the_log_shows_25_verdicts_a_page(client: Client, trained_metric: Metric, owner: User) -> None:
    for value in range(200, 227):
        ask(trained_metric, value, 30, owner)
    client.force_login(owner)

    first_page = logged_values(client, log_url(trained_metric))
    second_page = logged_values(client, log_url(trained_metric), page=2)

    assert first_page == [str(value) for value in range(226, 201, -1)]
    assert second_page == ["201", "200"]
    assert "Page 1 of 2" in client.get(log_url(trained_metric)).content.decode()


@pytest.mark.parametrize(
    ("state", "values"),
    [
        pytest.param("rollback", ["210", "200"], id="rollback"),
        pytest.param("rollout", ["900"], id="rollout"),
        pytest.param("inconclusive", ["5000"], id="inconclusive"),
        pytest.param("", ["5000", "900", "210", "200"], id="all"),
    ],
)
def test_the_log_filters_by_state(
    client: Client, trained_metric: Metric, owner: User, state: str, values: list[str]
) -> None:
    for value in (200, 210, 900, 5000):
        ask(trained_metric, value, 30, owner)
    client.force_login(owner)

    assert logged_values(client, log_url(trained_metric), state=state) == values


def test_the_pages_of_a_filtered_log_keep_the_filter(client: Client, trained_metric: Metric, owner: User) -> None:
    for value in range(200, 226):
        ask(trained_metric, value, 30, owner)
    ask(trained_metric, 900, 30, owner)
    client.force_login(owner)

    html = client.get(log_url(trained_metric), {"state": "rollback"}).content.decode()

    assert 'href="?state=rollback&amp;page=2"' in html
    assert logged_values(client, log_url(trained_metric), state="rollback", page=2) == ["200"]


def test_the_log_reads_as_many_queries_for_20_verdicts_as_for_3(
    client: Client, trained_metric: Metric, owner: User, contributor: User
) -> None:
    def queries_for_log() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(log_url(trained_metric)).status_code == 200
        return len(context.captured_queries)

    def verdicts(count: int) -> None:
        for index in range(count):
            verdict = ask(trained_metric, 200 + index, 30, contributor if index % 2 else owner)
            if index % 3 == 0:
                verdict.add_feedback(Decision.ROLLOUT, "", owner)

    client.force_login(owner)
    verdicts(3)
    few = queries_for_log()
    verdicts(17)

    assert queries_for_log() == few


# --- How verdicts were borne out -------------------------------------------------------


def test_the_feedback_summary_counts_confirmed_overridden_and_inconclusive(
    client: Client, trained_metric: Metric, owner: User, stranger: User
) -> None:
    ask(trained_metric, 200, 30, owner).add_feedback(Decision.ROLLBACK, "", owner)  # confirmed
    ask(trained_metric, 900, 30, owner).add_feedback(Decision.ROLLOUT, "", owner)  # confirmed
    ask(trained_metric, 210, 30, owner).add_feedback(Decision.ROLLOUT, "", owner)  # overridden
    ask(trained_metric, 5000, 30, owner).add_feedback(Decision.ROLLBACK, "", owner)  # after inconclusive
    ask(trained_metric, 220, 30, owner)  # no feedback: not counted
    client.force_login(stranger)

    log = client.get(log_url(trained_metric))
    detail = client.get(trained_metric.get_absolute_url())

    summary = "Of 4 verdicts with feedback: 2 confirmed, 1 overridden, 1 inconclusive."
    assert text_of(log, "feedback-summary") == summary
    assert text_of(detail, "feedback-summary") == summary
    assert [row[-1] for row in table_rows(log)] == ["—", "Rollback", "Rollout ✗", "Rollout ✓", "Rollback ✓"]


def test_one_verdict_with_feedback_is_counted_in_the_singular(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    ask(trained_metric, 200, 30, owner).add_feedback(Decision.ROLLOUT, "", owner)
    client.force_login(owner)

    response = client.get(log_url(trained_metric))

    assert text_of(response, "feedback-summary") == (
        "Of 1 verdict with feedback: 0 confirmed, 1 overridden, 0 inconclusive."
    )


def test_no_summary_without_feedback(client: Client, trained_metric: Metric, owner: User) -> None:
    ask(trained_metric, 200, 30, owner)
    client.force_login(owner)

    assert text_of(client.get(log_url(trained_metric)), "feedback-summary") is None
    assert "No feedback on its verdicts yet." in client.get(trained_metric.get_absolute_url()).content.decode()


# --- The model card ------------------------------------------------------------------


@pytest.fixture
def carded(metric: Metric, owner: User) -> TrainedModel:
    """A version of the known split (see `SPLIT_ROWS`) with figures each told apart."""
    return split_version(
        metric,
        accuracy=0.915,
        baseline_accuracy=0.625,
        balanced_accuracy=0.875,
        rollback_precision=0.8125,
        rollback_recall=0.75,
        confusion_rollout_as_rollout=41,
        confusion_rollout_as_rollback=3,
        confusion_rollback_as_rollout=5,
        confusion_rollback_as_rollback=27,
        data_sha256="ab" * 32,
        training_seconds=1.234,
        trained_by=owner,
        trained_at=datetime(2024, 5, 6, 7, 8, tzinfo=UTC),
    )


def test_the_model_card_shows_the_figures_matrix_rules_and_provenance(
    client: Client, carded: TrainedModel, metric: Metric, stranger: User
) -> None:
    configure(metric, min_leaf_cases=3)  # each leaf decides
    response = card_seen_by(client, stranger, carded)

    assert response.status_code == 200
    assert text_of(response, "card-figures") == (
        "Accuracy The share of held-out cases it decided as people did. 91.5% "
        "Majority baseline (always the most common decision) 62.5% "
        "Balanced accuracy The mean of its accuracy on rollbacks and on rollouts: "
        "always giving the common answer scores 50%. 87.5% "
        "Rollback precision (rollbacks it called that were rollbacks) 81.3% "
        "Rollback recall (rollbacks it caught) 75.0%"
    )
    assert text_of(response, "confusion") == ("Said rollout Said rollback Was rolled out 41 3 Was rolled back 5 27")
    assert text_of(response, "version-inconclusive") is None
    assert text_of(response, "rules") == (
        "When value at most 449.6: Rollout (0 rolled back, 8 rolled out) "
        "When value above 449.6 and time at most 9.5 minutes: Rollback (3 rolled back, 0 rolled out) "
        "When value above 449.6 and time above 9.5 minutes: Rollout (0 rolled back, 3 rolled out)"
    )
    html = response.content.decode()
    assert f"<code>{'ab' * 32}</code>" in html
    assert "1.23 s" in html
    trained_at = formats.date_format(timezone.localtime(carded.trained_at), "SHORT_DATETIME_FORMAT")
    assert f"owner, {trained_at}" in html
    assert "Make active and pin" not in html  # the owner's to choose


def test_the_owner_may_make_an_inactive_version_active_from_its_card(
    client: Client, carded: TrainedModel, metric: Metric, owner: User
) -> None:
    one_leaf(metric, rollbacks=5, rollouts=0)  # version 2, now active
    html = card_seen_by(client, owner, carded).content.decode()

    assert f'action="{reverse("metrics:activate", args=[carded.pk])}"' in html
    assert "Make active and pin" in html


def test_the_card_of_an_unusable_version_says_why_and_shows_no_rules(
    client: Client, carded: TrainedModel, owner: User
) -> None:
    TrainedModel.objects.filter(pk=carded.pk).update(sklearn_version="0.24.0")
    response = card_seen_by(client, owner, carded)

    assert response.status_code == 200
    assert "another version of scikit-learn than this server runs" in response.content.decode()
    assert text_of(response, "rules") is None
    assert text_of(response, "confusion") == "Said rollout Said rollback Was rolled out 41 3 Was rolled back 5 27"


def test_each_leaf_on_the_card_reads_as_the_verdict_an_observation_in_it_gets(
    client: Client, carded: TrainedModel, metric: Metric, stranger: User
) -> None:
    # The metric's settings as they come: a leaf needs 5 cases.
    response = card_seen_by(client, stranger, carded)

    assert text_of(response, "rules") == (
        "When value at most 449.6: Rollout (0 rolled back, 8 rolled out) "
        "When value above 449.6 and time at most 9.5 minutes: Inconclusive (3 rolled back, 0 rolled out) "
        "Left to itself, the tree would have said Rollback. "
        "Only 3 similar past cases decide it; at least 5 are needed. "
        "When value above 449.6 and time above 9.5 minutes: Inconclusive (0 rolled back, 3 rolled out) "
        "Left to itself, the tree would have said Rollout. "
        "Only 3 similar past cases decide it; at least 5 are needed."
    )
    # One observation in each leaf, left to right.
    assert [ask(metric, value, minutes).state for value, minutes in ((300, 12), (480, 7), (480, 12))] == [
        VerdictState.ROLLOUT,
        VerdictState.INCONCLUSIVE,
        VerdictState.INCONCLUSIVE,
    ]


def test_a_leaf_split_evenly_reads_inconclusive_on_the_card_not_rollout(
    client: Client, metric: Metric, stranger: User
) -> None:
    model = one_leaf(metric, rollbacks=8, rollouts=8)
    response = card_seen_by(client, stranger, model)

    assert text_of(response, "rules") == (
        "When any value at any time: Inconclusive (8 rolled back, 8 rolled out) "
        "Left to itself, the tree would have said Rollout. "
        "Only 50.0% of similar past cases were rolled out; a rollout needs 80.0%."
    )
    assert ask(metric).state == VerdictState.INCONCLUSIVE


def test_the_card_of_a_version_that_could_be_chance_says_it_rests_on_too_little_data(
    client: Client, metric: Metric, stranger: User
) -> None:
    model = one_leaf(
        metric, rollbacks=5, rollouts=0, accuracy=2 / 3, baseline_accuracy=0.5, n_indicators=14, n_trained_on=14
    )
    response = card_seen_by(client, stranger, model)

    assert text_of(response, "version-inconclusive") == (
        "This version rests on too little data to trust: every verdict it gives is inconclusive. "
        "The model's accuracy, 66.7% on 14 cases, could be chance: at 95% confidence it is only above 40.9%, "
        "and always answering the most common decision scores 50.0%."
    )
    assert text_of(response, "rules") == (
        "When any value at any time: Inconclusive (5 rolled back, 0 rolled out) "
        "Left to itself, the tree would have said Rollback."
    )
    client.post(reverse("set_language"), {"language": "pt-br", "next": "/"})
    assert text_of(client.get(card_url(model)), "version-inconclusive") == (
        "Esta versão se baseia em poucos dados para merecer confiança: todo veredicto que ela dá é inconclusivo. "
        "A acurácia do modelo, 66,7% em 14 casos, pode ser acaso: com 95% de confiança, só se sabe que passa de "
        "40,9%, e responder sempre a decisão mais comum acerta 50,0%."
    )


def test_the_card_writes_each_split_as_people_write_it_in_the_readers_language(
    client: Client, metric: Metric, stranger: User
) -> None:
    # Split between 48.1 and 48.3 minutes: kept by the tree as 48.19999885559082, and 48.2 itself goes right.
    model = version_with_tree(metric, fitted([(500.0, 48.1, ROLLBACK)] * 5 + [(500.0, 48.3, ROLLOUT)] * 5))
    client.force_login(stranger)

    english = text_of(client.get(card_url(model)), "rules")
    client.post(reverse("set_language"), {"language": "pt-br", "next": "/"})
    portuguese = text_of(client.get(card_url(model)), "rules")

    assert english == (
        "When time below 48.2 minutes: Rollback (5 rolled back, 0 rolled out) "
        "When time at least 48.2 minutes: Rollout (0 rolled back, 5 rolled out)"
    )
    assert portuguese is not None
    assert portuguese.startswith("Quando o tempo fica abaixo de 48,2 minutos:")
    assert "o tempo é pelo menos 48,2 minutos" in portuguese


# --- The verdict settings ------------------------------------------------------------

# As the page takes them: percentages (stored as 0.7, 0.9, 0.25).
VALID_SETTINGS = {
    "rollback_threshold": "70",
    "rollout_threshold": "90",
    "min_leaf_cases": "10",
    "range_margin": "25",
    "refuse_stale": "on",
    "bad_direction": "higher",
}


def verdict_settings(metric: Metric) -> tuple[Any, ...]:
    return tuple(
        Metric.objects.filter(pk=metric.pk).values_list(
            "rollback_threshold", "rollout_threshold", "min_leaf_cases", "range_margin", "refuse_stale"
        )[0]
    )


def test_the_owner_sees_the_current_settings(client: Client, metric: Metric, owner: User) -> None:
    client.force_login(owner)

    response = client.get(settings_url(metric))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="rollback_threshold" value="60"' in html
    assert 'name="min_leaf_cases" value="5"' in html


def test_the_owner_saves_valid_settings(client: Client, metric: Metric, owner: User) -> None:
    client.force_login(owner)

    response = client.post(settings_url(metric), VALID_SETTINGS, follow=True)

    assert response.redirect_chain == [(metric.get_absolute_url(), 302)]
    assert messages_of(response) == ["Verdict settings of “Requests per minute” saved."]
    assert verdict_settings(metric) == (0.7, 0.9, 10, 0.25, True)
    assert Metric.objects.get(pk=metric.pk).bad_direction == "higher"


def test_an_unticked_box_stops_refusing_stale_models(client: Client, metric: Metric, owner: User) -> None:
    Metric.objects.filter(pk=metric.pk).update(refuse_stale=True)
    client.force_login(owner)

    client.post(settings_url(metric), {key: value for key, value in VALID_SETTINGS.items() if key != "refuse_stale"})

    assert verdict_settings(metric)[-1] is False


def post_settings_while(client: Client, metric: Metric, meanwhile: Callable[[], object]) -> None:
    """Post valid settings as the owner, with `meanwhile` committed (by other requests) between the
    read of the metric and the save."""
    clean = MetricSettingsForm.clean

    def others_act_meanwhile(form: MetricSettingsForm) -> dict[str, Any] | None:
        meanwhile()
        return clean(form)

    with mock.patch.object(MetricSettingsForm, "clean", others_act_meanwhile):
        assert client.post(settings_url(metric), VALID_SETTINGS).status_code == 302
    assert verdict_settings(metric) == (0.7, 0.9, 10, 0.25, True)


def test_saving_settings_keeps_an_indicator_added_meanwhile_counted_as_new_data(
    client: Client, trained_metric: Metric, owner: User, contributor: User
) -> None:
    def contributor_adds_a_row() -> None:
        Metric.objects.get(pk=trained_metric.pk).add_indicator(value=200, decision=1, time=30, user=contributor)

    data_version = Metric.objects.get(pk=trained_metric.pk).data_version
    client.force_login(owner)

    post_settings_while(client, trained_metric, contributor_adds_a_row)

    # Else the model, trained before that row, counts as current and "train stale" skips it.
    assert Metric.objects.get(pk=trained_metric.pk).data_version == data_version + 1


def test_saving_settings_keeps_a_version_promoted_meanwhile_active(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    def a_training_finishes() -> None:
        TrainedModelFactory.create(metric=Metric.objects.get(pk=trained_metric.pk))

    client.force_login(owner)

    post_settings_while(client, trained_metric, a_training_finishes)

    newest = trained_metric.trained_models.get(version=2)
    assert Metric.objects.get(pk=trained_metric.pk).active_model_id == newest.pk


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rollback_threshold", "40", "Ensure this value is greater than or equal to 50%."),
        ("rollback_threshold", "120", "Ensure this value is less than or equal to 100%."),
        ("rollout_threshold", "40", "Ensure this value is greater than or equal to 50%."),
        ("rollout_threshold", "120", "Ensure this value is less than or equal to 100%."),
        ("rollout_threshold", "0.8", "Ensure this value is greater than or equal to 50%."),
        ("range_margin", "-10", "Ensure this value is greater than or equal to 0%."),
        ("min_leaf_cases", "0", "Ensure this value is greater than or equal to 1."),
        ("min_leaf_cases", "1,000", "Type a whole number, without separators: 1000."),
        ("min_leaf_cases", "1.000", "Type a whole number, without separators: 1000."),
        ("min_leaf_cases", "", "This field is required."),
        ("rollback_threshold", "sixty", "Enter a number."),
        ("range_margin", "nan", "Enter a number."),
        ("range_margin", "1050", "Ensure this value is less than or equal to 1000%."),
        (
            "range_margin",
            "1,234.5",
            "Type the number with one decimal separator and no thousands separator, e.g. 1234.5.",
        ),
    ],
)
def test_invalid_settings_are_refused_with_a_message_and_nothing_changes(
    client: Client, trained_metric: Metric, owner: User, field: str, value: str, message: str
) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = client.post(settings_url(trained_metric), {**VALID_SETTINGS, field: value})

    assert response.status_code == 400
    assert f'<div class="invalid-feedback d-block">{message}</div>' in response.content.decode()


@pytest.mark.parametrize("role", ["stranger", "contributor"])
def test_only_the_owner_may_see_or_change_the_settings_and_nothing_changes(
    client: Client, contributed_metric: Metric, role: str, request: pytest.FixtureRequest
) -> None:
    before = database_state()
    client.force_login(request.getfixturevalue(role))

    assert client.get(settings_url(contributed_metric)).status_code == 403
    assert client.post(settings_url(contributed_metric), VALID_SETTINGS).status_code == 403
    assert database_state() == before
    assert "Verdict settings" not in client.get(contributed_metric.get_absolute_url()).content.decode()


# --- Who sees the verdict pages ------------------------------------------------------


@pytest.fixture
def given(trained_metric: Metric, owner: User) -> Verdict:
    return ask(trained_metric, 200, 30, owner)


def verdict_page_urls(verdict: Verdict) -> list[str]:
    return [
        verdict.get_absolute_url(),
        log_url(verdict.metric),
        card_url(verdict.model) if verdict.model else "",
    ]


@pytest.mark.parametrize("role", ["stranger", "contributor", "owner"])
def test_verdict_pages_are_open_to_every_account(
    client: Client, given: Verdict, role: str, request: pytest.FixtureRequest
) -> None:
    client.force_login(request.getfixturevalue(role))

    for url in verdict_page_urls(given):
        assert client.get(url).status_code == 200, url


def test_a_stranger_reads_a_verdict_without_the_feedback_form(client: Client, given: Verdict, stranger: User) -> None:
    client.force_login(stranger)

    response = client.get(given.get_absolute_url())

    assert text_of(response, "verdict") == "Rollback recommended"
    assert reverse("metrics:feedback", args=[given.pk]) not in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in_and_nothing_changes(client: Client, given: Verdict) -> None:
    before = database_state()
    login = reverse("accounts:login")

    for url in [*verdict_page_urls(given), settings_url(given.metric)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{login}?next="), url
    for url in (reverse("metrics:feedback", args=[given.pk]), settings_url(given.metric)):
        response = client.post(url, {"decided": Decision.ROLLBACK, **VALID_SETTINGS})
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{login}?next="), url
    assert database_state() == before


def test_a_missing_verdict_is_404(client: Client, given: Verdict, owner: User) -> None:
    client.force_login(owner)

    assert client.get(reverse("metrics:verdict", args=[given.pk + 1000])).status_code == 404
    assert given.state == VerdictState.ROLLBACK


def test_a_portuguese_owner_reads_and_types_the_settings_with_a_decimal_comma(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    client.force_login(owner)
    client.cookies["django_language"] = "pt-br"

    page = client.get(settings_url(trained_metric)).content.decode()
    assert 'name="rollback_threshold" value="60"' in page
    assert "maior ou igual a 0.0" not in page

    refused = client.post(settings_url(trained_metric), {**VALID_SETTINGS, "range_margin": "-0,5"}).content.decode()
    assert "Certifique-se que este valor seja maior ou igual a 0%." in refused
    client.post(settings_url(trained_metric), {**VALID_SETTINGS, "rollback_threshold": "65,5", "range_margin": "2,5"})
    trained_metric.refresh_from_db()
    assert (trained_metric.rollback_threshold, trained_metric.range_margin) == (0.655, 0.025)
    assert 'name="range_margin" value="2,5"' in client.get(settings_url(trained_metric)).content.decode()
