"""A user's first clicks act on their own work: "Train the models" trains the metrics they own
or added data to, its banner waits for their data, and Train and Predict say why they cannot
act on a metric with too little data.

Training is the subject here, so these tests train for real, on as few indicators as each allows.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import Indicator, Job, Metric, TrainedModel
from predictor.columns import ROLLBACK, ROLLOUT
from tests.data import database_state, rule_data
from tests.factories import IndicatorFactory, MetricFactory, TrainedModelFactory
from tests.metrics.test_train_views import SMALL, rows, versions_of
from tests.pages import messages_of

TRAIN_ALL_URL = reverse("metrics:train_all")
LIST_URL = reverse("metrics:list")


@pytest.fixture
def strangers_stale_metric(stranger: User) -> Metric:
    """A metric of someone else's with enough data and no model: stale, and not ours to train."""
    metric = MetricFactory.create(name="Checkout latency", category="Web", owner=stranger)
    metric.import_indicators(rule_data(SMALL, seed=2), stranger)
    return metric


def everything_of(metric: Metric) -> dict[str, object]:
    return {
        "metric": list(Metric.objects.filter(pk=metric.pk).values()),
        "models": list(TrainedModel.objects.filter(metric=metric).values_list("pk", "version")),
        "jobs": list(Job.objects.filter(metric=metric).values_list("pk", "status")),
    }


def test_train_all_by_a_new_account_trains_nothing_of_others_and_names_what_it_left(
    client: Client, owner: User, strangers_stale_metric: Metric
) -> None:
    newcomer = User.objects.create(username="newcomer")
    client.force_login(newcomer)
    before = database_state()
    theirs = everything_of(strangers_stale_metric)

    response = client.post(TRAIN_ALL_URL)

    assert response.status_code == 302
    assert database_state() == before
    assert everything_of(strangers_stale_metric) == theirs
    assert messages_of(response) == [
        "Not trained, as it is not yours (you neither own it nor added data to it): Checkout latency."
    ]


def test_train_all_trains_the_metrics_one_owns_or_added_data_to_and_leaves_the_rest(
    client: Client, owner: User, contributor: User, strangers_stale_metric: Metric
) -> None:
    own = MetricFactory.create(name="Own", owner=owner)
    own.import_indicators(rule_data(SMALL), owner)
    helped = MetricFactory.create(name="Helped", owner=User.objects.create(username="colleague"))
    helped.import_indicators(rule_data(SMALL, seed=3), contributor)
    IndicatorFactory.create(metric=helped, created_by=owner)
    client.force_login(owner)
    theirs = everything_of(strangers_stale_metric)

    response = client.post(TRAIN_ALL_URL)

    assert versions_of(own) == [1]
    assert versions_of(helped) == [1]
    assert everything_of(strangers_stale_metric) == theirs
    assert messages_of(response) == [
        "Trained 2 models: Own, Helped.",
        "Not trained, as it is not yours (you neither own it nor added data to it): Checkout latency.",
    ]


def test_train_banner_is_not_offered_to_an_account_without_data(client: Client, strangers_stale_metric: Metric) -> None:
    client.force_login(User.objects.create(username="newcomer"))

    html = client.get(LIST_URL).content.decode()

    assert "Train the models" not in html
    assert f'action="{TRAIN_ALL_URL}"' not in html
    assert "Start with your own data" in html


def test_train_banner_is_offered_to_who_added_data_to_a_metric(client: Client, contributed_metric: Metric) -> None:
    contributor = User.objects.get(username="contributor")
    contributed_metric.import_indicators(rule_data(SMALL), contributor)  # new data, enough to train
    client.force_login(contributor)

    html = client.get(LIST_URL).content.decode()

    assert f'action="{TRAIN_ALL_URL}"' in html


# --- Train and Predict on a metric with too little data ----------------------------------------


def test_train_and_predict_are_disabled_with_the_reason_beside_them_on_a_metric_with_too_little_data(
    client: Client, owner: User, metric: Metric
) -> None:
    metric.import_indicators(rows([ROLLBACK, ROLLOUT, ROLLBACK]), owner)
    client.force_login(owner)

    html = client.get(metric.get_absolute_url()).content.decode()

    assert f'action="{reverse("metrics:train", args=[metric.pk])}"' not in html
    assert f'href="{reverse("metrics:predict")}?for={metric.pk}"' not in html
    assert html.count('disabled aria-describedby="why-not-trainable"') == 2
    assert (
        "Not enough data to train “Requests per minute”: it has 3 indicators (2 rollback, 1 rollout). Add more "
        "data: at least 10 indicators, with at least 2 of each decision."
    ) in html


def test_train_is_disabled_on_a_metric_of_many_rows_of_one_decision(
    client: Client, owner: User, metric: Metric
) -> None:
    metric.import_indicators(rows([ROLLOUT] * 30 + [ROLLBACK]), owner)
    client.force_login(owner)

    html = client.get(metric.get_absolute_url()).content.decode()

    assert f'action="{reverse("metrics:train", args=[metric.pk])}"' not in html
    assert "it has 31 indicators (1 rollback, 30 rollout)" in html


def test_train_and_predict_are_offered_on_a_metric_with_enough_data(
    client: Client, owner: User, metric: Metric
) -> None:
    metric.import_indicators(rule_data(SMALL), owner)
    client.force_login(owner)

    html = client.get(metric.get_absolute_url()).content.decode()

    assert f'action="{reverse("metrics:train", args=[metric.pk])}"' in html
    assert f'href="{reverse("metrics:predict")}?for={metric.pk}"' in html
    assert "why-not-trainable" not in html


def test_predict_stays_offered_when_a_trained_model_answers_though_data_was_deleted(
    client: Client, owner: User, trained_metric: Metric
) -> None:
    Indicator.objects.filter(pk__in=list(trained_metric.indicators.values_list("pk", flat=True)[5:])).delete()
    Metric.objects.recount_indicators([trained_metric.pk])
    client.force_login(owner)

    html = client.get(trained_metric.get_absolute_url()).content.decode()

    assert f'action="{reverse("metrics:train", args=[trained_metric.pk])}"' not in html
    assert f'href="{reverse("metrics:predict")}?for={trained_metric.pk}"' in html


@pytest.mark.parametrize(
    ("decisions", "enough"),
    [
        ([ROLLBACK] * 2 + [ROLLOUT] * 8, True),
        ([ROLLBACK] * 2 + [ROLLOUT] * 7, False),
        ([ROLLBACK] * 1 + [ROLLOUT] * 20, False),
        ([ROLLBACK] * 20 + [ROLLOUT] * 1, False),
    ],
)
def test_the_page_and_the_training_agree_on_enough_data(
    owner: User, metric: Metric, decisions: list[int], enough: bool
) -> None:
    metric.import_indicators(rows(decisions), owner)
    metric.refresh_from_db()

    job, _created = Job.objects.enqueue_training(metric, owner)

    job.refresh_from_db()
    assert (metric.not_enough_data_reason() == "") is enough
    assert (job.failure != "not_enough_data") is enough
    assert Metric.objects.filter(pk=metric.pk).trainable().exists() is enough  # the banner's and train-all's


def test_train_all_makes_no_job_for_ones_metric_with_too_little_data_and_says_why(
    client: Client, owner: User, metric: Metric
) -> None:
    metric.import_indicators(rows([ROLLBACK] * 2 + [ROLLOUT] * 3), owner)
    client.force_login(owner)
    before = database_state()

    response = client.post(TRAIN_ALL_URL)

    assert database_state() == before  # no job that could only fail
    assert messages_of(response) == [
        f"Not enough data to train: {metric.name}. Each metric needs at least 10 indicators, "
        "with at least 2 rollbacks and 2 rollouts."
    ]


def test_train_banner_offers_no_button_when_nothing_of_ones_own_can_be_trained(
    client: Client, owner: User, metric: Metric
) -> None:
    # Clicking it could only fail (too little data) or do nothing (every model up to date).
    metric.import_indicators(rows([ROLLBACK] * 2 + [ROLLOUT] * 3), owner)
    client.force_login(owner)

    html = client.get(LIST_URL).content.decode()

    assert f'action="{TRAIN_ALL_URL}"' not in html
    assert "Nothing to train now" in html


def test_a_model_of_other_data_does_not_make_too_little_data_enough(owner: User, metric: Metric) -> None:
    # The rule reads the indicators, not a model: a model of other data does not make it enough.
    TrainedModelFactory.create(metric=metric, trained_by=owner)

    assert metric.not_enough_data_reason().startswith("Not enough data to train")
