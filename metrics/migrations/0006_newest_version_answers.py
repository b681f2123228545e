"""Each metric's newest trained version becomes its active one, as it answered before versions could be chosen."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def activate_newest(apps, schema_editor):
    alias = schema_editor.connection.alias
    models_ = apps.get_model("metrics", "TrainedModel").objects.using(alias)
    newest = models_.filter(metric=OuterRef("pk")).order_by("-version").values("pk")[:1]
    apps.get_model("metrics", "Metric").objects.using(alias).update(active_model=Subquery(newest))


class Migration(migrations.Migration):

    dependencies = [
        ("metrics", "0005_verdicts_model_card_and_versions"),
    ]

    operations = [
        migrations.RunPython(activate_newest, migrations.RunPython.noop),
    ]
