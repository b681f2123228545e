from django.contrib import admin

from metrics.models import Indicator, Metric


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "owner", "created_at", "data_version"]
    list_filter = ["category"]
    search_fields = ["name", "category", "owner__username"]
    raw_id_fields = ["owner"]


@admin.register(Indicator)
class IndicatorAdmin(admin.ModelAdmin):
    list_display = ["metric", "value", "decision", "time", "created_by", "created_at"]
    list_filter = ["decision"]
    search_fields = ["metric__name"]
    list_select_related = ["metric", "created_by"]
    raw_id_fields = ["metric", "created_by"]
