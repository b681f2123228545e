"""Which version answers: champion and challenger, pinning, and who may choose.

Tests about promotion train for real (it is their subject): the same data gives the same
accuracy, so a test sets the active version's accuracy around the next training's.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import PROMOTION_TOLERANCE, CandidateReason, Metric, TrainedModel
from tests.data import database_state, rule_data
from tests.factories import TrainedModelFactory
from tests.pages import messages_of
from tests.refusals import changes_nothing

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response


class _RowReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[str] = []
        self._in_row = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append("")
            self._in_row = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self.rows[-1] = " ".join(self.rows[-1].split())
            self._in_row = False

    def handle_data(self, data: str) -> None:
        if self._in_row:
            self.rows[-1] += f" {data}"


def version_rows(response: Response) -> list[str]:
    """The text of each row of the metric page's table of versions, newest first."""
    match = re.search(r'data-testid="versions">.*?<tbody>(.*?)</tbody>', response.content.decode(), re.S)
    assert match is not None, "no table of versions"
    reader = _RowReader()
    reader.feed(match.group(1))
    return reader.rows


def stored(metric: Metric) -> Metric:
    return Metric.objects.get(pk=metric.pk)


def train(metric: Metric, user: User) -> TrainedModel:
    return TrainedModel.objects.train(stored(metric), user)


def set_accuracy(model: TrainedModel, accuracy: float) -> None:
    TrainedModel.objects.filter(pk=model.pk).update(accuracy=accuracy)


@pytest.fixture
def data_metric(metric: Metric, owner: User) -> Metric:
    """`metric` with 100 indicators of `rule_data`'s rule: enough to train, quickly."""
    metric.import_indicators(rule_data(100), owner)
    return metric


# --- Champion and challenger ---------------------------------------------------------


def test_the_first_training_becomes_the_active_version(data_metric: Metric, owner: User) -> None:
    first = train(data_metric, owner)

    assert stored(data_metric).active_model_id == first.pk
    assert first.candidate_reason == ""


@pytest.mark.parametrize(
    "active_minus_new",
    [
        pytest.param(-0.1, id="new is better"),
        pytest.param(0.0, id="new is as good"),
        pytest.param(0.015, id="new is 1.5 points worse"),
        pytest.param(PROMOTION_TOLERANCE, id="new is exactly 2 points worse"),
    ],
)
def test_a_new_version_not_worse_by_more_than_the_tolerance_replaces_the_active_one(
    data_metric: Metric, owner: User, active_minus_new: float
) -> None:
    first = train(data_metric, owner)
    set_accuracy(first, first.accuracy + active_minus_new)

    second = train(data_metric, owner)

    assert second.accuracy == first.accuracy  # same data, same model
    assert stored(data_metric).active_model_id == second.pk
    assert (second.candidate_reason, second.compared_version, second.compared_accuracy) == ("", None, None)


def test_a_new_version_worse_by_more_than_the_tolerance_is_kept_as_a_candidate_and_says_why(
    client: Client, data_metric: Metric, owner: User, stranger: User
) -> None:
    first = train(data_metric, owner)
    assert first.accuracy == pytest.approx(0.97)
    set_accuracy(first, 1.0)  # the new one, trained on the same data, is 3 points worse

    second = train(data_metric, owner)

    assert stored(data_metric).active_model_id == first.pk
    second.refresh_from_db()
    assert (second.candidate_reason, second.compared_version, second.compared_accuracy) == (
        CandidateReason.WORSE,
        1,
        1.0,
    )
    assert stored(data_metric).predict(500, 30, owner).model_version == 1
    client.force_login(stranger)  # the reason is for everyone to read
    rows = version_rows(client.get(data_metric.get_absolute_url()))
    assert rows[0].startswith("Version 2 97.0%")
    assert rows[0].endswith("candidate: its held-out accuracy is worse than the active version's (version 1, 100.0%)")
    assert rows[1].startswith("Version 1 100.0%")
    assert rows[1].endswith("active")
    card = client.get(reverse("metrics:model_card", args=[second.pk])).content.decode()
    assert (
        "Kept as a candidate: its held-out accuracy is worse than the active version&#x27;s (version 1, 100.0%)."
        in card
    )


# --- Pinning -------------------------------------------------------------------------


def test_a_pinned_version_stays_active_through_later_trainings_until_unpinned(
    client: Client, data_metric: Metric, owner: User
) -> None:
    first = train(data_metric, owner)
    set_accuracy(first, 0.5)  # every later training is far better, and still does not replace it
    client.force_login(owner)
    assert client.post(reverse("metrics:activate", args=[first.pk])).status_code == 302

    second = train(data_metric, owner)
    third = train(data_metric, owner)

    assert (stored(data_metric).active_model_id, stored(data_metric).is_active_model_pinned) == (first.pk, True)
    for candidate in (second, third):
        candidate.refresh_from_db()
        assert (candidate.candidate_reason, candidate.compared_version) == (CandidateReason.PINNED, 1)
    rows = version_rows(client.get(data_metric.get_absolute_url()))
    assert rows[0].endswith("candidate: the active version is pinned (version 1, 50.0%) Make active and pin")
    assert rows[2].endswith("active, pinned Unpin")

    response = client.post(reverse("metrics:unpin", args=[data_metric.pk]), follow=True)

    assert messages_of(response) == [
        "“Requests per minute” is unpinned: the next training that is not worse will answer."
    ]
    assert (stored(data_metric).active_model_id, stored(data_metric).is_active_model_pinned) == (first.pk, False)
    fourth = train(data_metric, owner)
    assert stored(data_metric).active_model_id == fourth.pk
    assert fourth.candidate_reason == ""


def test_make_active_and_pin_puts_an_older_version_back_to_answer(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    first = TrainedModel.objects.get(metric=trained_metric)
    second = TrainedModelFactory.create(metric=trained_metric)
    assert stored(trained_metric).active_model_id == second.pk
    client.force_login(owner)

    response = client.post(reverse("metrics:activate", args=[first.pk]), follow=True)

    assert response.redirect_chain == [(trained_metric.get_absolute_url(), 302)]
    assert messages_of(response) == [
        "Version 1 now answers for “Requests per minute”, pinned: later trainings will not replace it."
    ]
    assert (stored(trained_metric).active_model_id, stored(trained_metric).is_active_model_pinned) == (first.pk, True)
    rows = version_rows(response)
    assert rows[0].startswith("Version 2")
    assert rows[0].endswith("Make active and pin")
    assert rows[1].startswith("Version 1")
    assert rows[1].endswith("active, pinned Unpin")
    assert stored(trained_metric).predict(200, 30, owner).model_version == 1


def test_a_verdict_after_make_active_answers_from_the_version_made_active(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    """This process read version 2 to answer; making version 1 active is seen at once."""
    first = TrainedModel.objects.get(metric=trained_metric)
    TrainedModelFactory.create(metric=trained_metric)
    assert stored(trained_metric).predict(200, 30, owner).model_version == 2
    client.force_login(owner)

    client.post(reverse("metrics:activate", args=[first.pk]))

    assert stored(trained_metric).predict(200, 30, owner).model_version == 1


@pytest.mark.parametrize(
    "unusable",
    [
        pytest.param({"refused_because": "hash"}, id="altered bytes"),
        pytest.param({"sklearn_version": "0.24.0"}, id="another scikit-learn"),
        pytest.param({"signing_key_id": "0123456789abcdef"}, id="unknown key"),
    ],
)
def test_an_unusable_active_version_is_replaced_even_pinned_and_more_accurate(
    data_metric: Metric, owner: User, unusable: dict[str, str]
) -> None:
    broken = TrainedModelFactory.create(metric=data_metric, accuracy=1.0)
    TrainedModel.objects.filter(pk=broken.pk).update(**unusable)
    Metric.objects.filter(pk=data_metric.pk).update(is_active_model_pinned=True)
    assert not TrainedModel.objects.get(pk=broken.pk).is_usable

    new = train(data_metric, owner)

    assert (stored(data_metric).active_model_id, stored(data_metric).is_active_model_pinned) == (new.pk, False)
    assert new.candidate_reason == ""


def test_an_unusable_version_cannot_be_made_active_and_nothing_changes(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    broken = TrainedModelFactory.create(metric=trained_metric, active=False, refused_because="signature")
    client.force_login(owner)
    with changes_nothing():
        response = client.post(reverse("metrics:activate", args=[broken.pk]), follow=True)

    assert messages_of(response) == [
        "Version 2 of the model of “Requests per minute” cannot be used: its signature does not match: it was "
        "altered in the database. Train it again."
    ]


# --- Only the owner chooses ------------------------------------------------------------


@pytest.fixture
def pinned_metric(contributed_metric: Metric) -> Metric:
    """`contributed_metric` with two versions, the newer active and pinned."""
    TrainedModelFactory.create(metric=contributed_metric)
    newer = TrainedModelFactory.create(metric=contributed_metric)
    contributed_metric.activate(newer, pin=True)
    return contributed_metric


def version_change_url(metric: Metric, action: str) -> str:
    if action == "activate":
        return reverse("metrics:activate", args=[metric.trained_models.get(version=1).pk])
    return reverse("metrics:unpin", args=[metric.pk])


@pytest.mark.parametrize("action", ["activate", "unpin"])
@pytest.mark.parametrize("role", ["stranger", "contributor"])
def test_only_the_owner_may_choose_the_active_version_and_nothing_changes(
    client: Client, pinned_metric: Metric, role: str, action: str, request: pytest.FixtureRequest
) -> None:
    client.force_login(request.getfixturevalue(role))
    with changes_nothing():
        response = client.post(version_change_url(pinned_metric, action))

    assert response.status_code == 403


@pytest.mark.parametrize("action", ["activate", "unpin"])
def test_anonymous_version_changes_go_to_login_and_nothing_changes(
    client: Client, pinned_metric: Metric, action: str
) -> None:
    with changes_nothing():
        response = client.post(version_change_url(pinned_metric, action))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("action", ["activate", "unpin"])
def test_version_changes_are_not_made_by_a_get(client: Client, pinned_metric: Metric, owner: User, action: str) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = client.get(version_change_url(pinned_metric, action))

    assert response.status_code == 405


def test_another_metrics_version_cannot_be_activated(trained_metric: Metric, stranger: User) -> None:
    elsewhere = TrainedModelFactory.create(metric__owner=stranger, metric__name="Error rate")
    before = database_state()

    with pytest.raises(ValueError, match="another metric"):
        stored(trained_metric).activate(elsewhere, pin=True)

    assert database_state() == before


def test_a_stale_verdict_points_at_the_current_candidate_rather_than_at_training_again(
    client: Client, data_metric: Metric, owner: User
) -> None:
    first = train(data_metric, owner)
    stored(data_metric).activate(first, pin=True)
    data_metric.import_indicators(rule_data(20, seed=3), owner)  # new data: the pinned version is stale
    train(data_metric, owner)  # on all of it, kept as a candidate: training again gives the same
    verdict = stored(data_metric).predict(900, 30, owner)
    client.force_login(owner)

    warning = client.get(verdict.get_absolute_url()).content.decode().split('data-testid="stale-warning">')[1]

    assert warning.startswith(
        "Warning: the data changed since this model was trained. Version 2, trained on all of it, does not answer: "
        "Kept as a candidate: the active version is pinned (version 1, "
    )
    assert "Train it again" not in warning.split("</p>")[0]
