"""Training from the pages: one metric, or every metric whose model is missing, stale or unusable.

Training is the subject here, so these tests train for real, on as few indicators as each allows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, MutableSequence

import pytest
import sklearn
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from metrics.models import IndicatorQuerySet, Metric, TrainedModel
from predictor.columns import ROLLBACK, ROLLOUT, IndicatorColumns
from tests.data import rule_data
from tests.factories import MetricFactory, TrainedModelFactory
from tests.pages import messages_of
from tests.refusals import changes_nothing

TRAIN_ALL_URL = reverse("metrics:train_all")
# rule_data(20) holds 6 rollbacks and 14 rollouts: enough to train, and quick to.
SMALL = 20


def train_url(metric: Metric) -> str:
    return reverse("metrics:train", args=[metric.pk])


def versions_of(metric: Metric) -> list[int]:
    return list(TrainedModel.objects.filter(metric=metric).order_by("version").values_list("version", flat=True))


def share_right_on_held_out(model: TrainedModel) -> float:
    """The share of its held-out predictions that were right, from the counts its card shows.
    With `SMALL` rows, 5 folds of 4: the mean of the folds' accuracies is that share."""
    right = (model.confusion_rollout_as_rollout or 0) + (model.confusion_rollback_as_rollback or 0)
    return right / model.n_trained_on


def rows(decisions: list[int]) -> IndicatorColumns:
    return IndicatorColumns(
        values=[100.0 + n for n in range(len(decisions))],
        decisions=decisions,
        times=[10.0] * len(decisions),
    )


@pytest.fixture
def ready(metric: Metric, owner: User) -> Metric:
    """A metric with enough data to train, and no model yet."""
    metric.import_indicators(rule_data(SMALL), owner)
    return metric


@pytest.fixture
def small_trained_metric(metric: Metric, owner: User) -> Metric:
    """`metric` with a few indicators and a stored model of exactly them (no training)."""
    metric.import_indicators(rule_data(SMALL), owner)
    TrainedModelFactory.create(metric=metric, trained_by=owner)
    return metric


# --- Training one metric -----------------------------------------------------------------


def test_anyone_may_train_a_metric_creating_version_1_then_2_each_with_hash_library_author_and_accuracy(
    client: Client, stranger: User, ready: Metric
) -> None:
    # The catalogue is shared: an account with nothing to do with the metric may train it.
    client.force_login(stranger)

    first = client.post(train_url(ready))
    client.get(first["Location"])  # shows, and so consumes, the first message
    second = client.post(train_url(ready))

    assert first.status_code == second.status_code == 302
    assert first["Location"] == ready.get_absolute_url()
    assert versions_of(ready) == [1, 2]
    ready.refresh_from_db()
    for model in TrainedModel.objects.filter(metric=ready):
        assert model.artifact_sha256 == hashlib.sha256(bytes(model.artifact)).hexdigest()
        assert model.sklearn_version == sklearn.__version__
        assert model.trained_by == stranger
        assert model.accuracy == pytest.approx(share_right_on_held_out(model))
        assert (model.n_indicators, model.n_rollback, model.n_rollout) == (SMALL, 6, 14)
        assert model.data_version == ready.data_version
        assert model.is_usable
    [message] = messages_of(second)
    assert message.startswith("Model version 2 of “Requests per minute” trained: ")
    accuracy = TrainedModel.objects.get(metric=ready, version=2).accuracy
    assert message.endswith(f": {accuracy:.1%} accuracy on data it did not see.")


def test_metric_page_shows_the_new_model_after_training(client: Client, owner: User, ready: Metric) -> None:
    client.force_login(owner)

    response = client.post(train_url(ready), follow=True)

    html = response.content.decode()
    assert "Version 1" in html
    assert f"Trained on {SMALL} indicators" in html
    assert "No model yet." not in html


@pytest.mark.parametrize(
    ("decisions", "expected"),
    [
        ([ROLLBACK, ROLLOUT] * 4 + [ROLLBACK], "it has 9 indicators (5 rollback, 4 rollout)"),
        ([ROLLBACK] + [ROLLOUT] * 11, "it has 12 indicators (1 rollback, 11 rollout)"),
        ([ROLLBACK] * 15, "it has 15 indicators (15 rollback, 0 rollout)"),
    ],
    ids=["too-few-rows", "one-rollback", "no-rollout"],
)
def test_training_with_too_little_data_warns_with_the_counts_and_changes_nothing(
    client: Client, owner: User, metric: Metric, decisions: list[int], expected: str
) -> None:
    metric.import_indicators(rows(decisions), owner)
    client.force_login(owner)
    with changes_nothing():
        response = client.post(train_url(metric))

    assert response.status_code == 302
    [message] = get_messages(response.wsgi_request)
    assert message.level_tag == "warning"
    assert expected in str(message)
    assert "at least 10 indicators, with at least 2 of each decision" in str(message)
    assert not TrainedModel.objects.exists()


def test_training_a_metric_without_indicators_warns_and_changes_nothing(
    client: Client, owner: User, metric: Metric
) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = client.post(train_url(metric), follow=True)

    assert "Not enough data to train “Requests per minute”: it has 0 indicators" in response.content.decode()


def poison_columns_of(
    metric: Metric,
) -> Callable[[IndicatorQuerySet], tuple[IndicatorColumns, MutableSequence[int]]]:
    """`IndicatorQuerySet.columns_and_ids` (what training reads), but `metric`'s first value
    is 1e300, which no tree can learn from.

    As if a row had been written around every input check: the database's own check
    constraint refuses such a value, so it cannot be stored for real.
    """
    real_columns_and_ids = IndicatorQuerySet.columns_and_ids

    def columns_and_ids(queryset: IndicatorQuerySet) -> tuple[IndicatorColumns, MutableSequence[int]]:
        data, ids = real_columns_and_ids(queryset)
        if set(queryset.values_list("metric_id", flat=True)) == {metric.pk}:
            data.values[0] = 1e300
        return data, ids

    return columns_and_ids


def test_training_a_metric_whose_data_cannot_be_learnt_says_so_and_changes_nothing(
    client: Client, owner: User, ready: Metric, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(IndicatorQuerySet, "columns_and_ids", poison_columns_of(ready))
    client.force_login(owner)
    with changes_nothing():
        response = client.post(train_url(ready))

    assert response.status_code == 302
    assert messages_of(response) == ["“Requests per minute” holds values that cannot be learnt from; check its data."]


def test_training_by_get_is_not_allowed_and_changes_nothing(client: Client, owner: User, ready: Metric) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = client.get(train_url(ready))

    assert response.status_code == 405


def test_training_a_missing_metric_is_404_and_changes_nothing(client: Client, owner: User, ready: Metric) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = client.post(reverse("metrics:train", args=[999_999]))

    assert response.status_code == 404


def test_training_goes_back_to_a_same_site_next(client: Client, owner: User, ready: Metric) -> None:
    client.force_login(owner)
    next_url = f"{reverse('metrics:predict')}?metric={ready.pk}&value=200&minutes=30"

    response = client.post(train_url(ready), {"next": next_url})

    assert response["Location"] == next_url
    assert versions_of(ready) == [1]


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"])
def test_training_never_redirects_to_another_site(client: Client, owner: User, metric: Metric, next_url: str) -> None:
    # Without data nothing trains: the redirect is the same, and quicker to reach.
    client.force_login(owner)

    response = client.post(train_url(metric), {"next": next_url})

    assert response["Location"] == metric.get_absolute_url()
    all_response = client.post(TRAIN_ALL_URL, {"next": next_url})
    assert all_response["Location"] == reverse("metrics:list")


def test_a_metric_larger_than_the_training_limit_trains_on_a_sample_and_says_so(
    client: Client, owner: User, metric: Metric, settings
) -> None:
    settings.MBREAK_MAX_TRAINING_ROWS = 20
    metric.import_indicators(rule_data(40), owner)
    client.force_login(owner)

    client.post(train_url(metric))

    model = TrainedModel.objects.get(metric=metric)
    assert (model.n_indicators, model.n_trained_on) == (40, 20)
    html = client.get(metric.get_absolute_url()).content.decode()
    assert "Trained on 40 indicators (a sample of 20)" in html


# --- Training every metric that needs it -----------------------------------------------------


def test_train_all_trains_each_own_metric_without_a_model_and_reports_those_with_too_little_data(
    client: Client, owner: User, ready: Metric
) -> None:
    thin = MetricFactory.create(name="Error rate", owner=owner)
    thin.import_indicators(rows([ROLLBACK, ROLLOUT, ROLLBACK]), owner)
    client.force_login(owner)

    response = client.post(TRAIN_ALL_URL)

    assert response.status_code == 302
    assert response["Location"] == reverse("metrics:list")
    assert versions_of(ready) == [1]
    assert TrainedModel.objects.get(metric=ready).trained_by == owner
    assert versions_of(thin) == []
    assert messages_of(response) == [
        "Trained 1 model: Requests per minute.",
        "Not enough data to train: Error rate. Each metric needs at least 10 indicators, "
        "with at least 2 rollbacks and 2 rollouts.",
    ]


@pytest.fixture
def ready_other(owner: User) -> Metric:
    metric = MetricFactory.create(name="Latency", category="Web", owner=owner)
    metric.import_indicators(rule_data(SMALL, seed=1), owner)
    return metric


def test_train_all_does_not_retrain_a_metric_untouched_since_its_model(
    client: Client, owner: User, small_trained_metric: Metric, ready_other: Metric
) -> None:
    client.force_login(owner)

    response = client.post(TRAIN_ALL_URL)

    assert versions_of(small_trained_metric) == [1]
    assert versions_of(ready_other) == [1]
    assert messages_of(response) == ["Trained 1 model: Latency."]


def test_train_all_says_up_to_date_when_nothing_changed(client: Client, owner: User, trained_metric: Metric) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = client.post(TRAIN_ALL_URL, follow=True)

    assert "Every model is up to date: no metric has new data since its last training." in response.content.decode()


def test_a_contributor_adding_an_indicator_makes_the_metric_stale_again(
    client: Client, contributor: User, small_trained_metric: Metric
) -> None:
    client.force_login(contributor)
    client.post(
        reverse("metrics:add_indicator", args=[small_trained_metric.pk]),
        {"value": 1, "decision": ROLLBACK, "minutes": 50},
        follow=True,
    )

    response = client.post(TRAIN_ALL_URL)

    assert versions_of(small_trained_metric) == [1, 2]
    newest = TrainedModel.objects.get(metric=small_trained_metric, version=2)
    assert newest.n_indicators == SMALL + 1
    assert newest.trained_by == contributor
    assert messages_of(response) == ["Trained 1 model: Requests per minute."]
    client.get(response["Location"])
    again = client.post(TRAIN_ALL_URL)
    assert versions_of(small_trained_metric) == [1, 2]
    assert messages_of(again) == ["Every model is up to date: no metric has new data since its last training."]


def test_deleting_an_indicator_makes_the_metric_stale_again(
    client: Client, owner: User, small_trained_metric: Metric
) -> None:
    indicator = small_trained_metric.indicators.order_by("pk").first()
    assert indicator is not None
    client.force_login(owner)
    client.post(reverse("metrics:delete_indicator", args=[small_trained_metric.pk, indicator.pk]))

    client.post(TRAIN_ALL_URL)

    assert versions_of(small_trained_metric) == [1, 2]
    assert TrainedModel.objects.get(metric=small_trained_metric, version=2).n_indicators == SMALL - 1


def test_train_all_retrains_a_metric_whose_model_this_server_cannot_use(
    client: Client, owner: User, small_trained_metric: Metric
) -> None:
    TrainedModel.objects.filter(metric=small_trained_metric).update(sklearn_version="0.24.2")
    client.force_login(owner)

    response = client.post(TRAIN_ALL_URL)

    assert versions_of(small_trained_metric) == [1, 2]
    assert TrainedModel.objects.get(metric=small_trained_metric, version=2).is_usable
    assert messages_of(response) == ["Trained 1 model: Requests per minute."]


def test_train_all_goes_back_to_a_same_site_next(client: Client, owner: User, trained_metric: Metric) -> None:
    client.force_login(owner)

    response = client.post(TRAIN_ALL_URL, {"next": "/?name=requests&page=1"})

    assert response["Location"] == "/?name=requests&page=1"


def test_train_all_by_get_is_not_allowed_and_changes_nothing(client: Client, owner: User, ready: Metric) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = client.get(TRAIN_ALL_URL)

    assert response.status_code == 405


def test_train_all_reports_a_metric_whose_data_cannot_be_learnt_and_trains_the_others(
    client: Client, owner: User, ready: Metric, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = MetricFactory.create(owner=owner, name="Broken")
    broken.import_indicators(rule_data(SMALL), owner)
    monkeypatch.setattr(IndicatorQuerySet, "columns_and_ids", poison_columns_of(broken))
    client.force_login(owner)

    response = client.post(TRAIN_ALL_URL)

    assert versions_of(ready) == [1]
    assert versions_of(broken) == []
    assert "These metrics hold values that cannot be learnt from; check their data: Broken." in messages_of(response)
