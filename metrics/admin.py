from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from metrics.formatting import percent
from metrics.models import (
    DataSource,
    Gate,
    GateChange,
    GateMetric,
    Indicator,
    Metric,
    Release,
    Replay,
    TrainedModel,
)


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin[Metric]):
    list_display = ["name", "category", "owner", "bad_direction", "created_at", "data_version"]
    list_filter = ["category", "bad_direction"]
    search_fields = ["name", "category", "owner__username"]
    raw_id_fields = ["owner"]


@admin.register(Indicator)
class IndicatorAdmin(admin.ModelAdmin[Indicator]):
    # Saving and deleting go through Indicator.save/delete and IndicatorQuerySet.delete,
    # which mark the metric's models as stale.
    list_display = ["metric", "value", "decision", "time", "created_by", "created_at"]
    list_filter = ["decision", ("metric", admin.RelatedOnlyFieldListFilter)]
    date_hierarchy = "created_at"
    search_fields = ["metric__name"]
    list_select_related = ["metric", "created_by"]
    raw_id_fields = ["metric", "created_by"]


@admin.register(TrainedModel)
class TrainedModelAdmin(admin.ModelAdmin[TrainedModel]):
    """Read-only: a model's provenance is what training recorded. Staff may delete a model."""

    list_display = [
        "metric",
        "version",
        "accuracy_percent",
        "n_indicators",
        "sklearn_version",
        "trained_by",
        "trained_at",
    ]
    list_select_related = ["metric", "trained_by"]
    search_fields = ["metric__name"]
    # The fitted model's bytes are left out: binary, and protected by their hash and signature.
    fields = readonly_fields = (
        "metric",
        "version",
        "accuracy_percent",
        "n_indicators",
        "n_trained_on",
        "n_rollback",
        "n_rollout",
        "max_depth",
        "n_leaves",
        "data_version",
        "sklearn_version",
        "artifact_sha256",
        "signing_key_id",
        "refused_because",
        "trained_by",
        "trained_at",
    )

    @admin.display(description=_("held-out accuracy"), ordering="accuracy")
    def accuracy_percent(self, model: TrainedModel) -> str:
        return percent(model.accuracy)

    def get_queryset(self, request: HttpRequest) -> QuerySet[TrainedModel]:
        # No page shows the pickled model; do not load megabytes of it per row.
        return super().get_queryset(request).defer("artifact")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TrainedModel | None = None) -> bool:
        return False


class GateMetricInline(admin.TabularInline[GateMetric, Gate]):
    model = GateMetric
    extra = 3
    raw_id_fields = ["metric"]


@admin.register(Gate)
class GateAdmin(admin.ModelAdmin[Gate]):
    list_display = ["name", "owner", "pass_score", "marginal_score", "missing_after_minutes", "dry_run", "created_at"]
    list_filter = ["dry_run"]
    raw_id_fields = ["owner"]
    inlines = [GateMetricInline]


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin[Release]):
    """A release's outcome is shown, not edited: it is recorded through `Release.record_outcome`
    (the page, the API, the CLI, the webhooks), which logs it, labels the observations and
    announces it; an edit here would do none of that."""

    list_display = ["name", "version", "gate", "started_at", "created_by", "outcome"]
    list_select_related = ["gate", "created_by"]
    raw_id_fields = ["gate", "created_by"]
    readonly_fields = [
        "outcome",
        "outcome_at",
        "outcome_by",
        "outcome_via",
        "outcome_note",
        "gate_said",
        "gate_said_at_minute",
        "announced_state",
    ]


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Shown, never edited here: what a replay found, and what applying one changed, are kept as they were."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Replay)
class ReplayAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "gate", "requested_by", "created_at", "finished_at", "applied_at"]
    list_select_related = ["gate", "requested_by"]
    fields = readonly_fields = (
        "gate",
        "requested_by",
        "created_at",
        "since",
        "until",
        "compared_with",
        "rules",
        "changes",
        "report",
        "finished_at",
        "applied_at",
    )


@admin.register(GateChange)
class GateChangeAdmin(ReadOnlyAdmin):
    list_display = ["gate", "changed_by", "changed_at", "replay"]
    list_select_related = ["gate", "changed_by", "replay__gate"]
    fields = readonly_fields = ("gate", "replay", "changed_by", "changed_at", "before", "after")


class DataSourceAdminForm(forms.ModelForm[DataSource]):
    """The admin's form of a source, which has no secret field: what the source's rules say of
    its secret (needed for its credentials, or again for a new URL) is the form's own error."""

    def add_error(self, field: str | None, error: Any) -> None:
        if field is None and isinstance(error, ValidationError) and "secret" in getattr(error, "error_dict", {}):
            error.error_dict.setdefault(NON_FIELD_ERRORS, []).extend(error.error_dict.pop("secret"))
        super().add_error(field, error)


@admin.register(DataSource)
class DataSourceAdmin(admin.ModelAdmin[DataSource]):
    """A source's settings; its secret is never shown, not even encrypted (`secret` is not
    editable, so no form of the admin has it): its owner enters it again on its page."""

    form = DataSourceAdminForm

    list_display = ["name", "owner", "kind", "location", "auth", "has_secret", "checked_at", "check_result"]
    list_filter = ["kind", "auth", "check_result"]
    list_select_related = ["owner"]
    search_fields = ["name", "owner__username", "url", "region"]
    raw_id_fields = ["owner"]
    readonly_fields = ["has_secret", "created_at", "checked_at", "check_result", "check_detail"]

    @admin.display(description=_("secret stored"), boolean=True)
    def has_secret(self, source: DataSource) -> bool:
        return source.has_secret
