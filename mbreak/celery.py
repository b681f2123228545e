"""The Celery application: long work (imports, trainings) runs in worker processes.

Configured from Django's settings (the `CELERY_` ones). Job state is kept in the
application's database (`metrics.models.Job`), so no result backend is needed.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mbreak.settings")

app = Celery("mbreak")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
