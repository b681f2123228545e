"""Store existing names and categories the way new ones are stored (NFKC, no invisible characters).

Two existing metrics that now turn out to be the same (typed two Unicode ways) cannot both
take the same key: the second keeps its old spelling and is reported, for staff to merge.
"""

import unicodedata

from django.db import migrations

INVISIBLE = {"Cc", "Cf"}


def _normalise(text):
    # As metrics.models.normalise_label was when this migration was written.
    text = unicodedata.normalize("NFKC", text)
    visible = "".join(ch for ch in text if unicodedata.category(ch) not in INVISIBLE)
    return " ".join(unicodedata.normalize("NFKC", visible).split())


def normalise_labels(apps, schema_editor):
    metrics = apps.get_model("metrics", "Metric").objects.using(schema_editor.connection.alias)
    wanted = {}
    for metric in metrics.order_by("pk"):
        name, category = _normalise(metric.name), _normalise(metric.category)
        wanted[metric.pk] = (metric, name, category, (name.casefold(), category.casefold()))
    # Keys already held stay with their holders; the others are given out in creation order.
    taken = {key for metric, _, _, key in wanted.values() if key == (metric.name_key, metric.category_key)}
    for metric, name, category, key in wanted.values():
        if (name, category, *key) == (metric.name, metric.category, metric.name_key, metric.category_key):
            continue
        if key in taken:
            print(f"\n  Metric {metric.pk} ({metric.name!r}, {metric.category!r}) duplicates another once normalised; left as it is.")
            continue
        taken.add(key)
        metrics.filter(pk=metric.pk).update(name=name, category=category, name_key=key[0], category_key=key[1])


class Migration(migrations.Migration):

    dependencies = [
        ("metrics", "0003_trainedmodel_signing_key_and_refusal"),
    ]

    operations = [
        migrations.RunPython(normalise_labels, migrations.RunPython.noop),
    ]
