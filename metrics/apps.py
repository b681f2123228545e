from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = _("Metrics")

    def ready(self) -> None:
        # `Job` sends its task by name (models never import the tasks that call them). Registered in
        # every process, not only in workers, the task is found where Celery runs tasks eagerly (the tests,
        # CELERY_TASK_ALWAYS_EAGER) instead of being sent to a broker that no worker reads.
        from metrics import tasks  # noqa: F401
