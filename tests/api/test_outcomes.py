"""A release's outcome through the API: by the release's id or its key, recorded once (the same
outcome again answers unchanged), changed by the gate's owner alone, refused to anyone else, to a
read-only token and for bad input with nothing changed; an unknown key starts no release. The
release's JSON says it, with its labels, whose import batch the imports' endpoints read and undo."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import TokenScope
from metrics.models import Metric, OutcomeChange, Release
from tests.api.test_gates import ROLLBACK, ROLLOUT, bearer, observe, start_release
from tests.outcomes.test_record_outcome import outcome_state
from tests.refusals import changes_nothing


def send(client: Client, url: str, body: Any, headers: dict[str, str]):
    return client.post(url, body, content_type="application/json", headers=headers)


def outcome_url(release: dict) -> str:
    return reverse("api:release_outcome", args=[release["id"]])


@pytest.fixture
def rolled_back(client: Client, owner: User, checkout: dict[str, Metric], gate: dict) -> dict:
    """A release of the owner's gate, keyed "checkout-7f9c", whose pipeline was answered rollback."""
    headers = bearer(owner)
    release = start_release(client, headers, gate, key="checkout-7f9c")
    observe(client, headers, release, checkout["error rate"], ROLLBACK)
    answered = observe(client, headers, release, checkout["p95 latency"], ROLLBACK)
    assert answered.json()["verdict"] == "rollback"
    return release


def test_the_owner_records_an_outcome_and_the_release_says_it_with_its_labels(
    client: Client, owner: User, rolled_back: dict
) -> None:
    response = send(client, outcome_url(rolled_back), {"outcome": "rollback", "note": "p99 doubled"}, bearer(owner))

    assert response.status_code == 200, response.json()
    recorded = response.json()
    batch = Release.objects.get(pk=rolled_back["id"]).outcome_labels
    assert batch is not None
    assert recorded == {
        "outcome": "rollback",
        "recorded_at": recorded["recorded_at"],
        "recorded_by": "owner",
        "via": "api",
        "note": "p99 doubled",
        "gate_said": "rollback",
        "gate_said_at_minute": recorded["gate_said_at_minute"],
        "gate_was": "right",
        "summary": recorded["summary"],
        "labels": {"id": batch.pk, "url": f"http://testserver/api/v1/imports/{batch.pk}/", "rows": 2, "undone": False},
        "changed": True,
        "release": rolled_back["url"],
    }
    assert recorded["summary"].endswith("; the team rolled back: the gate was right.")
    shown = client.get(rolled_back["url"], headers=bearer(owner)).json()["outcome"]
    assert shown == {name: value for name, value in recorded.items() if name not in ("changed", "release")}


def test_a_release_without_an_outcome_says_null(client: Client, owner: User, rolled_back: dict) -> None:
    assert client.get(rolled_back["url"], headers=bearer(owner)).json()["outcome"] is None


def test_the_same_outcome_again_answers_unchanged_and_changes_nothing(
    client: Client, owner: User, rolled_back: dict
) -> None:
    first = send(client, outcome_url(rolled_back), {"outcome": "rollback"}, bearer(owner)).json()

    with changes_nothing(outcome_state):
        again = send(client, outcome_url(rolled_back), {"outcome": "rollback", "note": "again"}, bearer(owner))

    assert again.status_code == 200
    assert again.json() == {**first, "changed": False}


def test_an_outcome_is_recorded_by_the_releases_key(client: Client, owner: User, gate: dict, rolled_back: dict) -> None:
    url = reverse("api:key_outcome", args=[gate["id"], "checkout-7f9c"])

    response = send(client, url, {"outcome": "rollout"}, bearer(owner))

    assert response.status_code == 200
    assert (response.json()["outcome"], response.json()["gate_was"]) == ("rollout", "wrong")
    assert Release.objects.get(pk=rolled_back["id"]).outcome == "rollout"


def test_an_outcome_for_a_key_the_gate_has_no_release_for_is_a_404_and_starts_none(
    client: Client, owner: User, gate: dict, rolled_back: dict
) -> None:
    url = reverse("api:key_outcome", args=[gate["id"], "no-such-deploy"])

    with changes_nothing(outcome_state):
        response = send(client, url, {"outcome": "rollback"}, bearer(owner))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_an_outcome_for_an_unknown_release_is_a_404(client: Client, owner: User, db: None) -> None:
    response = send(client, reverse("api:release_outcome", args=[999]), {"outcome": "rollback"}, bearer(owner))

    assert response.status_code == 404


@pytest.mark.parametrize("by", ["id", "key"])
def test_another_account_cannot_record_an_outcome_and_nothing_changes(
    client: Client, stranger: User, gate: dict, rolled_back: dict, by: str
) -> None:
    url = outcome_url(rolled_back) if by == "id" else reverse("api:key_outcome", args=[gate["id"], "checkout-7f9c"])

    with changes_nothing(outcome_state):
        response = send(client, url, {"outcome": "rollout"}, bearer(stranger))

    assert response.status_code == 403
    assert response.json()["detail"] == "Only the gate's owner, or whoever opened this release, may record its outcome."


def test_a_read_only_token_cannot_record_an_outcome(client: Client, owner: User, rolled_back: dict) -> None:
    with changes_nothing(outcome_state):
        response = send(client, outcome_url(rolled_back), {"outcome": "rollback"}, bearer(owner, TokenScope.READ))

    assert response.status_code == 403
    assert response.json()["code"] == "read_only_token"


def test_whoever_opened_the_release_records_its_outcome_but_only_the_owner_changes_it(
    client: Client, owner: User, contributor: User, rolled_back: dict
) -> None:
    Release.objects.filter(pk=rolled_back["id"]).update(created_by=contributor)  # opened by a teammate
    assert send(client, outcome_url(rolled_back), {"outcome": "rollback"}, bearer(contributor)).status_code == 200

    with changes_nothing(outcome_state):
        refused = send(client, outcome_url(rolled_back), {"outcome": "rollout"}, bearer(contributor))
    changed = send(client, outcome_url(rolled_back), {"outcome": "rollout", "note": "load test"}, bearer(owner))

    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert refused.json()["detail"] == (
        "The outcome of this release is already recorded (rolled back): only the owner of the gate “Checkout” "
        "may change it."
    )
    assert changed.status_code == 200
    assert (changed.json()["outcome"], changed.json()["changed"], changed.json()["labels"]["rows"]) == (
        "rollout",
        True,
        2,
    )
    log = OutcomeChange.objects.filter(release_id=rolled_back["id"]).values_list("outcome", "recorded_by__username")
    assert list(log) == [("rollback", "contributor"), ("rollout", "owner")]


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "outcome", "required"),
        ({"outcome": "promoted"}, "outcome", "invalid_choice"),
        ({"outcome": 1}, "outcome", "type"),
        ({"outcome": "rollback", "note": "x" * 501}, "note", "max_length"),
        ({"outcome": "rollback", "decided": "rollback"}, "decided", "unknown"),
    ],
)
def test_a_bad_outcome_is_refused_and_nothing_changes(
    client: Client, owner: User, rolled_back: dict, body: dict, field: str, code: str
) -> None:
    with changes_nothing(outcome_state):
        response = send(client, outcome_url(rolled_back), body, bearer(owner))

    assert response.status_code == 400
    assert [(error["field"], error["code"]) for error in response.json()["errors"]] == [(field, code)]


def test_a_releases_labels_are_read_and_undone_as_an_import(client: Client, owner: User, rolled_back: dict) -> None:
    labels = send(client, outcome_url(rolled_back), {"outcome": "rollback"}, bearer(owner)).json()["labels"]

    read = client.get(labels["url"], headers=bearer(owner))
    undone = client.post(reverse("api:undo_import", args=[labels["id"]]), headers=bearer(owner))

    assert read.status_code == 200
    assert (read.json()["metric"], read.json()["release"], read.json()["rows"]) == (None, rolled_back["id"], 2)
    assert undone.status_code == 200
    assert undone.json()["deleted"] == 2
    outcome = client.get(rolled_back["url"], headers=bearer(owner)).json()["outcome"]
    assert (outcome["outcome"], outcome["labels"]["undone"]) == ("rollback", True)


def test_another_account_reads_a_releases_labels_but_cannot_undo_them(
    client: Client, owner: User, stranger: User, rolled_back: dict
) -> None:
    labels = send(client, outcome_url(rolled_back), {"outcome": "rollback"}, bearer(owner)).json()["labels"]

    assert client.get(labels["url"], headers=bearer(stranger)).status_code == 200
    with changes_nothing(outcome_state):
        response = client.post(reverse("api:undo_import", args=[labels["id"]]), headers=bearer(stranger))

    assert response.status_code == 403
    assert "may undo the labels it gave" in response.json()["detail"]


def test_each_outcome_labels_its_own_releases_observations_only(
    client: Client, owner: User, checkout, gate: dict
) -> None:
    headers = bearer(owner)
    first, second = start_release(client, headers, gate), start_release(client, headers, gate, version="v43")
    observe(client, headers, first, checkout["error rate"], ROLLBACK)
    for metric in ("error rate", "p95 latency", "cpu"):
        observe(client, headers, second, checkout[metric], ROLLOUT)

    one = send(client, outcome_url(first), {"outcome": "rollback"}, headers).json()
    other = send(client, outcome_url(second), {"outcome": "rollout"}, headers).json()

    assert (one["labels"]["rows"], other["labels"]["rows"]) == (1, 3)
    assert other["gate_was"] == "right"


def test_a_gates_releases_are_listed_with_their_outcomes_in_as_many_queries_however_many(
    client: Client, owner: User, checkout, gate: dict
) -> None:
    headers = bearer(owner)
    url = reverse("api:gate_releases", args=[gate["id"]])

    def recorded_release(version: str) -> None:
        release = start_release(client, headers, gate, version=version)
        observe(client, headers, release, checkout["error rate"], ROLLBACK)
        assert send(client, outcome_url(release), {"outcome": "rollback"}, headers).status_code == 200

    def queries_of_the_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            listed = client.get(url, headers=headers)
        assert listed.status_code == 200
        assert all(release["outcome"]["labels"]["rows"] == 1 for release in listed.json()["results"])
        return len(captured)

    recorded_release("v1")
    one = queries_of_the_list()
    for version in ("v2", "v3", "v4"):
        recorded_release(version)

    assert queries_of_the_list() == one
