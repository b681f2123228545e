"""TrainedModel moves from the old `predictor` app into `metrics`, keeping its rows.

A database made before the move has the table `predictor_trainedmodel` (with its rows,
its content type and its permissions); one made after never had the `predictor` app.
The model is first declared over the old table, which is created only if it is missing,
then the table is renamed to `metrics_trainedmodel`. Going back restores the old layout.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

OLD_TABLE = "predictor_trainedmodel"


def create_table_if_missing(apps, schema_editor):
    if OLD_TABLE not in schema_editor.connection.introspection.table_names():
        schema_editor.create_model(apps.get_model("metrics", "TrainedModel"))


def move_content_type(apps, schema_editor, source="predictor", target="metrics"):
    # Moving the content type (rather than letting Django make a new one) keeps the
    # permissions that staff were given on trained models.
    content_types = apps.get_model("contenttypes", "ContentType").objects.using(schema_editor.connection.alias)
    if not content_types.filter(app_label=target, model="trainedmodel").exists():
        content_types.filter(app_label=source, model="trainedmodel").update(app_label=target)


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, source="metrics", target="predictor")


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("metrics", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="TrainedModel",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("version", models.PositiveIntegerField(verbose_name="version")),
                        ("data_version", models.PositiveIntegerField(editable=False)),
                        ("artifact", models.BinaryField(verbose_name="fitted model (joblib)")),
                        ("artifact_sha256", models.CharField(max_length=64, verbose_name="sha256 of the fitted model")),
                        ("artifact_signature", models.CharField(max_length=64, verbose_name="signature of the fitted model")),
                        ("sklearn_version", models.CharField(max_length=32, verbose_name="scikit-learn version")),
                        ("accuracy", models.FloatField(verbose_name="held-out accuracy")),
                        ("n_indicators", models.PositiveIntegerField(verbose_name="indicators")),
                        ("n_trained_on", models.PositiveIntegerField(verbose_name="indicators in the training sample")),
                        ("n_rollback", models.PositiveIntegerField(verbose_name="rollback indicators")),
                        ("n_rollout", models.PositiveIntegerField(verbose_name="rollout indicators")),
                        ("max_depth", models.PositiveIntegerField(blank=True, null=True, verbose_name="tree depth limit")),
                        ("n_leaves", models.PositiveIntegerField(verbose_name="leaves")),
                        ("trained_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="trained at")),
                        ("metric", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="trained_models", to="metrics.metric", verbose_name="metric")),
                        ("trained_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="trained_models", to=settings.AUTH_USER_MODEL, verbose_name="trained by")),
                    ],
                    options={
                        "verbose_name": "trained model",
                        "verbose_name_plural": "trained models",
                        "ordering": ["metric", "-version"],
                        "db_table": OLD_TABLE,
                        "constraints": [models.UniqueConstraint(fields=("metric", "version"), name="trained_model_unique_version")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(create_table_if_missing, migrations.RunPython.noop),
        migrations.AlterModelTable(name="trainedmodel", table=None),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
