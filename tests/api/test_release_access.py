"""Who may change a release's verdict: the gate's owner (signed in, or with any token they
made); anyone else reads it, is refused the rest, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.models import TokenScope
from metrics.models import Answer, Metric, Observation, Release, Verdict
from tests.api.test_gates import ROLLBACK, ROLLOUT, bearer, make_gate, observe, start_release, trained
from tests.refusals import changes_nothing


def database_state() -> dict[str, list[tuple[Any, ...]]]:
    """Everything a release's verdict rests on, or that asking for it keeps."""
    return {
        "releases": list(Release.objects.order_by("pk").values_list("pk", "gate_id", "name", "version", "created_by")),
        "observations": list(Observation.objects.order_by("pk").values_list("pk", "release_id", "metric_id")),
        "verdicts": list(Verdict.objects.order_by("pk").values_list("pk", "metric_id", "state", "asked_by")),
        "answers": list(Answer.objects.order_by("pk").values_list("pk", "release_id", "state", "asked_by")),
    }


@pytest.fixture
def checkout(owner: User) -> dict[str, Metric]:
    return {name: trained(owner, name) for name in ("error rate", "p95 latency", "cpu")}


@pytest.fixture
def rolling_out(client: Client, owner: User, checkout: dict[str, Metric]) -> dict:
    """A release of the owner's gate that its pipeline has observed, and that rolls out."""
    headers = bearer(owner)
    release = start_release(client, headers, make_gate(client, headers, checkout))
    observe(client, headers, release, checkout["error rate"], ROLLOUT)
    observe(client, headers, release, checkout["p95 latency"], ROLLOUT)
    assert client.get(release["verdict_url"], headers=headers).json()["verdict"] == "rollout"
    return release


def test_another_accounts_write_token_cannot_push_an_observation(
    client: Client, owner: User, stranger: User, checkout, rolling_out: dict
) -> None:
    with changes_nothing(database_state):
        response = observe(client, bearer(stranger), rolling_out, checkout["error rate"], ROLLBACK)

    assert response.status_code == 403
    assert response.json()["detail"] == "Only the gate's owner may push observations to its releases."
    assert client.get(rolling_out["verdict_url"], headers=bearer(owner)).json()["verdict"] == "rollout"


def test_another_account_signed_in_cannot_push_an_observation(
    client: Client, stranger: User, checkout, rolling_out: dict
) -> None:
    client.force_login(stranger)
    with changes_nothing(database_state):
        response = observe(client, {}, rolling_out, checkout["error rate"], ROLLBACK)

    assert response.status_code == 403


def test_another_accounts_write_token_cannot_start_a_release_on_the_gate(
    client: Client, stranger: User, rolling_out: dict
) -> None:
    url = reverse("api:gate_releases", args=[Release.objects.get().gate_id])
    before = database_state()

    refused = [
        client.post(url, {"name": "hijack"}, content_type="application/json", headers=bearer(stranger)),
        client.post(url, {"no": "such field"}, content_type="application/json", headers=bearer(stranger)),
    ]

    assert [response.status_code for response in refused] == [403, 403]  # refused before the body is read
    assert refused[0].json()["detail"] == "Only the gate's owner may start its releases."
    assert database_state() == before


def test_any_token_the_owner_made_starts_releases_and_observes(client: Client, owner: User, checkout) -> None:
    gate = make_gate(client, bearer(owner), checkout)

    release = start_release(client, bearer(owner), gate)
    pushed = observe(client, bearer(owner), release, checkout["error rate"], ROLLBACK)

    assert pushed.status_code == 201
    assert pushed.json()["verdict"] == "rollback"
    assert Release.objects.get().created_by == owner


def test_another_account_reads_the_release_and_its_verdict_without_adding_to_its_history(
    client: Client, owner: User, stranger: User, rolling_out: dict
) -> None:
    before = database_state()
    headers = bearer(stranger, TokenScope.READ)

    verdict = client.get(rolling_out["verdict_url"], headers=headers)
    release = client.get(rolling_out["url"], headers=headers)

    assert verdict.status_code == 200
    assert verdict.json()["verdict"] == "rollout"
    assert release.status_code == 200
    assert release.json()["id"] == rolling_out["id"]
    assert database_state() == before  # the release page's history is its pipeline's asks only
    client.get(rolling_out["verdict_url"], headers=bearer(owner))
    assert Answer.objects.count() == len(before["answers"]) + 1


def test_another_account_sees_the_release_page_and_changes_nothing(
    client: Client, stranger: User, rolling_out: dict
) -> None:
    before = database_state()
    client.force_login(stranger)

    page = client.get(rolling_out["web_url"])

    assert page.status_code == 200
    assert "Rollout recommended" in page.content.decode()
    assert database_state() == before
