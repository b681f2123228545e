"""Every refusal of the domain reaches an API caller as the problem its exception names (its
status and code), whatever view meets it: no view catches them one by one, so none can forget
one and answer 500."""

from __future__ import annotations

import subprocess
import sys
from http import HTTPStatus
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.exceptions import DomainError
from metrics.models import Metric, Verdict
from tests.api.test_bad_requests import assert_problem, bearer

ROOT = Path(__file__).resolve().parents[2]


def every_refusal(kind: type[DomainError] = DomainError) -> list[type[DomainError]]:
    return [found for sub in kind.__subclasses__() for found in [sub, *every_refusal(sub)]]


def refusal(kind: type[DomainError]) -> DomainError:
    """One of `kind`, made without the objects its constructor words its message from."""
    refused = kind.__new__(kind)
    Exception.__init__(refused, f"Refused for the test ({kind.__name__}).")
    return refused


class RefusedForTheTest(DomainError):
    """A refusal the API has never heard of: it is answered as the others are."""

    code = "refused_for_the_test"
    status = HTTPStatus.UNPROCESSABLE_ENTITY


def test_the_refusals_import_no_model() -> None:
    """Any layer may name a refusal: importing them loads nothing else of the project."""
    loaded = "import sys, metrics.exceptions; print(sorted(m for m in sys.modules if m.startswith(('metrics', 'api'))))"
    found = subprocess.run([sys.executable, "-c", loaded], capture_output=True, text=True, check=True, cwd=ROOT)  # noqa: S603
    assert found.stdout.strip() == "['metrics', 'metrics.exceptions']"


def test_there_are_refusals_to_check() -> None:
    assert len(every_refusal()) >= 8


@pytest.mark.parametrize("kind", every_refusal(), ids=lambda kind: kind.__name__)
def test_every_refusal_names_its_code_and_an_error_status(kind: type[DomainError]) -> None:
    assert isinstance(kind.code, str)
    assert kind.code
    assert isinstance(kind.status, HTTPStatus)
    assert 400 <= kind.status < 600


@pytest.mark.parametrize("kind", every_refusal(), ids=lambda kind: kind.__name__)
def test_a_refusal_met_by_any_api_view_is_answered_with_its_status_and_code(
    client: Client, metric: Metric, owner: User, kind: type[DomainError]
) -> None:
    with mock.patch.object(Metric, "predict", side_effect=refusal(kind)):
        response = client.post(
            reverse("api:metric_verdicts", args=[metric.pk]),
            {"value": 1, "minutes": 2},
            content_type="application/json",
            headers=bearer(owner),
        )

    if kind.status == HTTPStatus.NOT_FOUND:  # as any other 404 of the API
        assert_problem(response, 404, "not_found")
    elif kind.field is not None:  # an error of the field it names, as a form's
        body = assert_problem(response, 400, "invalid")
        assert body["errors"] == [
            {"field": kind.field, "code": kind.code, "message": f"Refused for the test ({kind.__name__})."}
        ]
    else:
        body = assert_problem(response, kind.status, kind.code)
        assert body["detail"].startswith(f"Refused for the test ({kind.__name__}).")
    if kind.retry_after is not None:
        assert response["Retry-After"] == str(kind.retry_after)
    assert not Verdict.objects.exists()
