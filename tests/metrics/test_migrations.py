"""The move of TrainedModel from the old `predictor` app into `metrics` keeps every row."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from metrics.models import Metric, TrainedModel, signing_keys
from predictor.artifacts import key_id

BEFORE_THE_MOVE = [("metrics", "0001_initial")]


def latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] == "metrics"]


@pytest.mark.django_db(transaction=True)
def test_a_database_from_before_the_move_keeps_its_models_content_type_and_permissions() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_THE_MOVE)
    # What a deployed database held: the old app's table, content type and a permission.
    assert "predictor_trainedmodel" in connection.introspection.table_names()
    assert "metrics_trainedmodel" not in connection.introspection.table_names()
    owner = User.objects.create(username="owner")
    # The metrics table as it was then: today's model has columns that did not exist yet.
    old_metric = executor.loader.project_state(BEFORE_THE_MOVE).apps.get_model("metrics", "Metric")
    metric_id = old_metric.objects.create(
        name="Requests per minute",
        category="Traffic",
        name_key="requests per minute",
        category_key="traffic",
        owner_id=owner.pk,
    ).pk
    artifact = b"pretend joblib bytes"
    signature = hmac.new(signing_keys()[0], artifact, hashlib.sha256).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO predictor_trainedmodel (metric_id, version, data_version, artifact, artifact_sha256, "
            "artifact_signature, sklearn_version, accuracy, n_indicators, n_trained_on, n_rollback, n_rollout, "
            "max_depth, n_leaves, trained_by_id, trained_at) "
            "VALUES (%s, 1, 1, %s, %s, %s, '1.9.1', 0.875, 200, 200, 80, 120, 3, 6, %s, %s)",
            [
                metric_id,
                artifact,
                hashlib.sha256(artifact).hexdigest(),
                signature,
                owner.pk,
                "2026-11-01 10:00:00+00:00" if connection.vendor == "postgresql" else "2026-11-01 10:00:00",
            ],
        )
    ContentType.objects.filter(model="trainedmodel").delete()
    old_type = ContentType.objects.create(app_label="predictor", model="trainedmodel")

    executor = MigrationExecutor(connection)
    executor.migrate(latest())

    assert "predictor_trainedmodel" not in connection.introspection.table_names()
    model = TrainedModel.objects.get()
    assert (model.metric_id, model.version, model.accuracy, model.n_leaves, model.trained_by) == (
        metric_id,
        1,
        0.875,
        6,
        owner,
    )
    assert bytes(model.artifact) == artifact
    # The key that signed it is named, so the pages can tell it apart from a lost key's.
    assert model.signing_key_id == key_id(signing_keys()[0])
    assert ContentType.objects.get(pk=old_type.pk).app_label == "metrics"
    # It answers as it did before versions could be chosen, under the default verdict settings.
    metric = Metric.objects.get(pk=metric_id)
    assert (metric.active_model, metric.is_active_model_pinned) == (model, False)
    assert (metric.rollback_threshold, metric.rollout_threshold, metric.min_leaf_cases) == (0.6, 0.8, 5)
    # Trained before the model card was kept: it says so rather than showing made-up figures.
    assert (model.has_card, model.value_min, model.chart_sample) == (False, None, None)


@pytest.mark.django_db(transaction=True)
def test_a_new_database_gets_the_table_under_its_new_name() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_THE_MOVE)
    with connection.schema_editor() as editor:
        # A database that never had the old app: no old table to adopt.
        editor.execute(editor.sql_delete_table % {"table": editor.quote_name("predictor_trainedmodel")})

    executor = MigrationExecutor(connection)
    executor.migrate(latest())

    tables = connection.introspection.table_names()
    assert "metrics_trainedmodel" in tables
    assert "predictor_trainedmodel" not in tables
