"""History fills: past releases sent as a file, read from a metric's data source."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.fields import get_error_detail

from api.serializers.base import WholeNumberField
from metrics.models.indicator import read_upload
from metrics.models.metric import DEFAULT_FILL_MINUTES, FILL_FROM_RELEASES, MAX_FILL_MINUTES

FROM_FILE = "file"
FILL_FROM = (FROM_FILE, FILL_FROM_RELEASES)


class FillInputSerializer(serializers.Serializer[Any]):
    """A fill file (or `from` the releases recorded here) and the minutes of each release to
    read, checked as the metric's page checks them."""

    file = serializers.FileField(
        required=False,
        help_text="The past releases, as CSV with a header: started_at (ISO 8601 with its time zone), decision "
        "(rollout, rollback, 0 or 1) and optionally key and version (what {{ key }} and {{ version }} stand for in "
        "the metric's query) and name (to tell the release by in errors). Required unless `from` is `releases`.",
    )
    minutes = WholeNumberField(
        min_value=1,
        max_value=MAX_FILL_MINUTES,
        default=DEFAULT_FILL_MINUTES,
        required=False,
        help_text="How many minutes after each release's start to read: each minute becomes an indicator.",
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        # Named as the API names it, a word Python keeps for itself.
        fields["from"] = serializers.ChoiceField(
            choices=FILL_FROM,
            default=FROM_FILE,
            help_text="Where the past releases come from: `file` (the default), or `releases`, those recorded here "
            "with an outcome (of the caller's gates that judge with the metric; left out, those whose observations "
            "their outcome labelled already, and those whose first `minutes` are not over), sent without a file.",
        )
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["from"] == FILL_FROM_RELEASES:
            if "file" in attrs:
                message = _("Leave the file out: the releases recorded here are read.")
                raise serializers.ValidationError({"file": [message]})
            return attrs
        if not attrs.get("file"):
            raise serializers.ValidationError({"file": [forms.Field.default_error_messages["required"]]})
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
