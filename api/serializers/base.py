"""What every serializer of the API shares: links, UTC times, labels, and running the model's own validation."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.urls import reverse
from django.utils.text import capfirst
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field(OpenApiTypes.URI)
class Link(serializers.Field):  # type: ignore[type-arg]
    """An object's full URL: the named API view's for its id, or its web page's. Without a
    request (a management command, which does not know the server's address): its path."""

    def __init__(self, view_name: str | None = None) -> None:
        self.view_name = view_name
        super().__init__(source="*", read_only=True)

    def to_representation(self, value: Any) -> str:
        path = reverse(self.view_name, args=[value.pk]) if self.view_name else value.get_absolute_url()
        request = self.context.get("request")
        return path if request is None else str(request.build_absolute_uri(path))


class UtcDateTimeField(serializers.DateTimeField):
    """ISO 8601 in UTC, whatever the server's TIME_ZONE."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)


def model_label(model: type[Any], field: str) -> str:
    """The label a ModelSerializer would give the model's field."""
    return str(capfirst(model._meta.get_field(field).verbose_name))
