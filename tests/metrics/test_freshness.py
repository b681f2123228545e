"""Every write path that changes a metric's indicators makes its model stale: no model
is ever shown as up to date on data it has not seen."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from metrics.models import Decision, Indicator, Metric, TrainedModel
from predictor.columns import IndicatorColumns
from tests.factories import IndicatorFactory, MetricFactory, UserFactory
from tests.pages import messages_of

STALE_NOTE = "new data since: train again"


@pytest.fixture
def model(trained_metric: Metric) -> TrainedModel:
    model = trained_metric.trained_models.get()
    assert model.is_current
    assert trained_metric not in Metric.objects.needing_training()
    return model


@pytest.fixture
def staff(db: None) -> User:
    return UserFactory.create(username="admin", is_staff=True, is_superuser=True)


def assert_stale(metric: Metric, client: Client) -> None:
    """What the user sees: the metric page says so, and "Train the models" trains it."""
    metric.refresh_from_db()
    assert metric.indicator_count == metric.indicators.count()  # the count shown, kept by the same write
    assert metric in Metric.objects.needing_training()
    assert not metric.trained_models.latest("version").is_current
    client.force_login(metric.owner)
    assert STALE_NOTE in client.get(metric.get_absolute_url()).content.decode()


def test_the_indicator_form_makes_the_model_stale(client: Client, model: TrainedModel, contributor: User) -> None:
    client.force_login(contributor)
    client.post(reverse("metrics:add_indicator", args=[model.metric_id]), {"value": 1, "decision": 1, "minutes": 20})
    assert_stale(model.metric, client)


def test_a_csv_upload_makes_the_model_stale(client: Client, model: TrainedModel, contributor: User) -> None:
    client.force_login(contributor)
    upload = io.BytesIO(b"valor,decisao,tempo\n1,1,20\n")
    upload.name = "more.csv"
    client.post(reverse("metrics:upload"), {"metric": model.metric_id, "delimiter": "detect", "file": upload})
    assert_stale(model.metric, client)


def test_deleting_an_indicator_on_its_page_makes_the_model_stale(client: Client, model: TrainedModel) -> None:
    client.force_login(model.metric.owner)
    indicator = model.metric.indicators.earliest("pk")
    client.post(reverse("metrics:delete_indicator", args=[model.metric_id, indicator.pk]))
    assert_stale(model.metric, client)


def test_changing_a_decision_in_the_admin_makes_the_model_stale(
    client: Client, model: TrainedModel, staff: User
) -> None:
    indicator = model.metric.indicators.earliest("pk")
    before = indicator.decision
    client.force_login(staff)
    response = client.post(
        reverse("admin:metrics_indicator_change", args=[indicator.pk]),
        {
            "metric": indicator.metric_id,
            "value": indicator.value,
            "decision": 1 - indicator.decision,
            "time": indicator.time,
            "created_by": indicator.created_by_id,
            "created_at_0": indicator.created_at.strftime("%Y-%m-%d"),
            "created_at_1": indicator.created_at.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302
    indicator.refresh_from_db()
    assert indicator.decision == 1 - before
    assert_stale(model.metric, client)


def test_bulk_deleting_indicators_in_the_admin_makes_the_model_stale(
    client: Client, model: TrainedModel, staff: User
) -> None:
    chosen = list(model.metric.indicators.values_list("pk", flat=True)[:5])
    client.force_login(staff)
    response = client.post(
        reverse("admin:metrics_indicator_changelist"),
        {"action": "delete_selected", "_selected_action": chosen, "post": "yes"},
    )
    assert response.status_code == 302
    assert not Indicator.objects.filter(pk__in=chosen).exists()
    assert_stale(model.metric, client)


def test_a_queryset_update_of_learnt_fields_makes_the_model_stale(client: Client, model: TrainedModel) -> None:
    model.metric.indicators.filter(value__lt=300).update(decision=Decision.ROLLOUT)
    assert_stale(model.metric, client)


def test_a_queryset_update_of_other_fields_leaves_the_model_current(model: TrainedModel, contributor: User) -> None:
    model.metric.indicators.update(created_by=contributor)
    model.metric.refresh_from_db()
    assert model.metric.trained_models.latest("version").is_current


def test_a_queryset_delete_makes_the_model_stale(client: Client, model: TrainedModel) -> None:
    model.metric.indicators.filter(value__gt=900).delete()
    assert_stale(model.metric, client)


def test_the_raw_sql_bulk_insert_makes_the_model_stale(client: Client, model: TrainedModel, owner: User) -> None:
    Indicator.objects.bulk_insert(model.metric, IndicatorColumns(values=[1.0], times=[20.0], decisions=[1]), owner)
    assert_stale(model.metric, client)


def test_bulk_create_makes_the_model_stale(client: Client, model: TrainedModel, owner: User) -> None:
    Indicator.objects.bulk_create([Indicator(metric=model.metric, value=1, decision=1, time=20, created_by=owner)])
    assert_stale(model.metric, client)


def test_moving_an_indicator_to_another_metric_makes_both_stale(model: TrainedModel, owner: User) -> None:
    other = MetricFactory.create(owner=owner)
    IndicatorFactory.create_batch(3, metric=other)
    other_version = Metric.objects.get(pk=other.pk).data_version
    indicator = model.metric.indicators.earliest("pk")

    indicator.metric = other
    indicator.save()

    assert model.metric in Metric.objects.needing_training()
    assert Metric.objects.get(pk=other.pk).data_version == other_version + 1
    for moved in (model.metric, other):
        assert Metric.objects.get(pk=moved.pk).indicator_count == moved.indicators.count()


def test_train_all_trains_a_metric_changed_in_the_admin_instead_of_saying_all_is_up_to_date(
    client: Client, model: TrainedModel, staff: User
) -> None:
    client.force_login(staff)
    client.post(
        reverse("admin:metrics_indicator_changelist"),
        {"action": "delete_selected", "_selected_action": [model.metric.indicators.earliest("pk").pk], "post": "yes"},
    )

    client.force_login(model.metric.owner)  # train-all trains one's own metrics

    response = client.post(reverse("metrics:train_all"))

    assert messages_of(response)[-1] == f"Trained 1 model: {model.metric.name}."
    assert model.metric.trained_models.latest("version").version == 2


def test_a_queryset_update_moving_rows_between_metrics_keeps_both_counts(model: TrainedModel, owner: User) -> None:
    other = MetricFactory.create(owner=owner)
    IndicatorFactory.create_batch(3, metric=other)

    model.metric.indicators.filter(value__lt=500).update(metric=other)

    for metric in (model.metric, other):
        assert Metric.objects.get(pk=metric.pk).indicator_count == metric.indicators.count()


def test_the_metric_list_counts_no_indicator_rows(client: Client, model: TrainedModel) -> None:
    client.force_login(model.metric.owner)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("metrics:list"))
    # The banner asks whether a metric has a second row of each decision (EXISTS), never how many.
    counting = [q["sql"] for q in queries.captured_queries if "metrics_indicator" in q["sql"] and "COUNT(" in q["sql"]]
    assert counting == []
    assert '<td data-label="Indicators" class="text-md-end">200</td>' in response.content.decode()


def test_the_metric_page_reads_one_page_of_indicators_and_counts_none(client: Client, model: TrainedModel) -> None:
    client.force_login(model.metric.owner)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(model.metric.get_absolute_url())
    counting = [q["sql"] for q in queries.captured_queries if "metrics_indicator" in q["sql"] and "COUNT(" in q["sql"]]
    assert counting == []
    assert "200 indicators" in response.content.decode()
    assert "Page 1 of 8" in response.content.decode()
