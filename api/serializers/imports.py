"""Imports: the CSV files uploaded to a metric."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty, get_error_detail

from api.serializers.base import ChoiceField, Link, UtcDateTimeField
from api.serializers.fills import FilledFromSerializer
from metrics.csv_io import DELIMITERS, DETECT
from metrics.models import ImportBatch
from metrics.models.indicator import read_upload

JOB_LINK = (
    "Its import job (the latest, for a file sent again after a failure): its status and errors; "
    "null for a file imported from the command line."
)


class ImportSerializer(serializers.ModelSerializer[ImportBatch]):
    metric = serializers.IntegerField(
        source="metric_id", read_only=True, allow_null=True, help_text="Null for a release's labels (see release)."
    )
    release = serializers.IntegerField(
        source="release_id",
        read_only=True,
        allow_null=True,
        help_text="For a release's labels (its observations, labelled with its outcome, in each one's metric): "
        "the release; null for an uploaded file or a history fill.",
    )
    file = serializers.CharField(source="file_name", read_only=True)
    uploaded_by = serializers.CharField(source="uploaded_by.username", default=None, read_only=True, allow_null=True)
    uploaded_at = UtcDateTimeField(source="created_at", read_only=True)
    undone_at = UtcDateTimeField(read_only=True, allow_null=True)
    job = serializers.SerializerMethodField()
    filled_from = serializers.SerializerMethodField()
    url = Link("api:import")

    class Meta:
        model = ImportBatch
        fields = [
            "id",
            "metric",
            "release",
            "file",
            "size",
            "rows",
            "uploaded_by",
            "uploaded_at",
            "undone_at",
            "job",
            "filled_from",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(
        FilledFromSerializer(allow_null=True, help_text="For a history fill: where from; null for an uploaded file.")
    )
    def get_filled_from(self, batch: ImportBatch) -> dict[str, Any] | None:
        if batch.fill_minutes is None:
            return None
        source = batch.source if batch.source_id is not None else None
        mine = source is not None and source.owner_id == self.context["request"].user.pk
        return {"source": source.name if source is not None and mine else None, "minutes": batch.fill_minutes}

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


class FormBooleanField(serializers.BooleanField):
    """A multipart form's true or false: the text "true" or "false", and nothing else."""

    default_empty_html = empty  # not sent: the default

    def to_internal_value(self, data: Any) -> bool:
        if data not in ("true", "false"):
            raise serializers.ValidationError(_("Send true or false."), code="type")
        return bool(data == "true")


class ImportInputSerializer(serializers.Serializer[Any]):
    """A CSV file uploaded, checked as the upload page checks it."""

    file = serializers.FileField(
        help_text="The CSV file: value, decision, time (minutes), with a header line.",
        error_messages={"required": forms.Field.default_error_messages["required"]},  # the page's words
    )
    delimiter = ChoiceField(
        choices=[DETECT, *DELIMITERS], default=DETECT, required=False, help_text="How the file's fields are separated."
    )
    import_again = FormBooleanField(
        default=False, required=False, help_text="Import a file already imported into this metric once more."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            return {**attrs, "upload": read_upload(attrs["file"])}
        except DjangoValidationError as error:
            raise serializers.ValidationError({"file": get_error_detail(error)}) from None
