from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from predictor.models import TrainedModel


@admin.register(TrainedModel)
class TrainedModelAdmin(admin.ModelAdmin):
    list_display = ["metric", "version", "accuracy", "n_indicators", "sklearn_version", "trained_by", "trained_at"]
    list_select_related = ["metric", "trained_by"]
    search_fields = ["metric__name"]
    raw_id_fields = ["metric", "trained_by"]
    # The fitted model is binary and its hash protects it: it is not edited by hand.
    exclude = ["artifact"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TrainedModel]:
        # The list never shows the pickled model; do not load megabytes of it per row.
        return super().get_queryset(request).defer("artifact")

    readonly_fields = [
        "artifact_sha256",
        "sklearn_version",
        "accuracy",
        "n_indicators",
        "n_trained_on",
        "n_rollback",
        "n_rollout",
    ]
