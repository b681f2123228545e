"""What every serializer of the API shares: links, UTC times, labels, and running the model's own validation."""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Mapping
from datetime import UTC
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.text import capfirst
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.settings import api_settings

from api.strict import StrictTypes
from metrics.models import Decision

M = TypeVar("M", bound=models.Model)


@extend_schema_field(OpenApiTypes.URI)
class Link(serializers.Field):  # type: ignore[type-arg]
    """An object's full URL: the named API view's for its id, or its web page's. Without a
    request (a management command, which does not know the server's address): its path."""

    def __init__(self, view_name: str | None = None) -> None:
        self.view_name = view_name
        super().__init__(source="*", read_only=True)

    def to_representation(self, value: Any) -> str:
        path = path_of(self.view_name, value.pk) if self.view_name else value.get_absolute_url()
        return absolute_url(path, self.context.get("request"))


# An id no object has: where it lands in a reversed path is where every id goes.
_ANY_ID = 2**63 - 1


def path_of(view_name: str, pk: int) -> str:
    """`reverse(view_name, args=[pk])`, the path worked out once per view, URLconf and script
    prefix: reversing a verdict's two links was a tenth of the cost of its answer."""
    head, tail = _route_around_id(view_name, get_urlconf(), get_script_prefix())
    return f"{head}{int(pk)}{tail}"


@functools.lru_cache(maxsize=128)
def _route_around_id(view_name: str, urlconf: str | None, script_prefix: str) -> tuple[str, str]:
    head, _, tail = reverse(view_name, args=[_ANY_ID], urlconf=urlconf).partition(str(_ANY_ID))
    return head, tail


def absolute_url(path: str, request: Any) -> str:
    """`path` as a full URL for this request's caller; the path itself without a request."""
    return absolute_urls(request, path)[0]


def absolute_urls(request: Any, *paths: str) -> list[str]:
    """Each of `paths`, which are from the root and already quoted (as `reverse`, `path_of` and
    `get_absolute_url` give them), as a full URL for this request's caller (the paths themselves
    without a request): the request's address is worked out once for them all."""
    if request is None:
        return list(paths)
    origin = str(request.build_absolute_uri("/")).removesuffix("/")
    return [origin + path for path in paths]


class UtcDateTimeField(serializers.DateTimeField):
    """ISO 8601 in UTC, whatever the server's TIME_ZONE."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)


def model_label(model: type[Any], field: str) -> str:
    """The label a ModelSerializer would give the model's field."""
    return str(capfirst(model._meta.get_field(field).verbose_name))


class TextField(serializers.CharField):
    """Text as the page's forms take it: empty (or only spaces) is a missing field, "required"."""

    def run_validation(self, data: Any = empty) -> Any:
        blank = isinstance(data, str) and not (data.strip() if self.trim_whitespace else data)
        if blank and not self.allow_blank:
            self.fail("required")
        return super().run_validation(data)


class NumberField(serializers.FloatField):
    """A finite number, refused in the page's words."""

    default_error_messages = {"invalid": forms.FloatField.default_error_messages["invalid"]}

    def __deepcopy__(self, memo: Mapping[Any, Any]) -> NumberField:
        """The copy each serializer instance makes of its declared fields. DRF's builds the
        field again from its arguments (a fifth of the cost of checking an observation sent for
        a verdict); a declared field is never bound (its copies are) and holds nothing that
        validation changes, so a shallow copy is the same field."""
        return copy.copy(self)

    def to_internal_value(self, data: Any) -> float:
        number = super().to_internal_value(data)
        if not math.isfinite(number):  # 1e400 reads as infinity
            self.fail("invalid")
        return number


class WholeNumberField(serializers.IntegerField):
    """A whole number, refused in the page's words."""

    default_error_messages = {"invalid": forms.IntegerField.default_error_messages["invalid"]}


class ChoiceField(serializers.ChoiceField):
    """One of the choices, refused in the page's words, in the request's language."""

    def to_internal_value(self, data: Any) -> Any:
        if data not in self.choices:
            choice = forms.ChoiceField.default_error_messages["invalid_choice"]
            raise DjangoValidationError(choice, code="invalid_choice", params={"value": data})
        return super().to_internal_value(data)


class DecisionField(ChoiceField):
    """A decision as the API says it: its word ("rollback", "rollout"), stored as `Decision`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Decision.words(), **kwargs)

    def to_internal_value(self, data: Any) -> Decision:  # type: ignore[override]  # stored as a number
        return Decision.from_word(super().to_internal_value(data))

    def to_representation(self, value: Any) -> str:
        return Decision(value).word


def as_drf_errors(error: DjangoValidationError) -> dict[str, Any]:
    """A model's `ValidationError` as DRF says it: each field's errors with their codes, those
    about no one field under `non_field_errors`."""
    detail = serializers.as_serializer_error(error)
    if NON_FIELD_ERRORS in detail:
        detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
    return detail


class ValidatedModelSerializer(StrictTypes, serializers.ModelSerializer[M]):
    """Input checked by the model's own rules, as netbox's serializer of that name does: each
    field by the model field's validators (the same objects, so the OpenAPI schema states the
    limits that run), then the whole object by `full_clean()` (`clean()`, constraints). What it
    gives is what the model would store (names normalised by `clean_fields`)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: TextField,
        models.TextField: TextField,
        models.FloatField: NumberField,
        models.IntegerField: WholeNumberField,
        models.PositiveIntegerField: WholeNumberField,
        models.PositiveSmallIntegerField: WholeNumberField,
    }

    def build_standard_field(self, field_name: str, model_field: Any) -> tuple[type[Any], dict[str, Any]]:
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        # The model's validators, with its messages, rather than DRF's copies of its limits.
        for limit in ("max_length", "min_length", "max_value", "min_value"):
            kwargs.pop(limit, None)
        kept = [validator for validator in kwargs.get("validators", []) if validator not in model_field.validators]
        kwargs["validators"] = [*model_field.validators, *kept]
        if model_field.has_default() and not callable(model_field.default):
            kwargs["default"] = model_field.default  # what is stored when it is not sent, as the schema says
        return field_class, kwargs

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        model: type[models.Model] = self.Meta.model
        concrete = {field.name for field in model._meta.concrete_fields}
        instance = copy.copy(self.instance) if self.instance is not None else model()
        for name, value in attrs.items():
            if name in concrete:
                setattr(instance, name, value)
        checked = {str(field.source) for field in self._writable_fields}
        if getattr(self.root, "partial", False):  # a PATCH: what was not sent is what is stored
            checked &= set(attrs)
        try:
            instance.full_clean(exclude=concrete - checked)
        except DjangoValidationError as error:
            raise serializers.ValidationError(as_drf_errors(error)) from None
        return {name: getattr(instance, name) if name in concrete else value for name, value in attrs.items()}
