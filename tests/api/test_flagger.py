"""Flagger's webhooks, as Flagger calls them: its exact payload, method and content type to the
gate's one documented URL, for each hook type that gates a canary; the status it reads.

Flagger (fluxcd/flagger `pkg/controller/webhook.go`, `CallWebhook`) POSTs
`json.Marshal(CanaryWebhookPayload{Name, Namespace, Phase, Checksum, Metadata})` with
`Content-Type: application/json` and nothing else it can choose (fluxcd/flagger#1192: no custom
headers), and goes on only on 200 to 202. The phases are the scheduler's: confirm-rollout sends
the canary's phase (Succeeded or Failed from the last run, Waiting while held), pre-rollout,
rollout and confirm-promotion send Progressing, rollback the phase (Progressing, Waiting,
WaitingPromotion), post-rollout Succeeded or Failed.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, TokenScope
from api.throttling import PerTokenThrottle
from mbreak.logs import JsonFormatter
from metrics.models import Answer, Gate, ImportBatch, Indicator, Metric, Observation, OutcomeChange, Release
from tests.api.test_gates import INCONCLUSIVE, ROLLBACK, ROLLOUT, bearer, make_gate
from tests.data import rows_of
from tests.factories import MetricFactory
from tests.refusals import changes_nothing

CHECKSUM = "85d557f47b"  # Flagger's docs' example: canary.ComputeHash of the revision
PREVIOUS = "6f7d4b8c9"  # the checksum still in the canary's status when confirm-rollout is called
KEY = f"test/podinfo@{CHECKSUM}"


def secret_of(user: User, scope: str = TokenScope.WRITE) -> str:
    _token, secret = ApiToken.objects.issue(user, f"flagger {ApiToken.objects.count()}", scope)
    return secret


def revoked_secret_of(user: User) -> str:
    token, secret = ApiToken.objects.issue(user, "revoked", TokenScope.WRITE)
    token.revoke()
    return secret


def payload(hook: str, token: str | None, phase: str = "Progressing", checksum: str = CHECKSUM, **extra: Any) -> bytes:
    """The body as Go's json.Marshal writes Flagger's CanaryWebhookPayload: its fields in order,
    the webhook's metadata map with its keys sorted, no spaces."""
    metadata = {"hook": hook, **({"token": token} if token is not None else {}), **extra}
    body: dict[str, Any] = {"name": "podinfo", "namespace": "test", "phase": phase, "checksum": checksum}
    body["metadata"] = dict(sorted(metadata.items()))
    return json.dumps(body, separators=(",", ":")).encode()


class Flagger:
    """Flagger's webhook client: POST, its JSON, no header of ours; 200 to 202 is yes."""

    def __init__(self, client: Client, gate: dict, token: str | None) -> None:
        self.client, self.url, self.token = client, reverse("api:flagger", args=[gate["id"]]), token

    def call(self, hook: str, phase: str = "Progressing", checksum: str = CHECKSUM, **extra: Any):
        body = payload(hook, self.token, phase, checksum, **extra)
        return self.client.generic("POST", self.url, body, content_type="application/json")

    def status(self, hook: str, phase: str = "Progressing", checksum: str = CHECKSUM) -> int:
        return self.call(hook, phase, checksum).status_code


def push(client: Client, owner: User, gate: dict, metric: Metric, observation: dict) -> None:
    """What the pipeline (or an exporter) pushes for the canary, by its key."""
    url = reverse("api:key_observations", args=[gate["id"], KEY])
    body = {"metric": metric.pk, **observation}
    response = client.post(url, body, content_type="application/json", headers=bearer(owner))
    assert response.status_code == 201, response.json()


def releases() -> list[tuple[str, str, str]]:
    return list(Release.objects.order_by("pk").values_list("key", "name", "version"))


def test_a_canary_is_started_judged_and_promoted_through_its_hooks(
    client: Client, owner: User, gate: dict, checkout
) -> None:
    flagger = Flagger(client, gate, secret_of(owner))

    confirmed = flagger.call("confirm-rollout", phase="Succeeded", checksum=PREVIOUS)
    assert (confirmed.status_code, releases()) == (200, [])  # the previous revision's checksum starts nothing
    started = flagger.call("pre-rollout")
    assert started.status_code == 200
    assert releases() == [(KEY, "test/podinfo", CHECKSUM)]
    assert [flagger.status(hook) for hook in ("rollout", "confirm-promotion", "rollback")] == [200, 412, 412]

    push(client, owner, gate, checkout["error rate"], ROLLOUT)
    push(client, owner, gate, checkout["p95 latency"], ROLLOUT)
    promoted = flagger.call("confirm-promotion")
    finished = flagger.call("post-rollout", phase="Succeeded")

    assert [flagger.status(hook) for hook in ("rollout", "rollback")] == [200, 412]
    assert promoted.status_code == 200
    assert promoted["Content-Type"] == "text/plain; charset=utf-8"
    release = Release.objects.get()
    assert promoted.content.decode() == (
        f"Roll out: the score 100 reaches the pass score 80. http://testserver/releases/{release.pk}/"
    )
    assert (finished.status_code, finished.content.decode()) == (
        200,
        f"The canary test/podinfo ended Succeeded: recorded as rolled out. http://testserver/releases/{release.pk}/",
    )
    assert releases() == [(KEY, "test/podinfo", CHECKSUM)]  # every hook of the revision found the same release
    assert release.answers.count() == 6 + 2  # each verdict asked through a hook kept, as the pushes' answers
    assert (release.outcome, release.outcome_via, release.outcome_by) == ("rollout", "flagger", owner)


@pytest.mark.parametrize(
    ("observations", "answers"),
    [
        # A critical metric says rollback: rollout is a failed check, rollback rolls it back.
        ({"error rate": ROLLBACK, "p95 latency": ROLLOUT}, {"rollout": 412, "confirm-promotion": 412, "rollback": 200}),
        # By the score (33.3, below the marginal 50).
        (
            {"error rate": INCONCLUSIVE, "p95 latency": ROLLBACK},
            {"rollout": 412, "confirm-promotion": 412, "rollback": 200},
        ),
        # Inconclusive (66.7): keep analysing, but a person decides before promotion.
        (
            {"error rate": INCONCLUSIVE, "p95 latency": ROLLOUT},
            {"rollout": 200, "confirm-promotion": 412, "rollback": 412},
        ),
        # Waiting for the p95 latency: the same.
        ({"error rate": ROLLOUT}, {"rollout": 200, "confirm-promotion": 412, "rollback": 412}),
        ({"error rate": ROLLOUT, "p95 latency": ROLLOUT}, {"rollout": 200, "confirm-promotion": 200, "rollback": 412}),
    ],
)
def test_each_hook_answers_the_status_flagger_needs_for_the_verdict(
    client: Client, owner: User, gate: dict, checkout, observations: dict, answers: dict
) -> None:
    flagger = Flagger(client, gate, secret_of(owner))
    for name, observation in observations.items():
        push(client, owner, gate, checkout[name], observation)

    assert {hook: flagger.status(hook) for hook in answers} == answers


def test_a_gate_in_dry_run_answers_flagger_as_a_rollout(client: Client, owner: User, gate: dict, checkout) -> None:
    Gate.objects.filter(pk=gate["id"]).update(dry_run=True)
    flagger = Flagger(client, gate, secret_of(owner))
    push(client, owner, gate, checkout["error rate"], ROLLBACK)
    push(client, owner, gate, checkout["p95 latency"], ROLLBACK)

    statuses = {hook: flagger.status(hook) for hook in ("rollout", "confirm-promotion", "rollback")}

    assert statuses == {"rollout": 200, "confirm-promotion": 200, "rollback": 412}
    assert set(Answer.objects.values_list("state", "dry_run")) == {("rollback", True)}  # the real verdict is kept
    # What Flagger writes into its events says what the gate would have done.
    assert flagger.call("confirm-promotion").content.decode().startswith("Dry run: would have rolled back.")


def test_a_new_revision_is_a_release_of_its_own(client: Client, owner: User, gate: dict) -> None:
    flagger = Flagger(client, gate, secret_of(owner))

    flagger.call("pre-rollout")
    flagger.call("rollout", checksum="7c4f9d2e1")  # Flagger restarted the analysis on a new revision

    assert [key for key, _name, _version in releases()] == [KEY, "test/podinfo@7c4f9d2e1"]


def test_confirm_rollout_holds_the_canary_while_a_counted_metric_has_no_model(
    client: Client, owner: User, checkout
) -> None:
    untrained = MetricFactory.create(owner=owner, name="queue depth")
    gate = make_gate(client, bearer(owner), {**checkout, "p95 latency": untrained})

    response = Flagger(client, gate, secret_of(owner)).call("confirm-rollout", phase="Succeeded", checksum=PREVIOUS)

    assert response.status_code == 412
    assert response.content.decode() == (
        "Waiting: “queue depth” has no trained model yet; train it, and the canary can start."
    )
    assert not Release.objects.exists()


def test_rollback_while_the_canary_waits_for_confirmation_starts_nothing(
    client: Client, owner: User, gate: dict
) -> None:
    response = Flagger(client, gate, secret_of(owner)).call("rollback", phase="Waiting", checksum=PREVIOUS)

    assert response.status_code == 412
    assert not Release.objects.exists()


def state() -> dict[str, list]:
    return {
        "releases": list(Release.objects.values_list("pk", "key")),
        "observations": list(Observation.objects.values_list("pk")),
        "answers": list(Answer.objects.values_list("pk")),
    }


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [
        (None, 401, "not_authenticated"),  # no token in the metadata
        ("", 401, "not_authenticated"),
        ("mb_not-a-token-anyone-was-given", 401, "invalid_token"),
        ("revoked", 401, "invalid_token"),
        ("read-only", 403, "read_only_token"),
        ("stranger", 403, "permission_denied"),
    ],
)
def test_a_wrong_or_missing_token_is_refused_and_nothing_created(
    client: Client, owner: User, stranger: User, gate: dict, token: str | None, status: int, code: str
) -> None:
    if token == "revoked":
        token = revoked_secret_of(owner)
    elif token == "read-only":
        token = secret_of(owner, TokenScope.READ)
    elif token == "stranger":
        token = secret_of(stranger)
    flagger = Flagger(client, gate, token)

    with changes_nothing(state):
        answers = [flagger.call(hook) for hook in ("pre-rollout", "rollout", "confirm-promotion", "rollback")]

    assert {(answer.status_code, answer.json()["code"]) for answer in answers} == {(status, code)}


def test_a_token_in_a_header_is_not_read_flagger_cannot_send_one(client: Client, owner: User, gate: dict) -> None:
    body = payload("pre-rollout", None)
    url = reverse("api:flagger", args=[gate["id"]])

    response = client.generic("POST", url, body, content_type="application/json", headers=bearer(owner))

    assert response.status_code == 401
    assert "metadata" in response.json()["detail"]
    assert not Release.objects.exists()


@pytest.mark.parametrize("hook", [None, "", "event", "confirm-traffic-increase", "Rollout"])
def test_a_hook_type_missing_or_not_taken_is_a_400_naming_those_taken(
    client: Client, owner: User, gate: dict, hook: str | None
) -> None:
    body = json.loads(payload(hook or "", secret_of(owner)))
    if hook is None:
        del body["metadata"]["hook"]

    response = client.post(reverse("api:flagger", args=[gate["id"]]), body, content_type="application/json")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("metadata", "hook")
    assert "confirm-rollout, pre-rollout, rollout, confirm-promotion, rollback, post-rollout" in error["message"]
    assert not Release.objects.exists()


def test_a_payload_without_a_checksum_is_refused(client: Client, owner: User, gate: dict) -> None:
    body = json.loads(payload("pre-rollout", secret_of(owner)))
    del body["checksum"]  # Flagger before 1.33

    response = client.post(reverse("api:flagger", args=[gate["id"]]), body, content_type="application/json")

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["checksum"]
    assert not Release.objects.exists()


def test_a_field_a_later_flagger_adds_is_left_alone(client: Client, owner: User, gate: dict) -> None:
    body = {**json.loads(payload("pre-rollout", secret_of(owner), team="payments")), "cluster": "eu-1"}

    response = client.post(reverse("api:flagger", args=[gate["id"]]), body, content_type="application/json")

    assert response.status_code == 200
    assert releases() == [(KEY, "test/podinfo", CHECKSUM)]


def test_an_unknown_gate_is_a_404(client: Client, owner: User) -> None:
    response = client.generic(
        "POST", reverse("api:flagger", args=[999_999]), payload("rollout", secret_of(owner)), "application/json"
    )

    assert response.status_code == 404
    assert not Release.objects.exists()


def test_the_token_is_never_logged(client: Client, owner: User, gate: dict, caplog: pytest.LogCaptureFixture) -> None:
    good, revoked = secret_of(owner), revoked_secret_of(owner)
    caplog.set_level(logging.DEBUG)

    Flagger(client, gate, good).call("pre-rollout")
    Flagger(client, gate, good).call("event")  # a 400
    Flagger(client, gate, revoked).call("rollout")  # a 401
    client.generic("POST", reverse("api:flagger", args=[gate["id"]]), b'{"metadata": {"token": "' + good.encode())

    assert len(caplog.records) >= 4  # each request was logged
    formatter = JsonFormatter()
    for record in caplog.records:
        logged = formatter.format(record) + repr(record.__dict__)
        assert good not in logged
        assert revoked not in logged


def readme_webhooks() -> list[dict[str, Any]]:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- flagger: webhooks -->\n```yaml\n(.*?)```", text, re.S)
    assert found, "the README has no Flagger webhooks block"
    return yaml.safe_load(found[1])["webhooks"]


def test_the_readme_webhooks_gate_a_canary_as_flagger_calls_them(
    client: Client, owner: User, gate: dict, checkout
) -> None:
    secret = secret_of(owner)
    webhooks = readme_webhooks()
    # Flagger's CanaryWebhook fields only, each hook named in its metadata as its type.
    assert all(
        set(webhook) <= {"name", "type", "url", "timeout", "metadata", "muteAlert", "retries", "disableTLS"}
        for webhook in webhooks
    )
    assert [webhook["type"] for webhook in webhooks] == [
        "confirm-rollout",
        "pre-rollout",
        "rollout",
        "confirm-promotion",
        "rollback",
        "post-rollout",
    ]
    assert all(webhook["metadata"]["hook"] == webhook["type"] for webhook in webhooks)
    assert all(webhook["timeout"] == "10s" for webhook in webhooks)

    def call(webhook: dict[str, Any], phase: str = "Progressing", checksum: str = CHECKSUM) -> int:
        url = urlsplit(webhook["url"])
        assert url.path == reverse("api:flagger", args=[1])
        metadata = {**webhook["metadata"], "token": secret}
        body = {"name": "podinfo", "namespace": "test", "phase": phase, "checksum": checksum, "metadata": metadata}
        path = url.path.replace("/gates/1/", f"/gates/{gate['id']}/")
        return client.post(path, body, content_type="application/json").status_code

    ready, start, verdict, promotion, rollback, outcome = webhooks
    assert call(ready, phase="Succeeded", checksum=PREVIOUS) == 200
    assert call(start) == 200
    assert (call(verdict), call(promotion), call(rollback)) == (200, 412, 412)  # waiting: analysis goes on
    push(client, owner, gate, checkout["error rate"], ROLLOUT)
    push(client, owner, gate, checkout["p95 latency"], ROLLOUT)
    assert (call(verdict), call(promotion), call(rollback)) == (200, 200, 412)
    assert Release.objects.get().outcome == ""
    assert call(outcome, phase="Succeeded") == 200  # promoted
    assert Release.objects.values_list("outcome", "outcome_via").get() == ("rollout", "flagger")


def test_the_readme_rollback_webhook_records_the_rollback_flagger_makes(
    client: Client, owner: User, gate: dict, checkout
) -> None:
    metadata = {webhook["type"]: {**webhook["metadata"], "token": secret_of(owner)} for webhook in readme_webhooks()}
    flagger_url = reverse("api:flagger", args=[gate["id"]])

    def call(hook: str, phase: str = "Progressing") -> int:
        body = {
            "name": "podinfo",
            "namespace": "test",
            "phase": phase,
            "checksum": CHECKSUM,
            "metadata": metadata[hook],
        }
        return client.post(flagger_url, body, content_type="application/json").status_code

    assert call("pre-rollout") == 200
    push(client, owner, gate, checkout["error rate"], ROLLBACK)
    assert (call("rollback"), call("post-rollout", phase="Failed")) == (200, 200)
    release = Release.objects.get()
    assert (release.outcome, release.outcome_via) == ("rollback", "flagger")
    assert release.outcome_changes.count() == 1  # post-rollout said the same: nothing more


def test_flaggers_calls_count_against_its_tokens_rate(
    client: Client, owner: User, gate: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PerTokenThrottle, "THROTTLE_RATES", {"token": "3/minute"})
    secret = secret_of(owner)
    flagger = Flagger(client, gate, secret)
    pipeline = {"Authorization": f"Bearer {secret}"}

    answers = [flagger.status("pre-rollout"), flagger.status("rollout")]
    answers.append(client.get(reverse("api:gate", args=[gate["id"]]), headers=pipeline).status_code)
    answers.append(flagger.status("rollout"))

    assert answers == [200, 200, 200, 429]  # the same token, through the webhook or the header


# Outcomes: Flagger says what it did with the revision, and that is its release's outcome.


def outcomes() -> dict[str, list]:
    """Every row recording an outcome could touch (the verdicts a hook asks are kept, as always)."""
    return {
        "releases": rows_of(Release),
        "outcomes": rows_of(OutcomeChange),
        "batches": rows_of(ImportBatch),
        "indicators": rows_of(Indicator),
    }


def rolling_back(client: Client, owner: User, gate: dict, checkout) -> None:
    """The canary's release, started by Flagger, with observations whose verdict is rollback."""
    flagger = Flagger(client, gate, secret_of(owner))
    assert flagger.status("pre-rollout") == 200
    push(client, owner, gate, checkout["error rate"], ROLLBACK)
    push(client, owner, gate, checkout["p95 latency"], ROLLOUT)


def test_a_yes_to_the_rollback_hook_records_the_rollback_through_flagger(
    client: Client, owner: User, gate: dict, checkout
) -> None:
    rolling_back(client, owner, gate, checkout)

    response = Flagger(client, gate, secret_of(owner)).call("rollback")

    assert response.status_code == 200  # Flagger rolls the canary back
    release = Release.objects.get()
    assert response.content.decode().endswith(f"Recorded as rolled back. http://testserver/releases/{release.pk}/")
    assert (release.outcome, release.outcome_via, release.outcome_by) == ("rollback", "flagger", owner)
    assert release.outcome_note == "Flagger was told to roll back the canary test/podinfo (its rollback hook)."
    assert list(release.outcome_changes.values_list("outcome", "previous", "via")) == [("rollback", "", "flagger")]
    assert release.outcome_labels is not None
    assert release.outcome_labels.rows == 2  # both observations labelled rolled back


def test_flagger_calling_again_after_its_rollback_changes_nothing(
    client: Client, owner: User, gate: dict, checkout
) -> None:
    rolling_back(client, owner, gate, checkout)
    flagger = Flagger(client, gate, secret_of(owner))
    flagger.call("rollback")

    with changes_nothing(outcomes):
        again = flagger.call("rollback")
        ended = flagger.call("post-rollout", phase="Failed")  # what Flagger calls once it rolled back

    assert again.status_code == 200
    assert "Already recorded as rolled back." in again.content.decode()
    assert ended.status_code == 200
    assert ended.content.decode().startswith("The canary test/podinfo ended Failed: already recorded as rolled back.")


@pytest.mark.parametrize(
    ("phase", "outcome", "note"),
    [
        ("Succeeded", "rollout", "Flagger promoted the canary test/podinfo (it ended Succeeded)."),
        ("Failed", "rollback", "Flagger rolled back the canary test/podinfo (it ended Failed)."),
    ],
)
def test_post_rollout_records_how_the_canary_ended_once(
    client: Client, owner: User, gate: dict, checkout, phase: str, outcome: str, note: str
) -> None:
    rolling_back(client, owner, gate, checkout)
    flagger = Flagger(client, gate, secret_of(owner))

    ended = flagger.call("post-rollout", phase=phase)
    with changes_nothing(outcomes):
        again = flagger.call("post-rollout", phase=phase)

    release = Release.objects.get()
    assert ended.status_code == again.status_code == 200
    assert ended.content.decode().startswith(f"The canary test/podinfo ended {phase}: recorded as rolled ")
    assert "already recorded" in again.content.decode()
    assert (release.outcome, release.outcome_via, release.outcome_by, release.outcome_note) == (
        outcome,
        "flagger",
        owner,
        note,
    )
    # What the gate said when Flagger ended it: rollback, whatever Flagger did.
    assert (release.gate_said, release.gate_was) == ("rollback", "right" if outcome == "rollback" else "wrong")


@pytest.mark.parametrize(
    "observations",
    [
        {"error rate": ROLLOUT, "p95 latency": ROLLOUT},
        {"error rate": INCONCLUSIVE, "p95 latency": ROLLOUT},
        {"error rate": ROLLOUT},  # waiting for the p95 latency
    ],
)
def test_a_rollback_hook_answered_no_records_nothing(
    client: Client, owner: User, gate: dict, checkout, observations: dict
) -> None:
    flagger = Flagger(client, gate, secret_of(owner))
    flagger.call("pre-rollout")
    for name, observation in observations.items():
        push(client, owner, gate, checkout[name], observation)

    with changes_nothing(outcomes):
        response = flagger.call("rollback")

    assert response.status_code == 412


def test_a_gate_in_dry_run_records_no_rollback_as_flagger_is_told_none(
    client: Client, owner: User, gate: dict, checkout
) -> None:
    rolling_back(client, owner, gate, checkout)
    Gate.objects.filter(pk=gate["id"]).update(dry_run=True)

    with changes_nothing(outcomes):
        response = Flagger(client, gate, secret_of(owner)).call("rollback")

    assert response.status_code == 412


@pytest.mark.parametrize(("token", "code"), [("stranger", "permission_denied"), ("read-only", "read_only_token")])
def test_a_strangers_or_read_only_token_records_no_outcome(
    client: Client, owner: User, stranger: User, gate: dict, checkout, token: str, code: str
) -> None:
    rolling_back(client, owner, gate, checkout)
    secret = secret_of(stranger) if token == "stranger" else secret_of(owner, TokenScope.READ)
    flagger = Flagger(client, gate, secret)

    with changes_nothing(outcomes), changes_nothing(state):
        answers = [flagger.call("rollback"), flagger.call("post-rollout", phase="Succeeded")]

    assert {(answer.status_code, answer.json()["code"]) for answer in answers} == {(403, code)}


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_post_rollout_of_a_revision_the_gate_never_judged_records_nothing_and_starts_no_release(
    client: Client, owner: User, gate: dict, checkout, phase: str
) -> None:
    rolling_back(client, owner, gate, checkout)  # the release of CHECKSUM: another revision's

    with changes_nothing(outcomes):
        response = Flagger(client, gate, secret_of(owner)).call("post-rollout", phase=phase, checksum="7c4f9d2e1")

    assert response.status_code == 200  # Flagger is not held by it
    assert response.content.decode() == (
        f"Noted: the canary test/podinfo ended {phase}; the gate has no release test/podinfo@7c4f9d2e1, "
        "so nothing was recorded."
    )


def test_post_rollout_with_a_phase_that_is_no_outcome_records_nothing(
    client: Client, owner: User, gate: dict, checkout
) -> None:
    rolling_back(client, owner, gate, checkout)

    with changes_nothing(outcomes):
        response = Flagger(client, gate, secret_of(owner)).call("post-rollout", phase="Progressing")

    assert response.status_code == 200
    assert "only Succeeded or Failed is an outcome, so nothing was recorded" in response.content.decode()


def test_flaggers_end_changes_an_outcome_the_team_recorded_otherwise_and_logs_it(
    client: Client, owner: User, gate: dict, checkout
) -> None:
    rolling_back(client, owner, gate, checkout)
    Release.objects.get().record_outcome("rollback", owner, via="page", note="we thought so")

    response = Flagger(client, gate, secret_of(owner)).call("post-rollout", phase="Succeeded")

    release = Release.objects.get()
    assert response.status_code == 200
    assert (release.outcome, release.outcome_via) == ("rollout", "flagger")
    assert list(release.outcome_changes.order_by("pk").values_list("outcome", "previous", "via")) == [
        ("rollback", "", "page"),
        ("rollout", "rollback", "flagger"),
    ]


def test_when_the_tokens_user_may_not_record_the_outcome_rollback_still_rolls_back_and_post_rollout_says_why(
    client: Client, owner: User, gate: dict, checkout, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the gate's owner may call Flagger's hooks, and the owner may always record an outcome
    # today: a rule that one day refuses it (teams) must not turn a rollback into a "no".
    rolling_back(client, owner, gate, checkout)
    monkeypatch.setattr(Release, "can_record_outcome", lambda self, user: False)
    flagger = Flagger(client, gate, secret_of(owner))

    with changes_nothing(outcomes):
        rollback = flagger.call("rollback")
        ended = flagger.call("post-rollout", phase="Failed")

    assert rollback.status_code == 200
    assert "Its outcome was not recorded: Only the owner of the gate “Checkout”" in rollback.content.decode()
    # Flagger only writes post-rollout's answer into an event (a warning when not 2xx): the canary has ended.
    assert (ended.status_code, ended.json()["code"]) == (403, "forbidden")
    assert "may record its outcome" in ended.json()["detail"]
