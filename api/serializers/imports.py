"""Imports: the CSV files uploaded to a metric."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.base import Link, UtcDateTimeField
from metrics.csv_io import DELIMITERS, DETECT
from metrics.models import (
    ImportBatch,
)

JOB_LINK = (
    "Its import job (the latest, for a file sent again after a failure): its status and errors; "
    "null for a file imported from the command line."
)


class ImportSerializer(serializers.ModelSerializer[ImportBatch]):
    metric = serializers.IntegerField(source="metric_id", read_only=True)
    file = serializers.CharField(source="file_name", read_only=True)
    uploaded_by = serializers.CharField(source="uploaded_by.username", default=None, read_only=True, allow_null=True)
    uploaded_at = UtcDateTimeField(source="created_at", read_only=True)
    undone_at = UtcDateTimeField(read_only=True, allow_null=True)
    job = serializers.SerializerMethodField()
    url = Link("api:import")

    class Meta:
        model = ImportBatch
        fields = ["id", "metric", "file", "size", "rows", "uploaded_by", "uploaded_at", "undone_at", "job", "url"]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True, "description": JOB_LINK})
    def get_job(self, batch: ImportBatch) -> str | None:
        job_id = getattr(batch, "job_id", None)
        if job_id is None:
            return None
        return str(self.context["request"].build_absolute_uri(reverse("api:job", args=[job_id])))


class UndoneImportSerializer(ImportSerializer):
    deleted = serializers.SerializerMethodField(help_text="How many indicators the undo deleted.")

    class Meta(ImportSerializer.Meta):
        fields = [*ImportSerializer.Meta.fields, "deleted"]
        read_only_fields = fields

    def get_deleted(self, batch: ImportBatch) -> int:
        return int(self.context["deleted"])


class RowErrorSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField(help_text="The file's line, from 1 (the header is line 1).")
    column = serializers.CharField(allow_null=True, help_text="The column at fault; null when the whole line is.")
    reason = serializers.CharField()


class FileErrorsSerializer(serializers.Serializer[Any]):
    message = serializers.CharField()
    rows = RowErrorSerializer(many=True, help_text="The first errors, line by line.")
    total = serializers.IntegerField(help_text="How many errors the file has in all.")


class ImportInputSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="The CSV file: value, decision, time (minutes), with a header line.")
    delimiter = serializers.ChoiceField(
        choices=[DETECT, *DELIMITERS], default=DETECT, required=False, help_text="How the file's fields are separated."
    )
    import_again = serializers.BooleanField(
        default=False, required=False, help_text="Import a file already imported into this metric once more."
    )
