"""Errors as RFC 9457 problem details: a machine-readable `code` and a human `detail`."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler


def problem_details(exc: Exception, context: dict[str, Any]) -> Response | None:
    # The access helpers raise Django's exceptions, with the same messages as the pages.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None
    status = response.status_code
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    if isinstance(exc, exceptions.ValidationError):
        body["code"] = "invalid"
        body["detail"] = "The request is not valid: see errors."
        body["errors"] = _field_errors(exc.get_full_details())
    elif isinstance(exc, exceptions.APIException):
        details = exc.get_full_details()
        body["code"] = str(details.get("code", exc.default_code)) if isinstance(details, dict) else exc.default_code
        body["detail"] = str(exc.detail)
    response.data = body
    response.content_type = "application/problem+json"
    return response


def _field_errors(details: Any, prefix: str = "") -> list[dict[str, str]]:
    """[{"field", "code", "message"}], flattened; "field" is empty for errors of the whole request."""
    if isinstance(details, list):
        return [error for item in details for error in _field_errors(item, prefix)]
    if isinstance(details, dict) and "message" in details and "code" in details:
        field = "" if prefix in ("", "non_field_errors", "__all__") else prefix
        return [{"field": field, "code": str(details["code"]), "message": str(details["message"])}]
    if isinstance(details, dict):
        return [
            error
            for key, value in details.items()
            for error in _field_errors(value, f"{prefix}.{key}" if prefix else str(key))
        ]
    return [{"field": prefix, "code": "invalid", "message": str(details)}]
