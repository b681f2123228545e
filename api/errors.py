"""Errors as RFC 9457 problem details: a machine-readable `code` and a human `detail`."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from metrics.exceptions import DomainError, DuplicateFile


class TooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request is too large."
    default_code = "too_large"


class Refused(exceptions.APIException):
    """A refusal of the domain (`metrics.exceptions`), as DRF answers it."""

    wait: int | None = None  # seconds: DRF's handler sends it as Retry-After


# How a program acts on a refusal, where the API's way differs from the page's.
API_HINTS = {DuplicateFile: gettext_lazy("Send import_again=true to import it twice.")}


def refusal(exc: DomainError) -> exceptions.APIException:
    """The API's answer to a refusal of the domain: its status and code, its message as the detail."""
    if exc.status == HTTPStatus.NOT_FOUND:  # as any other 404 of the API: it says no more
        return exceptions.NotFound()
    detail = " ".join([str(exc), *(str(hint) for kind, hint in API_HINTS.items() if isinstance(exc, kind))])
    if exc.field is not None:  # about one field of the request: a field error, as a form's
        return exceptions.ValidationError({exc.field: [exceptions.ErrorDetail(detail, exc.code)]})
    answer = Refused(detail, exc.code)
    answer.status_code, answer.wait = exc.status, exc.retry_after
    return answer


def as_api_exception(exc: Exception) -> Exception:
    """DRF's exception for one raised below the API (others are left as they are)."""
    if isinstance(exc, DomainError):
        return refusal(exc)
    # The access helpers raise Django's exceptions, with the same messages as the pages.
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, RequestDataTooBig):
        return TooLarge(_too_large())
    if isinstance(exc, SuspiciousOperation):  # too many fields, a bad multipart boundary...
        return exceptions.ParseError(str(exc))
    return exc


def problem_details(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = as_api_exception(exc)
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


WHOLE = ("non_field_errors", "__all__")


def _field_errors(details: Any, prefix: str = "") -> list[dict[str, str]]:
    """[{"field", "code", "message"}], flattened; "field" is empty for errors of the whole request."""
    if isinstance(details, list):
        return [error for item in details for error in _field_errors(item, prefix)]
    if isinstance(details, dict) and "message" in details and "code" in details:
        return [{"field": prefix, "code": str(details["code"]), "message": str(details["message"])}]
    if isinstance(details, dict):
        # An error of a whole object (DRF's "non_field_errors", Django's "__all__") is the
        # object's: "metrics.0", or "" for the request's.
        return [
            error
            for key, value in details.items()
            for error in _field_errors(value, prefix if key in WHOLE else f"{prefix}.{key}" if prefix else str(key))
        ]
    return [{"field": prefix, "code": "invalid", "message": str(details)}]


def _too_large() -> str:
    return _("The request is too large: send at most %(size)s bytes.") % {
        "size": settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    }


# Django's own error views, for what goes wrong outside a view of the API (a middleware, a
# body too large to read before the view): under /api/ a problem, like every API error.


def _api_problem(request: HttpRequest, status: int, code: str, detail: str) -> HttpResponse | None:
    if not request.path.startswith("/api/"):
        return None
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "code": code, "detail": detail}
    return JsonResponse(body, status=status, content_type="application/problem+json")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        problem = _api_problem(request, 413, "too_large", _too_large())
    else:
        problem = _api_problem(request, 400, "bad_request", str(exception) or _("The request is not valid."))
    return problem or defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    detail = _("Something went wrong on the server; it has been logged. Try again, or tell the team.")
    return _api_problem(request, 500, "server_error", detail) or defaults.server_error(request)
