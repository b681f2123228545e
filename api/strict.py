"""JSON values of the types the schema gives, or a 400 saying which.

DRF's fields read what a browser's form sends, where everything is text:
they would take `false` for 0, `"12"` for 12 and a list for a name (stored as "[None]"). A
JSON body has types; the API holds callers to the schema's.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping
from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from metrics.models.metric import LARGEST_ID

NUMBER_FIELDS = (serializers.FloatField, serializers.IntegerField, serializers.PrimaryKeyRelatedField)
TEXT_FIELDS = (serializers.CharField, serializers.ChoiceField, serializers.DateTimeField)


def _number_error(field: Any, value: Any) -> str | None:
    """Why `value` is not a number `field` can take, or None. JSON numbers have no size
    limit, Python's ints neither; a float or a database id has one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _("Send a number.")
    is_id = isinstance(field, serializers.PrimaryKeyRelatedField)
    whole = is_id or isinstance(field, serializers.IntegerField)
    if isinstance(value, float):
        # An id of 1.5 would be read as 1, and one of 1e400 (infinity, to Python) fail as a
        # server error; 7.0 is 7. Other fields' own checks refuse what they cannot take.
        if not is_id or (value.is_integer() and abs(value) <= LARGEST_ID):
            return None
    elif abs(value) <= (LARGEST_ID if whole else sys.float_info.max):
        return None
    if whole:
        return _("Send a whole number from -%(largest)d to %(largest)d.") % {"largest": LARGEST_ID}
    return _("This number is too large.")


def type_errors(fields: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, list[ErrorDetail]]:
    """The fields of `data` whose value is not of the field's JSON type (number, string,
    boolean), and those it should not have: unknown (a misspelt name would otherwise be
    ignored, and a change asked for not made) or read-only."""
    read_only = [name for name, field in fields.items() if getattr(field, "read_only", False)]
    errors = unknown_fields(fields, data, read_only)
    for name, field in fields.items():
        if name not in data or name in errors:
            continue
        value = data[name]
        if value is None and getattr(field, "allow_null", False):
            continue
        if message := _type_error(field, value):
            errors[name] = [ErrorDetail(message, "type")]
    return errors


def _type_error(field: Any, value: Any) -> str | None:
    """Why `value` is not of the JSON type `field` takes, or None (lists and nested objects
    check their own items)."""
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else _("Send true or false.")
    if isinstance(field, NUMBER_FIELDS):
        # A field that `takes_names` (a metric by id or name) takes a string too.
        takes_name = getattr(field, "takes_names", False) and isinstance(value, str)
        return None if takes_name else _number_error(field, value)
    if isinstance(field, TEXT_FIELDS):
        return None if isinstance(value, str) else _("Send a string.")
    return None


def unknown_fields(
    fields: Collection[str], data: Mapping[str, Any], read_only: Collection[str] = ()
) -> dict[str, list[ErrorDetail]]:
    """The names in `data` that are not among `fields`, or are among its `read_only` ones."""
    errors: dict[str, list[ErrorDetail]] = {}
    for name in data:
        if name not in fields:
            errors[str(name)] = [ErrorDetail(_("Unknown field: this request has no field of that name."), "unknown")]
        elif name in read_only:
            errors[str(name)] = [ErrorDetail(_("Read-only: leave it out of the request."), "read_only")]
    return errors


class StrictTypes:
    """For an input serializer: each field's value of its JSON type, before anything else."""

    fields: Any  # the serializer's

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping) and (errors := type_errors(self.fields, data)):
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]
