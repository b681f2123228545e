"""History fills: past releases sent as a file, read from a metric's data source."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.fields import get_error_detail

from api.serializers.base import WholeNumberField
from metrics.models.indicator import read_upload
from metrics.models.metric import DEFAULT_FILL_MINUTES, MAX_FILL_MINUTES


class FillInputSerializer(serializers.Serializer[Any]):
    """A fill file and the minutes of each release to read, checked as the metric's page checks them."""

    file = serializers.FileField(
        help_text="The past releases, as CSV with a header: started_at (ISO 8601 with its time zone), decision "
        "(rollout, rollback, 0 or 1) and optionally key (what {{ key }} stands for in the metric's query).",
        error_messages={"required": forms.Field.default_error_messages["required"]},  # the page's words
    )
    minutes = WholeNumberField(
        min_value=1,
        max_value=MAX_FILL_MINUTES,
        default=DEFAULT_FILL_MINUTES,
        required=False,
        help_text="How many minutes after each release's start to read: each minute becomes an indicator.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            return {**attrs, "upload": read_upload(attrs["file"])}
        except DjangoValidationError as error:
            raise serializers.ValidationError({"file": get_error_detail(error)}) from None


class FilledFromSerializer(serializers.Serializer[Any]):
    # A field named as the answer names it ("source"), over DRF's attribute of that name.
    source = serializers.CharField(  # type: ignore[assignment]
        allow_null=True, help_text="The data source's name; null unless it is the caller's (or it was deleted)."
    )
    minutes = serializers.IntegerField(help_text="How many minutes of each release were read.")
