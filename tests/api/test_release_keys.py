"""A release by the deployer's own key, unique in its gate: given when the release is started,
or started by the first observation or verdict asked with a new key."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import TokenScope
from metrics.models import Answer, Gate, Metric, Observation, Release, Verdict
from tests.api.test_gates import ROLLBACK, ROLLOUT, bearer, make_gate, start_release, trained
from tests.concurrency import run_concurrently
from tests.refusals import changes_nothing

HASH = "7d9f8c6b5"  # Argo Rollouts' pod-template hash of the canary


def state() -> dict[str, list[tuple[Any, ...]]]:
    return {
        "releases": list(Release.objects.order_by("pk").values_list("pk", "gate_id", "key", "name", "started_at")),
        "observations": list(Observation.objects.order_by("pk").values_list("pk", "release_id")),
        "verdicts": list(Verdict.objects.order_by("pk").values_list("pk")),
        "answers": list(Answer.objects.order_by("pk").values_list("pk", "release_id")),
    }


def verdict_url(gate: dict, key: str) -> str:
    return f"/api/v1/gates/{gate['id']}/keys/{quote(key, safe='')}/verdict"


def observe_by_key(client: Client, headers: dict, gate: dict, key: str, metric: Metric, observation: dict):
    url = f"/api/v1/gates/{gate['id']}/keys/{quote(key, safe='')}/observations/"
    return client.post(url, {"metric": metric.pk, **observation}, content_type="application/json", headers=headers)


def test_a_release_started_with_a_key_is_observed_and_judged_by_it(
    client: Client, owner: User, gate: dict, checkout
) -> None:
    headers = bearer(owner)
    release = start_release(client, headers, gate, key=HASH)

    observe_by_key(client, headers, gate, HASH, checkout["error rate"], ROLLOUT)
    answer = observe_by_key(client, headers, gate, HASH, checkout["p95 latency"], ROLLOUT)

    assert release["key"] == HASH
    assert (answer.status_code, answer.json()["verdict"]) == (201, "rollout")
    assert client.get(verdict_url(gate, HASH), headers=headers).json()["verdict"] == "rollout"
    assert list(Observation.objects.values_list("release_id", flat=True)) == [release["id"], release["id"]]


def test_the_first_observation_of_a_new_key_starts_its_release_now(
    client: Client, owner: User, gate: dict, checkout
) -> None:
    headers = bearer(owner)

    first = observe_by_key(client, headers, gate, HASH, checkout["error rate"], ROLLBACK)
    second = observe_by_key(client, headers, gate, HASH, checkout["p95 latency"], ROLLOUT)

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["verdict"] == "rollback"  # the critical error rate
    release = Release.objects.get()
    assert (release.key, release.name, release.version, release.created_by) == (HASH, HASH, "", owner)
    assert abs((timezone.now() - release.started_at).total_seconds()) < 60


def test_a_key_with_a_slash_and_an_at_sign_is_found_sent_as_is_or_percent_encoded(
    client: Client, owner: User, gate: dict, checkout
) -> None:
    headers = bearer(owner)
    key = "test/podinfo@85d557f47b"  # Flagger's
    observe_by_key(client, headers, gate, key, checkout["error rate"], ROLLOUT)

    encoded = client.get(verdict_url(gate, key), headers=headers)
    as_is = client.get(f"/api/v1/gates/{gate['id']}/keys/{key}/verdict", headers=headers)

    assert (encoded.status_code, as_is.status_code) == (200, 200)
    assert list(Release.objects.values_list("key", flat=True)) == [key]


def test_a_key_already_taken_in_the_gate_is_a_409_and_nothing_is_stored(
    client: Client, owner: User, gate: dict, checkout
) -> None:
    headers = bearer(owner)
    start_release(client, headers, gate, key=HASH)
    other_gate = make_gate(client, headers, checkout, name="Search")
    start_release(client, headers, other_gate, key=HASH)  # another gate: another release

    with changes_nothing(state):
        response = client.post(
            reverse("api:gate_releases", args=[gate["id"]]),
            {"name": "checkout-web", "key": HASH},
            content_type="application/json",
            headers=headers,
        )

    assert (response.status_code, response.json()["code"]) == (409, "duplicate")
    assert response.json()["detail"] == (
        "The gate “Checkout” already has a release with the key “7d9f8c6b5”: send its observations and ask its "
        "verdict by that key, or give this release another key."
    )


@pytest.mark.parametrize("key", [" 7d9f8c6b5", "checkout web", "7d9f\u200b8c6b5", "tab\there", "nul\x00", "k" * 401])
def test_a_key_that_cannot_be_one_is_refused_with_what_a_key_is(
    client: Client, owner: User, gate: dict, checkout, key: str
) -> None:
    headers = bearer(owner)
    with changes_nothing(state):
        started = client.post(
            reverse("api:gate_releases", args=[gate["id"]]),
            {"name": "checkout-web", "key": key},
            content_type="application/json",
            headers=headers,
        )
        observed = observe_by_key(client, headers, gate, key, checkout["error rate"], ROLLOUT)
        asked = client.get(verdict_url(gate, key), headers=headers)

    for response in (started, observed, asked):
        assert response.status_code == 400, response.json()
        [error] = response.json()["errors"]
        assert error["field"] == "key"
    assert "1 to 400 visible characters, with no space" in observed.json()["errors"][0]["message"]


def test_a_refused_observation_of_a_new_key_starts_no_release(client: Client, owner: User, gate: dict) -> None:
    other = trained(owner, "queue depth")  # not one of the gate's metrics

    with changes_nothing(state):
        response = observe_by_key(client, bearer(owner), gate, HASH, other, ROLLOUT)

    assert response.status_code == 400


def test_only_the_gate_owner_with_a_write_token_observes_by_key(
    client: Client, owner: User, stranger: User, gate: dict, checkout
) -> None:
    start_release(client, bearer(owner), gate, key="known")

    with changes_nothing(state):
        answers = [
            observe_by_key(client, bearer(stranger), gate, key, checkout["error rate"], ROLLOUT)
            for key in ("known", HASH)
        ] + [
            observe_by_key(client, bearer(owner, TokenScope.READ), gate, key, checkout["error rate"], ROLLOUT)
            for key in ("known", HASH)
        ]
        anonymous = observe_by_key(client, {}, gate, HASH, checkout["error rate"], ROLLOUT)

    assert [answer.json()["code"] for answer in answers] == ["permission_denied"] * 2 + ["read_only_token"] * 2
    assert anonymous.status_code == 401


def test_asking_the_verdict_of_a_new_key_starts_its_release_waiting(client: Client, owner: User, gate: dict) -> None:
    # Argo Rollouts' first measurement may come before any observation of the canary.
    response = client.get(verdict_url(gate, HASH), headers=bearer(owner))

    body = response.json()
    assert response.status_code == 200
    assert (body["verdict"], body["rule"]) == ("inconclusive", "waiting")
    assert list(Release.objects.values_list("key", "name")) == [(HASH, HASH)]
    assert Answer.objects.count() == 1


def test_a_new_key_asked_by_who_may_not_start_releases_is_a_404_and_starts_nothing(
    client: Client, owner: User, stranger: User, gate: dict
) -> None:
    with changes_nothing(state):
        answers = [
            client.get(verdict_url(gate, HASH), headers=bearer(stranger)),
            client.get(verdict_url(gate, HASH), headers=bearer(owner, TokenScope.READ)),
            client.get(verdict_url(gate, HASH)),
            client.get(f"/api/v1/gates/999999/keys/{HASH}/verdict", headers=bearer(owner)),
        ]

    assert [answer.status_code for answer in answers] == [404, 404, 401, 404]


def test_anyone_signed_in_reads_a_known_keys_verdict_but_only_the_owners_asks_are_kept(
    client: Client, owner: User, stranger: User, gate: dict, checkout
) -> None:
    observe_by_key(client, bearer(owner), gate, HASH, checkout["error rate"], ROLLBACK)

    with changes_nothing(state):
        read = client.get(verdict_url(gate, HASH), headers=bearer(stranger, TokenScope.READ))

    assert (read.status_code, read.json()["verdict"]) == (200, "rollback")


def test_a_release_can_be_given_its_start_with_its_key(client: Client, owner: User, gate: dict, checkout) -> None:
    headers = bearer(owner)
    started = (timezone.now() - timedelta(minutes=45)).isoformat()
    start_release(client, headers, gate, key=HASH, started_at=started)

    observe_by_key(client, headers, gate, HASH, checkout["error rate"], {"value": 900})

    assert 44.9 < Observation.objects.get().verdict.minutes < 46


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent sessions: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_first_calls_at_once_with_a_new_key_start_one_release(owner: User) -> None:
    gate = Gate.objects.create(name="Checkout", owner=owner)
    both_looked = threading.Barrier(2, timeout=10)
    start = Gate.start_release

    def start_once_both_looked(*args: Any, **kwargs: Any) -> Release:
        both_looked.wait()  # each found no release with the key, and starts one
        return start(*args, **kwargs)

    with mock.patch.object(Gate, "start_release", start_once_both_looked):
        found = run_concurrently(lambda: gate.release_by_key(HASH, owner), lambda: gate.release_by_key(HASH, owner))

    assert found[0].pk == found[1].pk
    assert list(Release.objects.values_list("key", flat=True)) == [HASH]


def test_the_release_page_shows_the_deployers_key(client: Client, owner: User, gate: dict) -> None:
    release = start_release(client, bearer(owner), gate, key="test/podinfo@85d557f47b")
    client.force_login(owner)

    page = client.get(release["web_url"]).content.decode()

    assert "The deployer's key: <code>test/podinfo@85d557f47b</code>" in page
