"""A metric's bad direction: beyond anything its model has seen, on the side its owner says is
bad, a value is a rollback; on the other side, or for a metric bad either way, inconclusive."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, TokenScope
from metrics.models import Metric, Reason, VerdictState
from tests.metrics.test_verdicts import ask, configure, one_leaf, text_of
from tests.refusals import changes_nothing

# one_leaf's versions have seen values from 0 to 1000; the margin is 10% of that range.
ABOVE, BELOW = 1100.5, -100.5


@pytest.mark.parametrize(
    ("direction", "value", "state", "code"),
    [
        ("higher", ABOVE, VerdictState.ROLLBACK, Reason.BEYOND_BAD_SIDE),
        ("higher", BELOW, VerdictState.INCONCLUSIVE, Reason.VALUE_OUT_OF_RANGE),
        ("lower", BELOW, VerdictState.ROLLBACK, Reason.BEYOND_BAD_SIDE),
        ("lower", ABOVE, VerdictState.INCONCLUSIVE, Reason.VALUE_OUT_OF_RANGE),
        ("either", ABOVE, VerdictState.INCONCLUSIVE, Reason.VALUE_OUT_OF_RANGE),
        ("either", BELOW, VerdictState.INCONCLUSIVE, Reason.VALUE_OUT_OF_RANGE),
    ],
)
def test_beyond_the_data_a_value_is_a_rollback_on_the_bad_side_only(
    metric: Metric, direction: str, value: float, state: str, code: str
) -> None:
    one_leaf(metric, rollbacks=0, rollouts=5)  # the tree says rollout wherever the value lands
    configure(metric, bad_direction=direction)

    verdict = ask(metric, value=value)

    assert (verdict.state, [reason["code"] for reason in verdict.reasons]) == (state, [code])
    assert verdict.thresholds["bad_direction"] == direction


def test_the_bad_side_wins_over_every_other_reason_and_the_leaf(metric: Metric) -> None:
    one_leaf(metric, rollbacks=0, rollouts=3, accuracy=0.5, baseline_accuracy=0.6)  # few cases, no better
    configure(metric, bad_direction="higher")

    verdict = ask(metric, value=ABOVE, minutes=600)  # the time too is beyond anything seen

    assert (verdict.state, verdict.leaning) == (VerdictState.ROLLBACK, VerdictState.ROLLOUT)
    assert verdict.reasons == [
        {"code": Reason.BEYOND_BAD_SIDE, "observed": ABOVE, "low": 0.0, "high": 1000.0, "direction": "higher"}
    ]
    assert verdict.reason_texts() == [
        "The value 1100.5 is beyond anything seen, on the bad side: higher is worse, and the model has seen 0 to 1000."
    ]


def test_within_the_margin_on_the_bad_side_the_tree_decides(metric: Metric) -> None:
    one_leaf(metric, rollbacks=0, rollouts=5)
    configure(metric, bad_direction="higher")

    verdict = ask(metric, value=1099.5)  # within 10% of the range above it

    assert (verdict.state, verdict.reasons) == (VerdictState.ROLLOUT, [])


def test_the_verdict_page_says_why_and_the_metrics_direction_in_both_languages(
    client: Client, metric: Metric, owner: User
) -> None:
    one_leaf(metric, rollbacks=0, rollouts=5)
    configure(metric, bad_direction="lower")
    verdict = ask(metric, value=BELOW, user=owner)
    client.force_login(owner)

    english = client.get(verdict.get_absolute_url())
    portuguese = client.get(verdict.get_absolute_url(), headers={"Accept-Language": "pt-br"})

    assert text_of(english, "verdict") == "Rollback recommended"
    assert text_of(english, "reasons") == (
        "The value -100.5 is beyond anything seen, on the bad side: lower is worse, and the model has seen 0 to 1000."
    )
    assert "Beyond anything seen, on the bad side:" in english.content.decode()
    assert text_of(english, "bad-direction") == "Bad direction: lower is worse."
    assert text_of(portuguese, "bad-direction") == "Direção ruim: menor é pior."
    assert text_of(portuguese, "reasons") == (
        "O valor -100,5 está além de tudo o que já foi visto, do lado ruim: menor é pior, e o modelo viu de 0 a 1000."
    )


def test_the_api_gives_the_reason_and_the_owner_sets_the_direction(metric: Metric, owner: User, client: Client) -> None:
    one_leaf(metric, rollbacks=0, rollouts=5)
    _token, secret = ApiToken.objects.issue(owner, "pipeline", TokenScope.WRITE)
    headers = {"Authorization": f"Bearer {secret}"}
    url = reverse("api:metric", args=[metric.pk])

    changed = client.patch(url, {"bad_direction": "higher"}, content_type="application/json", headers=headers)
    asked = client.post(
        reverse("api:metric_verdicts", args=[metric.pk]),
        {"value": ABOVE, "minutes": 30},
        content_type="application/json",
        headers=headers,
    )

    assert changed.status_code == 200
    assert client.get(url, headers=headers).json()["verdict_settings"]["bad_direction"] == "higher"
    assert asked.json()["verdict"] == "rollback"
    assert [reason["code"] for reason in asked.json()["reasons"]] == ["beyond_bad_side"]


def test_an_unknown_direction_is_refused_and_nothing_changes(metric: Metric, owner: User, client: Client) -> None:
    _token, secret = ApiToken.objects.issue(owner, "pipeline", TokenScope.WRITE)

    with changes_nothing(lambda: list(Metric.objects.values_list("bad_direction", flat=True))):
        response = client.patch(
            reverse("api:metric", args=[metric.pk]),
            {"bad_direction": "sideways"},
            content_type="application/json",
            headers={"Authorization": f"Bearer {secret}"},
        )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "bad_direction"


def test_the_settings_page_sets_the_direction(client: Client, metric: Metric, owner: User) -> None:
    client.force_login(owner)
    form = {
        "rollback_threshold": "60",
        "rollout_threshold": "80",
        "min_leaf_cases": "5",
        "range_margin": "10",
        "bad_direction": "higher",
    }

    response = client.post(reverse("metrics:settings", args=[metric.pk]), form)

    assert response.status_code == 302
    assert Metric.objects.get(pk=metric.pk).bad_direction == "higher"
