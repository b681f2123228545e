"""Shared by every view of the API: the caller, the JSON body, validation and the API's own errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from metrics.access import get_job, get_metric
from metrics.exceptions import QueueUnavailable
from metrics.models import Failure, Job, Metric, Release, ReleaseVerdict
from metrics.prometheus import VERDICT_ANSWER_SECONDS


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


# Errors about what is already stored, not about what was sent: 409, not 400.
CONFLICTS = {"duplicate"}


def checked(serializer: serializers.BaseSerializer[Any]) -> Any:
    """The serializer's validated data (the model's rules: `ValidatedModelSerializer`), or a
    400 listing each field's errors with their codes; a 409 when they are all conflicts."""
    if serializer.is_valid():
        return serializer.validated_data
    errors: dict[str, Any] = dict(serializer.errors)  # a dict: one object was sent
    found = [error for field_errors in errors.values() if isinstance(field_errors, list) for error in field_errors]
    if found and all(error.code in CONFLICTS for error in found):
        raise Conflict(str(found[0]), code=found[0].code)
    raise exceptions.ValidationError(errors)


def caller(request: Request) -> User:
    """The signed-in user (the permission class let no one else in)."""
    if not isinstance(request.user, User):
        raise exceptions.NotAuthenticated()
    return request.user


def release_verdict(release: Release, request: Request) -> ReleaseVerdict:
    """`Release.answer` to the caller, its time counted (`mbreak_verdict_answer_seconds` on /metrics)."""
    with VERDICT_ANSWER_SECONDS.time():
        return release.answer(caller(request))


def request_body(request: Request, *, optional: bool = False) -> dict[str, Any]:
    """The JSON object sent; `optional`: no body at all stands for an empty object."""
    if optional and request.stream is None:
        return {}
    if not isinstance(request.data, dict):
        raise exceptions.ParseError(_("Send a JSON object."))
    return request.data


def sent_job(user: User, job_id: int) -> Job:
    """The job as sent to the queue; `QueueUnavailable` if it could not be sent: a pipeline
    retries a 503, not a 202 of a failed job."""
    job = get_job(user, job_id)
    if job.failure == Failure.UNQUEUED:
        raise QueueUnavailable(job)
    return job


def answer(
    serializer_class: type[serializers.BaseSerializer[Any]],
    instance: Any,
    request: Request,
    *,
    status_code: int = status.HTTP_200_OK,
    **context: Any,
) -> Response:
    """The instance as the serializer words it for this caller (its links are absolute)."""
    return Response(serializer_class(instance, context={"request": request, **context}).data, status=status_code)


def located(response: Response) -> Response:
    """The answer to a POST that made (201) or queued (202) something: with its own URL in `Location`."""
    response["Location"] = response.data["url"]
    return response


# A view under `metrics/<metric_id>/`: the metric, read through the one access helper (404/403).
# A comment, not a docstring: drf-spectacular would make a docstring the description of every
# operation that has none of its own.
class UnderMetric(APIView):
    def metric(self) -> Metric:
        return get_metric(self.request.user, self.kwargs["metric_id"])


# One object the caller may see, read through its access helper (404/403) and worded by
# `serializer_class` (which the schema shows as the answer). A comment, not a docstring: the
# subclass's docstring describes its operation.
class ShowOne(APIView):
    serializer_class: type[serializers.BaseSerializer[Any]]
    fetch: Callable[[User | AnonymousUser, int], Any]
    url_kwarg: str

    def get(self, request: Request, **kwargs: int) -> Response:
        return answer(self.serializer_class, self.fetch(request.user, kwargs[self.url_kwarg]), request)
