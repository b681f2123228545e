"""Model versions through the API: their cards, and choosing which one answers (the owner only)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, TokenScope
from metrics.models import Metric, TrainedModel
from tests.factories import TrainedModelFactory
from tests.refusals import changes_nothing


def bearer(user: User, scope: str = TokenScope.WRITE) -> dict[str, str]:
    _token, secret = ApiToken.objects.issue(user, f"token {ApiToken.objects.count()}", scope)
    return {"Authorization": f"Bearer {secret}"}


def activate(client: Client, model: TrainedModel, headers: dict[str, str]):
    return client.post(reverse("api:activate", args=[model.pk]), content_type="application/json", headers=headers)


def answering(metric: Metric) -> tuple:
    metric.refresh_from_db()
    return metric.active_model.version if metric.active_model else None, metric.is_active_model_pinned


def test_versions_are_listed_newest_first_with_their_cards(
    client: Client, trained_metric: Metric, stranger: User
) -> None:
    TrainedModelFactory.create(metric=trained_metric)

    body = client.get(reverse("api:versions", args=[trained_metric.pk]), headers=bearer(stranger)).json()

    assert [v["version"] for v in body["results"]] == [2, 1]
    newest = body["results"][0]
    assert (newest["is_active"], newest["is_pinned"], newest["unusable_because"]) == (True, False, None)
    assert 0 <= newest["accuracy"] <= 1
    card = client.get(newest["url"], headers=bearer(stranger)).json()
    assert card == newest


def test_a_version_that_could_be_chance_says_so_with_its_accuracy_bound(
    client: Client, metric: Metric, stranger: User
) -> None:
    model = TrainedModelFactory.create(
        metric=metric, accuracy=2 / 3, baseline_accuracy=0.5, n_indicators=14, n_trained_on=14
    )

    card = client.get(reverse("api:version", args=[model.pk]), headers=bearer(stranger)).json()

    assert (round(card["accuracy_lower_bound"], 4), card["is_better_than_baseline"]) == (0.4091, False)


def test_the_owner_pins_an_older_version_then_unpins(client: Client, trained_metric: Metric, owner: User) -> None:
    first = trained_metric.trained_models.get()
    TrainedModelFactory.create(metric=trained_metric)

    pinned = activate(client, first, bearer(owner))

    assert pinned.status_code == 200
    assert (pinned.json()["is_active"], pinned.json()["is_pinned"]) == (True, True)
    assert answering(trained_metric) == (1, True)
    unpinned = client.post(reverse("api:unpin", args=[trained_metric.pk]), headers=bearer(owner))
    assert unpinned.status_code == 200
    assert answering(trained_metric)[1] is False


def test_only_the_owner_with_a_write_token_chooses_the_version(
    client: Client, trained_metric: Metric, owner: User, contributor: User
) -> None:
    first = trained_metric.trained_models.get()
    TrainedModelFactory.create(metric=trained_metric)
    with changes_nothing(lambda: answering(trained_metric)):
        stranger = activate(client, first, bearer(contributor))
        read_only = activate(client, first, bearer(owner, TokenScope.READ))
        unpin = client.post(reverse("api:unpin", args=[trained_metric.pk]), headers=bearer(contributor))

    assert (stranger.status_code, read_only.status_code, unpin.status_code) == (403, 403, 403)
    assert stranger.json()["detail"] == "Only the metric's owner may change its settings and its active version."


def test_a_version_that_cannot_be_used_here_is_refused_with_409(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    first = trained_metric.trained_models.get()
    TrainedModelFactory.create(metric=trained_metric)
    TrainedModel.objects.filter(pk=first.pk).update(sklearn_version="0.1.0")
    with changes_nothing(lambda: answering(trained_metric)):
        response = activate(client, first, bearer(owner))

    assert response.status_code == 409
    assert response.json()["code"] == "model_unusable"


def test_a_pinned_older_version_is_stale_when_the_data_changed_since_it_was_trained(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    """Staleness is the answering version's, not the newest one's."""
    older = trained_metric.trained_models.get()
    trained_metric.add_indicator(500, 0, 10, owner)
    TrainedModelFactory.create(metric=trained_metric)  # the newest, trained on the data as it is
    trained_metric.activate(older, pin=True)

    body = client.get(reverse("api:metric", args=[trained_metric.pk]), headers=bearer(owner)).json()

    assert (body["answering_model"]["version"], body["answering_model"]["is_stale"]) == (older.version, True)
