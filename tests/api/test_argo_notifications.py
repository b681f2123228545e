"""Argo Rollouts' notifications of how a rollout ended: the release's outcome, through Argo.

The README's `argo-rollouts-notification-configmap` is played as Argo's notification engine plays
it (argoproj/notifications-engine): `$name` in a service's configuration is the secret's value
(`pkg/api/config.go`), a template's webhook body is a Go text/template given `rollout` (the
Rollout as it was when the event was recorded: `utils/record/record.go`), and the webhook service
sends it with its method and its configured headers (`pkg/services/webhook.go`)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import TokenScope
from metrics.models import Gate, ImportBatch, Indicator, Metric, OutcomeChange, Release
from tests.api.test_argo import EXAMPLE_SERVER, HASH, Rollout, readme_yaml, write_token
from tests.api.test_gates import ROLLBACK, ROLLOUT, bearer
from tests.data import rows_of
from tests.refusals import changes_nothing

SERVICE = "makeorbreak"
# A notification's Rollout: status as it was when the event was recorded (stableRS still the
# previous version's on completion; currentPodHash the canary's, as the AnalysisTemplate had it).
SAMPLE_ROLLOUT = {
    "metadata": {"name": "checkout-web", "namespace": "shop"},
    "status": {"currentPodHash": HASH, "stableRS": "5f6b7c8d9"},
}


def url(gate_id: int) -> str:
    return reverse("api:argo_notifications", args=[gate_id])


def outcomes() -> dict[str, list]:
    """Every row recording an outcome could touch, and the releases there are."""
    return {
        "releases": rows_of(Release),
        "outcomes": rows_of(OutcomeChange),
        "batches": rows_of(ImportBatch),
        "indicators": rows_of(Indicator),
    }


@pytest.fixture
def release(owner: User, gate: dict, checkout: dict[str, Metric]) -> Release:
    """The canary's release, started by its key, with observations whose verdict is rollback."""
    started = Gate.objects.get(pk=gate["id"]).release_by_key(HASH, owner)
    started.observe(checkout["error rate"], ROLLBACK["value"], owner, minutes=ROLLBACK["minutes"])
    started.observe(checkout["p95 latency"], ROLLOUT["value"], owner, minutes=ROLLOUT["minutes"])
    return started


def notify(client: Client, gate: dict, headers: dict[str, str], **body: Any):
    return client.post(url(gate["id"]), {"key": HASH, **body}, content_type="application/json", headers=headers)


@pytest.mark.parametrize(
    ("event", "outcome", "gate_was"),
    [("on-rollout-aborted", "rollback", "right"), ("on-rollout-completed", "rollout", "wrong")],
)
def test_a_notification_records_the_outcome_its_event_says_through_argo(
    client: Client, owner: User, gate: dict, release: Release, event: str, outcome: str, gate_was: str
) -> None:
    response = notify(client, gate, bearer(owner), event=event, message="Argo Rollouts ended shop/checkout-web.")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["key"]) == (release.pk, HASH)
    stored = Release.objects.get(pk=release.pk)
    assert (stored.outcome, stored.outcome_via, stored.outcome_by, stored.outcome_note) == (
        outcome,
        "argo",
        owner,
        "Argo Rollouts ended shop/checkout-web.",
    )
    assert stored.gate_was == gate_was  # the gate said rollback
    assert stored.outcome_labels is not None
    assert stored.outcome_labels.rows == 2


def test_the_same_notification_again_changes_nothing(client: Client, owner: User, gate: dict, release: Release) -> None:
    headers = bearer(owner)
    notify(client, gate, headers, event="on-rollout-aborted", message="first")

    with changes_nothing(outcomes):
        again = notify(client, gate, headers, event="on-rollout-aborted", message="second")

    assert again.status_code == 200
    assert Release.objects.get(pk=release.pk).outcome_note == "first"


def test_a_long_message_is_cut_to_the_notes_length_with_an_ellipsis(
    client: Client, owner: User, gate: dict, release: Release
) -> None:
    response = notify(client, gate, bearer(owner), event="on-rollout-aborted", message="x" * 600)

    assert response.status_code == 200
    assert Release.objects.get(pk=release.pk).outcome_note == "x" * 499 + "…"


def test_a_notification_without_a_message_records_no_note(
    client: Client, owner: User, gate: dict, release: Release
) -> None:
    response = notify(client, gate, bearer(owner), event="on-rollout-completed")

    assert response.status_code == 200
    assert Release.objects.values_list("outcome", "outcome_note").get(pk=release.pk) == ("rollout", "")


def test_an_unknown_key_is_a_404_and_starts_no_release(
    client: Client, owner: User, gate: dict, release: Release
) -> None:
    with changes_nothing(outcomes):
        response = client.post(
            url(gate["id"]),
            {"key": "0a1b2c3d4", "event": "on-rollout-completed"},  # a first deployment's hash
            content_type="application/json",
            headers=bearer(owner),
        )

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"key": HASH, "event": "on-rollout-paused"}, "event", "invalid_choice"),
        ({"key": HASH, "event": "rollback"}, "event", "invalid_choice"),
        ({"key": HASH}, "event", "required"),
        ({"event": "on-rollout-aborted"}, "key", "required"),
        ({"key": HASH, "event": "on-rollout-aborted", "outcome": "rollout"}, "outcome", "unknown"),
        ({"key": HASH, "event": "on-rollout-aborted", "message": 7}, "message", "type"),
        ({"key": f"{HASH} ", "event": "on-rollout-aborted"}, "key", "invalid_key"),
        ({"key": HASH, "event": "on-rollout-aborted", "message": "a\x00b"}, "message", "null_characters_not_allowed"),
    ],
)
def test_a_notification_that_is_not_one_is_a_400_naming_its_field_and_changes_nothing(
    client: Client, owner: User, gate: dict, release: Release, body: dict, field: str, code: str
) -> None:
    with changes_nothing(outcomes):
        response = client.post(url(gate["id"]), body, content_type="application/json", headers=bearer(owner))

    assert response.status_code == 400
    assert [(error["field"], error["code"]) for error in response.json()["errors"]] == [(field, code)]


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("stranger", 403, "permission_denied"),  # as the key's outcome endpoint refuses them
        ("read-only", 403, "read_only_token"),
        ("nobody", 401, "not_authenticated"),
    ],
)
def test_a_stranger_is_refused_and_nothing_changes(
    client: Client, owner: User, stranger: User, gate: dict, release: Release, who: str, status: int, code: str
) -> None:
    headers = {"stranger": bearer(stranger), "read-only": bearer(owner, TokenScope.READ), "nobody": {}}[who]

    with changes_nothing(outcomes):
        response = notify(client, gate, headers, event="on-rollout-aborted")

    assert (response.status_code, response.json()["code"]) == (status, code)


def test_whoever_opened_the_release_records_its_outcome_but_only_the_gates_owner_changes_it(
    client: Client, owner: User, contributor: User, gate: dict, checkout: dict[str, Metric]
) -> None:
    opened = Release.objects.create(
        gate_id=gate["id"], name="checkout-web", key=HASH, created_by=contributor, started_at=timezone.now()
    )
    headers = bearer(contributor)
    assert notify(client, gate, headers, event="on-rollout-aborted").status_code == 200

    with changes_nothing(outcomes):
        refused = notify(client, gate, headers, event="on-rollout-completed")
    changed = notify(client, gate, bearer(owner), event="on-rollout-completed")

    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert "only the owner of the gate" in refused.json()["detail"]
    assert changed.status_code == 200
    assert list(opened.outcome_changes.order_by("pk").values_list("outcome", "previous", "recorded_by")) == [
        ("rollback", "", contributor.pk),
        ("rollout", "rollback", owner.pk),
    ]


# The README's configuration, played as Argo's notification engine plays it.


def engine_secret(text: str, secrets: dict[str, str]) -> str:
    """`$name` replaced by the secret's value, as notifications-engine's `replaceStringSecret`."""
    return re.sub(r"[$][\w-]+", lambda found: secrets[found[0][1:]], text)


def render(template: str, rollout: dict[str, Any]) -> str:
    """A Go text/template of field references only (`{{.rollout.a.b}}`): the README's templates
    use nothing else (anything else fails here rather than being guessed at)."""

    def value_of(found: re.Match[str]) -> str:
        action = found[1].strip()
        assert re.fullmatch(r"\.rollout(\.\w+)+", action), f"not a field reference: {action}"
        value: Any = {"rollout": rollout}
        for name in action[1:].split("."):
            value = value[name]
        return str(value)

    return re.sub(r"\{\{(.*?)\}\}", value_of, template)


class NotificationEngine:
    """The README's configmap, for one live server and one token in the notification secret."""

    def __init__(self, server: str, gate: Gate, token: str) -> None:
        data = readme_yaml("notifications")["data"]
        self.service = yaml.safe_load(engine_secret(data[f"service.webhook.{SERVICE}"], {"makeorbreak-token": token}))
        self.templates = {
            name.removeprefix("template."): yaml.safe_load(text)
            for name, text in data.items()
            if name.startswith("template.")
        }
        self.triggers = {
            name.removeprefix("trigger."): yaml.safe_load(text)
            for name, text in data.items()
            if name.startswith("trigger.")
        }
        address = urlsplit(self.service["url"])
        assert f"{address.scheme}://{address.netloc}" == EXAMPLE_SERVER
        assert address.path == url(1)
        self.url = server + url(gate.pk)  # the gate's id, as the README says to set it

    def fire(self, trigger: str, rollout: dict[str, Any]) -> list[tuple[int, Any]]:
        """Each template the trigger sends (it has no condition: it fires on its event), posted."""
        sent = []
        for condition in self.triggers[trigger]:
            assert "when" not in condition  # Argo's standard triggers fire on the event itself
            for name in condition["send"]:
                webhook = self.templates[name]["webhook"][SERVICE]
                sent.append(self.post(webhook.get("method", "GET"), render(webhook["body"], rollout)))
        return sent

    def post(self, method: str, body: str) -> tuple[int, Any]:
        request = urllib.request.Request(self.url, data=body.encode(), method=method)  # noqa: S310 - the test's server
        request.add_header("User-Agent", "Go-http-client/1.1")
        for header in self.service["headers"]:
            request.add_header(header["name"], header["value"])
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def test_the_readme_subscribes_the_rollout_to_both_triggers_of_its_configmap() -> None:
    annotations = readme_yaml("notification-subscriptions")["annotations"]
    triggers = {name.removeprefix("trigger.") for name in readme_yaml("notifications")["data"] if "trigger." in name}

    assert annotations == {
        f"notifications.argoproj.io/subscribe.{trigger}.{SERVICE}": "" for trigger in sorted(triggers)
    }
    assert triggers == {"on-rollout-aborted", "on-rollout-completed"}


@pytest.mark.parametrize(
    ("trigger", "outcome"), [("on-rollout-aborted", "rollback"), ("on-rollout-completed", "rollout")]
)
def test_the_readme_notification_records_the_outcome_of_the_release_the_analysis_template_started(
    transactional_db: None,
    live_server,
    owner: User,
    gate: dict,
    checkout: dict[str, Metric],
    trigger: str,
    outcome: str,
) -> None:
    token = write_token(owner)
    analysis = Rollout(live_server.url, Gate.objects.get(pk=gate["id"]), token)
    analysis.measure()  # Argo's first measurement starts the release by the canary's hash
    analysis.push(checkout["error rate"], ROLLBACK)
    engine = NotificationEngine(live_server.url, Gate.objects.get(pk=gate["id"]), token)

    [(status, answer)] = engine.fire(trigger, SAMPLE_ROLLOUT)
    again = engine.fire(trigger, SAMPLE_ROLLOUT)

    assert (status, answer["key"]) == (200, HASH), answer
    assert again == [(200, answer)]  # Argo firing twice records it once
    release = Release.objects.get()
    verb = "aborted" if outcome == "rollback" else "completed"
    assert (release.key, release.outcome, release.outcome_via, release.outcome_by, release.outcome_note) == (
        HASH,
        outcome,
        "argo",
        owner,
        f"Argo Rollouts {verb} shop/checkout-web.",
    )
    assert release.outcome_changes.count() == 1


def test_the_readme_notification_for_a_rollout_the_gate_never_judged_records_nothing(
    transactional_db: None, live_server, owner: User, gate: dict
) -> None:
    engine = NotificationEngine(live_server.url, Gate.objects.get(pk=gate["id"]), write_token(owner))

    with changes_nothing(outcomes):
        [(status, answer)] = engine.fire("on-rollout-completed", SAMPLE_ROLLOUT)  # a first deployment

    assert (status, answer["code"]) == (404, "not_found")


def test_a_stranger_is_refused_in_the_words_of_the_keys_outcome_endpoint(
    client: Client, stranger: User, gate: dict, release: Release
) -> None:
    by_key = reverse("api:key_outcome", args=[gate["id"], release.key])

    from_argo = notify(client, gate, bearer(stranger), event="on-rollout-aborted")
    from_the_api = client.post(
        by_key, {"outcome": "rollback"}, content_type="application/json", headers=bearer(stranger)
    )

    assert from_argo.status_code == from_the_api.status_code == 403
    assert (
        from_argo.json()["detail"]
        == from_the_api.json()["detail"]
        == ("Only the gate's owner, or whoever opened this release, may record its outcome.")
    )
