"""Rules on Metric and Indicator, and their QuerySets, on the real database."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction

from metrics.csv_io import parse_indicator_csv
from metrics.models import Indicator, Metric, TrainedModel
from predictor.columns import IndicatorColumns
from tests.data import rule_data
from tests.factories import IndicatorFactory, MetricFactory, TrainedModelFactory


def test_search_is_case_insensitive_and_combines_name_and_category(owner):
    MetricFactory.create(name="Requests per minute", category="Traffic", owner=owner)
    MetricFactory.create(name="Error rate", category="Reliability", owner=owner)
    MetricFactory.create(name="Requests failed", category="Reliability", owner=owner)
    assert sorted(m.name for m in Metric.objects.search(name="REQUESTS")) == ["Requests failed", "Requests per minute"]
    assert [m.name for m in Metric.objects.search(name="requests", category="reli")] == ["Requests failed"]
    assert Metric.objects.search().count() == 3


def test_only_the_owner_can_delete_a_metric(contributed_metric, owner, contributor, stranger):
    assert contributed_metric.can_delete(owner)
    assert not contributed_metric.can_delete(contributor)
    assert not contributed_metric.can_delete(stranger)
    assert not contributed_metric.can_delete(AnonymousUser())


def test_indicator_can_be_deleted_by_its_author_or_the_metric_owner(metric, owner, contributor, stranger):
    by_contributor = IndicatorFactory.create(metric=metric, created_by=contributor)
    assert by_contributor.can_delete(contributor)
    assert by_contributor.can_delete(owner)
    assert not by_contributor.can_delete(stranger)
    assert not by_contributor.can_delete(AnonymousUser())


def test_same_name_and_category_is_refused_by_the_database_too(metric, stranger):
    with pytest.raises(IntegrityError), transaction.atomic():
        Metric.objects.create(name="REQUESTS PER MINUTE", category="traffic", owner=stranger)
    assert list(Metric.objects.values_list("pk", flat=True)) == [metric.pk]


def test_bulk_import_stores_every_row_with_the_uploader(metric, contributor):
    parsed = rule_data(2500)
    assert metric.import_indicators(parsed, contributor) == 2500
    stored = list(metric.indicators.order_by("pk").values_list("value", "time", "decision", "created_by"))
    assert stored == [(value, time, decision, contributor.pk) for value, time, decision in parsed.rows()]


def test_bulk_import_keeps_full_float_precision(metric, owner):
    parsed = IndicatorColumns(values=[0.1 + 0.2, 1e-300, -123456.789012345], decisions=[1, 0, 1], times=[1e-7, 0, 1e6])
    metric.import_indicators(parsed, owner)
    assert list(metric.indicators.order_by("pk").values_list("value", "time", "decision")) == list(parsed.rows())


def test_a_failing_import_stores_nothing(metric, owner):
    parsed = IndicatorColumns(values=[1.0, 2.0], decisions=[0, 7], times=[1.0, 1.0])  # 7 violates the check
    version_before = Metric.objects.get(pk=metric.pk).data_version
    with pytest.raises(IntegrityError):
        metric.import_indicators(parsed, owner)
    assert metric.indicators.count() == 0
    assert Metric.objects.get(pk=metric.pk).data_version == version_before


def test_every_change_to_the_data_bumps_the_data_version(metric, owner):
    start = metric.data_version
    indicator = metric.add_indicator(value=1, decision=0, time=1, user=owner)
    metric.import_indicators(parse_indicator_csv(b"valor,decisao,tempo\n1,1,1\n"), owner)
    indicator.delete()
    metric.refresh_from_db()
    assert metric.data_version == start + 3


def test_needing_training_lists_new_and_changed_metrics_only(owner):
    untrained = MetricFactory.create(owner=owner)
    trained = MetricFactory.create(owner=owner)
    changed = MetricFactory.create(owner=owner)
    for m in (untrained, trained, changed):
        m.import_indicators(rule_data(60), owner)
    TrainedModelFactory.create(metric=trained)
    TrainedModelFactory.create(metric=changed)
    changed.add_indicator(value=1, decision=1, time=20, user=owner)
    assert list(Metric.objects.needing_training()) == [untrained, changed]


def test_sample_returns_at_most_about_the_asked_number_of_rows_and_the_same_rows_each_time(metric, owner):
    metric.import_indicators(rule_data(5000), owner)
    sample = metric.indicators.sample_columns(700)
    assert 300 <= len(sample.values) <= 700
    assert len(sample.values) == len(sample.times) == len(sample.decisions)
    assert list(metric.indicators.sample_columns(700).rows()) == list(sample.rows())
    assert len(metric.indicators.sample_columns(10_000).values) == 5000


def test_deleting_a_metric_removes_its_indicators_and_models(trained_metric):
    trained_metric.delete()
    assert Indicator.objects.count() == 0
    assert TrainedModel.objects.count() == 0


def test_training_creates_a_new_version_each_time(trained_metric, owner):
    again = TrainedModel.objects.train(trained_metric, owner)
    assert again.version == 2
    assert list(trained_metric.trained_models.values_list("version", flat=True)) == [2, 1]
    assert again.trained_by == owner
    assert again.is_current


def test_sample_of_a_metric_whose_rows_interleave_with_another_metric_is_not_empty(metric, owner):
    other = MetricFactory.create(owner=owner)
    for _ in range(400):
        IndicatorFactory.create(metric=other)
        IndicatorFactory.create(metric=metric)
    assert 150 <= len(metric.indicators.sample_columns(200).values) <= 200
    assert 150 <= len(other.indicators.sample_columns(200).values) <= 200
