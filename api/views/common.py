"""Shared by every view of the API: the caller, the JSON body, form validation and the API's own errors."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.request import Request

from api.strict import type_errors


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


# Form errors about what is already stored, not about what was sent: 409, not 400.
CONFLICTS = {"duplicate"}  # a duplicate file is found when the import is queued


def checked(form: forms.BaseForm, *, json_body: bool = True) -> dict[str, Any]:
    """The form's cleaned data, or a 400 listing each field's errors with their codes. A form
    filled from a JSON body first has each value of its field's JSON type."""
    if json_body and (wrong_types := type_errors(form.fields, form.data)):
        raise exceptions.ValidationError(wrong_types)
    if not form.is_valid():
        found = [error for field_errors in form.errors.get_json_data().values() for error in field_errors]
        if all(error["code"] in CONFLICTS for error in found):
            raise Conflict(found[0]["message"], code=found[0]["code"])
        raise exceptions.ValidationError(
            {
                field: [exceptions.ErrorDetail(error["message"], error["code"] or "invalid") for error in errors]
                for field, errors in form.errors.get_json_data().items()
            }
        )
    return form.cleaned_data


def caller(request: Request) -> User:
    """The signed-in user (the permission class let no one else in)."""
    if not isinstance(request.user, User):
        raise exceptions.NotAuthenticated()
    return request.user


def request_body(request: Request, *, optional: bool = False) -> dict[str, Any]:
    """The JSON object sent; `optional`: no body at all stands for an empty object."""
    if optional and request.stream is None:
        return {}
    if not isinstance(request.data, dict):
        raise exceptions.ParseError(_("Send a JSON object."))
    return request.data


class QueueUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unqueued"
    wait = 30  # seconds: DRF's handler sends it as Retry-After
