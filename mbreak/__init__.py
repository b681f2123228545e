# Load the Celery application with Django, so that tasks enqueued by the web find it.
from mbreak.celery import app as celery_app

__all__ = ["celery_app"]
