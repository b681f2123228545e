"""Replays through the API: the gate's owner replays it over its past releases, tries other
settings on the same releases and applies them; any account reads them; nobody else changes
anything."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import TokenScope
from metrics.models import Gate, GateChange, GateMetric, Job, JobKind, Outcome, Replay, ReplayedRelease
from tests.api.test_gates import bearer
from tests.data import database_state, rows_of
from tests.factories import MetricFactory
from tests.refusals import changes_nothing
from tests.replays.history import FIRST_RELEASE, History, history

ROLLED_BACK, ROLLED_OUT = Outcome.ROLLBACK, Outcome.ROLLOUT


def replay_state() -> dict[str, list[tuple[Any, ...]]]:
    """Every row a replay, a what-if or applying one could touch."""
    return {
        **database_state(),
        "gates": rows_of(Gate),
        "gate_metrics": rows_of(GateMetric),
        "replays": rows_of(Replay),
        "replayed": rows_of(ReplayedRelease),
        "changes": rows_of(GateChange),
        "jobs": rows_of(Job),
    }


@pytest.fixture
def past(owner: User) -> History:
    """A gate of one metric with four past releases, two rolled back and two rolled out, that
    its rule separates (caught at the fifth rollback observed, with a failure limit of 4)."""
    return history(owner, [ROLLED_BACK, ROLLED_OUT] * 2, failure_limit=4)


def post(client: Client, url: str, body: dict | None, headers: dict) -> Any:
    if body is None:  # no body at all, as `curl -X POST` sends
        return client.post(url, content_type="application/json", headers=headers)
    return client.post(url, body, content_type="application/json", headers=headers)


def replay_gate(client: Client, gate: Gate, headers: dict, **body: Any) -> Any:
    return post(client, reverse("api:gate_replays", args=[gate.pk]), body, headers)


def replayed(client: Client, past: History, owner: User) -> dict:
    response = replay_gate(client, past.gate, bearer(owner))
    assert response.status_code == 202, response.json()
    return response.json()


# Replaying a gate -------------------------------------------------------------------------------


def test_the_owner_replays_a_gate_and_gets_the_replay_to_poll(client: Client, owner: User, past: History) -> None:
    response = replay_gate(client, past.gate, bearer(owner))

    assert response.status_code == 202
    body = response.json()
    replay = Replay.objects.get()
    assert body["id"] == replay.pk
    assert response["Location"] == body["url"] == f"http://testserver/api/v1/replays/{replay.pk}/"
    assert (body["gate"], body["gate_name"], body["requested_by"]) == (past.gate.pk, "Checkout", "owner")
    assert body["rules"]["metrics"][0]["metric"] == past.metric.pk
    # In the tests, jobs run as they are queued: the job is done and the report is there.
    assert (body["job"]["kind"], body["job"]["status"], body["job"]["percent"]) == ("replay", "done", 100)
    assert body["job"]["replay_url"] == body["url"]
    assert body["is_finished"] is True
    assert body["report"]["releases"] == 4


def test_the_report_gives_each_figure_with_its_interval_and_says_the_history_is_thin(
    client: Client, owner: User, contributor: User, past: History
) -> None:
    url = replayed(client, past, owner)["url"]

    report = client.get(url, headers=bearer(contributor, TokenScope.READ)).json()["report"]

    counts = ("releases", "judged", "not_judged", "bad", "caught", "good", "false_rollbacks", "inconclusive")
    assert [report[name] for name in counts] == [4, 4, 0, 2, 2, 2, 0, 0]
    assert report["catch_rate"]["share"] == 1.0
    low, high = report["catch_rate"]["interval"]
    assert 0.3 < low < 0.4
    assert high == 1.0
    assert report["false_rollback_rate"]["share"] == 0.0
    assert report["inconclusive_rate"] == {
        "hits": 0,
        "trials": 4,
        "share": 0.0,
        "interval": [pytest.approx(0.0), pytest.approx(0.49, abs=0.01)],
    }
    assert (report["median_catch_minute"], report["caught_minutes"]) == (5, [5, 5])
    assert report["caught_before_decision"] == 2  # stopped at minute 5, decided at 30
    assert report["confusion"] == {
        "rollback": {"rollback": 2, "inconclusive": 0, "rollout": 0, "not_judged": 0},
        "rollout": {"rollback": 0, "inconclusive": 0, "rollout": 2, "not_judged": 0},
    }
    assert report["is_thin"] is True
    assert report["thin_words"].startswith("Too little history to trust: it rests on 2 releases rolled back")
    # Two of two against none of two: the intervals overlap, so it cannot be told from chance.
    assert report["is_no_better_than_chance"] is True
    assert report["chance_words"].startswith("No better than chance")


def test_each_replayed_release_is_listed_with_its_verdict_minute_by_minute(
    client: Client, owner: User, past: History
) -> None:
    replay = replayed(client, past, owner)

    page = client.get(replay["releases_url"], headers=bearer(owner)).json()

    assert page["count"] == 4
    first, second = page["results"][:2]
    assert (first["release"], first["name"], first["outcome"]) == (past.releases[0].pk, "v1", "rollback")
    assert first["started_at"] == "2026-09-01T12:00:00Z"
    assert (first["verdict"], first["stopped_minute"], first["decided_minute"]) == ("rollback", 5, 30.0)
    assert first["not_judged"] == []
    assert [point["minute"] for point in first["minutes"][:5]] == [1, 2, 3, 4, 5]
    assert [point["state"] for point in first["minutes"][:5]] == ["inconclusive"] * 4 + ["rollback"]
    assert set(first["minutes"][0]) == {"minute", "state", "score", "decided_by"}
    assert (second["outcome"], second["verdict"], second["stopped_minute"]) == ("rollout", "rollout", None)


def test_a_release_that_could_not_be_judged_says_why_in_words_and_codes(client: Client, owner: User) -> None:
    past = history(owner, [ROLLED_BACK, ROLLED_OUT])
    newcomer = MetricFactory.create(owner=owner, name="Latency")  # no indicator: never a model
    GateMetric.objects.create(gate=past.gate, metric=newcomer, weight=1, critical=True)

    replay = replayed(client, past, owner)
    first = client.get(replay["releases_url"], headers=bearer(owner)).json()["results"][0]

    assert replay["report"]["not_judged"] == 2
    assert first["verdict"] is None
    assert [(reason["code"], reason["metric"]) for reason in first["not_judged"]] == [("no_model", newcomer.pk)]
    words = first["not_judged"][0]["words"]
    assert words.startswith("“Latency” had no model: 0 indicators registered before it started")


def test_a_range_replays_only_the_releases_started_in_it(client: Client, owner: User, past: History) -> None:
    since = (FIRST_RELEASE + timedelta(days=1)).isoformat()
    until = (FIRST_RELEASE + timedelta(days=3)).isoformat()

    replay = replay_gate(client, past.gate, bearer(owner), since=since, until=until).json()

    assert (replay["since"], replay["until"]) == ("2026-09-02T12:00:00Z", "2026-09-04T12:00:00Z")
    assert replay["report"]["releases"] == 2
    names = [row["name"] for row in client.get(replay["releases_url"], headers=bearer(owner)).json()["results"]]
    assert names == ["v2", "v3"]


def test_a_replay_with_no_body_or_null_bounds_replays_every_release(client: Client, owner: User, past: History) -> None:
    without = post(client, reverse("api:gate_replays", args=[past.gate.pk]), None, bearer(owner))
    unbounded = replay_gate(client, past.gate, bearer(owner), since=None, until=None)

    assert without.status_code == unbounded.status_code == 202
    assert without.json()["report"]["releases"] == unbounded.json()["report"]["releases"] == 4


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"since": "2026-09-03T00:00:00Z", "until": "2026-09-02T00:00:00Z"}, "until", "invalid"),
        ({"since": "2026-09-03T00:00:00Z", "until": "2026-09-03T00:00:00Z"}, "until", "invalid"),
        ({"since": "yesterday"}, "since", "invalid"),
        ({"since": 20260901}, "since", "type"),
        ({"from": "2026-09-01"}, "from", "unknown"),
    ],
)
def test_a_bad_range_is_refused_and_nothing_stored(
    client: Client, owner: User, past: History, body: dict, field: str, code: str
) -> None:
    with changes_nothing(replay_state):
        response = replay_gate(client, past.gate, bearer(owner), **body)

    assert response.status_code == 400
    assert [(error["field"], error["code"]) for error in response.json()["errors"]] == [(field, code)]


def test_a_range_with_no_release_with_an_outcome_is_a_conflict_and_nothing_stored(
    client: Client, owner: User, past: History
) -> None:
    with changes_nothing(replay_state):
        response = replay_gate(client, past.gate, bearer(owner), since="2027-01-01T00:00:00Z")

    assert response.status_code == 409
    assert response.json()["code"] == "nothing_to_replay"
    assert response.json()["detail"].startswith("No release of the gate “Checkout” started in that range")


def test_a_gate_with_no_outcome_yet_has_nothing_to_replay(client: Client, owner: User) -> None:
    gate = history(owner, []).gate

    with changes_nothing(replay_state):
        response = replay_gate(client, gate, bearer(owner))

    assert response.status_code == 409
    assert response.json()["code"] == "nothing_to_replay"


# Listing and reading ------------------------------------------------------------------------------


def test_a_gates_replays_are_listed_newest_first_in_pages(client: Client, owner: User, past: History) -> None:
    first = replayed(client, past, owner)
    second = replayed(client, past, owner)

    page = client.get(reverse("api:gate_replays", args=[past.gate.pk]), headers=bearer(owner)).json()

    assert [replay["id"] for replay in page["results"]] == [second["id"], first["id"]]
    assert (page["count"], page["next"], page["previous"]) == (2, None, None)


def test_listing_replays_reads_their_jobs_at_once(client: Client, owner: User) -> None:
    gate = history(owner, [ROLLED_BACK, ROLLED_OUT]).gate
    url = reverse("api:gate_replays", args=[gate.pk])
    headers = bearer(owner)
    client.get(url, headers=headers)  # the token's first use is recorded once: not counted

    def queries_to_list(count: int) -> int:
        while Replay.objects.count() < count:  # queued, not run: listing is what is counted
            Replay.objects.start(gate, owner, send_to_worker=False)
        with CaptureQueriesContext(connection) as queries:
            assert len(client.get(url, headers=headers).json()["results"]) == count
        return len(queries)

    assert queries_to_list(1) == queries_to_list(3)


def test_any_account_reads_a_replay_and_its_releases(
    client: Client, owner: User, stranger: User, past: History
) -> None:
    replay = replayed(client, past, owner)
    headers = bearer(stranger, TokenScope.READ)

    assert client.get(replay["url"], headers=headers).json()["report"] == replay["report"]
    assert client.get(replay["releases_url"], headers=headers).json()["count"] == 4
    listed = client.get(reverse("api:gate_replays", args=[past.gate.pk]), headers=headers).json()
    assert [each["id"] for each in listed["results"]] == [replay["id"]]


def test_without_credentials_replays_are_401_and_nothing_stored(client: Client, owner: User, past: History) -> None:
    replay = replayed(client, past, owner)
    gate_url = reverse("api:gate_replays", args=[past.gate.pk])

    with changes_nothing(replay_state):
        answers = [
            client.get(gate_url),
            client.get(replay["url"]),
            client.get(replay["releases_url"]),
            post(client, gate_url, {}, {}),
            post(client, reverse("api:replay_what_if", args=[replay["id"]]), {"pass_score": 60}, {}),
            post(client, reverse("api:replay_apply", args=[replay["id"]]), None, {}),
        ]

    assert [answer.status_code for answer in answers] == [401] * 6


def test_an_unknown_replay_or_gate_is_404(client: Client, owner: User) -> None:
    headers = bearer(owner)

    assert client.get(reverse("api:replay", args=[999]), headers=headers).status_code == 404
    assert client.get(reverse("api:replay_releases", args=[999]), headers=headers).status_code == 404
    assert client.get(reverse("api:gate_replays", args=[999]), headers=headers).status_code == 404
    assert replay_gate(client, Gate(pk=999), headers).status_code == 404


# What-if -------------------------------------------------------------------------------------------


def test_the_owner_tries_other_settings_on_the_same_releases(client: Client, owner: User, past: History) -> None:
    base = replayed(client, past, owner)
    metric = str(past.metric.pk)
    changes = {"pass_score": 60.0, "metrics": {metric: {"failure_limit": 0, "weight": 2.0}}}

    response = post(client, reverse("api:replay_what_if", args=[base["id"]]), changes, bearer(owner))

    assert response.status_code == 202
    what_if = response.json()
    assert response["Location"] == what_if["url"] != base["url"]
    assert (what_if["compared_with"], what_if["compared_with_url"]) == (base["id"], base["url"])
    assert what_if["is_what_if"] is True
    assert what_if["changes"] == changes
    assert (what_if["rules"]["pass_score"], what_if["rules"]["metrics"][0]["failure_limit"]) == (60.0, 0)
    # With no failure tolerated, each bad release is stopped at its first minute.
    assert what_if["report"]["caught_minutes"] == [1, 1]
    assert Gate.objects.get().pass_score == 80  # the gate itself is not changed


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"pass_score": 120}, ["pass_score"]),
        ({"pass_score": "60"}, ["pass_score"]),  # a string, not a number
        ({"pass_score": 40, "marginal_score": 45}, ["marginal_score"]),  # above the pass score
        ({"metrics": {"METRIC": {"weight": -1}}}, ["metrics.METRIC.weight"]),
        ({"metrics": {"METRIC": {"critical": "yes"}}}, ["metrics.METRIC.critical"]),
        ({"metrics": {"METRIC": {"colour": "red"}}}, ["metrics.METRIC.colour"]),
        ({"metrics": {"999999": {"weight": 2}}}, ["metrics"]),  # not one of the replay's
        ({"metrics": {"METRIC": {"weight": 1.0}}}, [""]),  # the same as the replay's: nothing to compare
        ({}, [""]),
        ({"dry_run": True}, ["dry_run"]),
    ],
)
def test_bad_settings_to_try_are_refused_by_field_and_nothing_stored(
    client: Client, owner: User, past: History, changes: dict, fields: list[str]
) -> None:
    base = replayed(client, past, owner)
    metric = str(past.metric.pk)
    body = {
        name: (
            {metric if key == "METRIC" else key: knobs for key, knobs in value.items()} if name == "metrics" else value
        )
        for name, value in changes.items()
    }

    with changes_nothing(replay_state):
        response = post(client, reverse("api:replay_what_if", args=[base["id"]]), body, bearer(owner))

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [
        field.replace("METRIC", metric) for field in fields
    ]


# Applying --------------------------------------------------------------------------------------------


def test_the_owner_applies_a_what_ifs_settings_to_the_gate_in_one_logged_step(
    client: Client, owner: User, past: History
) -> None:
    base = replayed(client, past, owner)
    metric = str(past.metric.pk)
    changes = {"pass_score": 60.0, "metrics": {metric: {"failure_limit": 0}}}
    what_if = post(client, reverse("api:replay_what_if", args=[base["id"]]), changes, bearer(owner)).json()

    response = post(client, reverse("api:replay_apply", args=[what_if["id"]]), None, bearer(owner))

    assert response.status_code == 200
    change = response.json()
    assert (change["gate"], change["replay"], change["changed_by"]) == (past.gate.pk, what_if["id"], "owner")
    assert change["differences"] == [
        {"what": "pass score", "before": 80.0, "after": 60.0},
        {"what": "Error rate: failure limit", "before": 4, "after": 0},
    ]
    assert (change["before"]["pass_score"], change["after"]["pass_score"]) == (80.0, 60.0)
    gate = Gate.objects.get()
    assert (gate.pass_score, gate.gate_metrics.get().failure_limit) == (60.0, 0)
    assert GateChange.objects.get().replay_id == what_if["id"]
    assert client.get(what_if["url"], headers=bearer(owner)).json()["applied_at"] is not None


def test_a_replay_not_finished_cannot_be_applied_and_nothing_changes(client: Client, owner: User) -> None:
    gate = history(owner, [ROLLED_BACK, ROLLED_OUT]).gate
    queued = Replay.objects.start(gate, owner, send_to_worker=False)  # never run

    with changes_nothing(replay_state):
        response = post(client, reverse("api:replay_apply", args=[queued.pk]), None, bearer(owner))

    assert response.status_code == 409
    assert response.json()["code"] == "replay_not_finished"


def test_settings_cannot_be_tried_on_a_replay_not_finished_and_nothing_is_stored(client: Client, owner: User) -> None:
    gate = history(owner, [ROLLED_BACK, ROLLED_OUT]).gate
    queued = Replay.objects.start(gate, owner, send_to_worker=False)  # never run: no release replayed yet

    with changes_nothing(replay_state):
        response = post(client, reverse("api:replay_what_if", args=[queued.pk]), {"pass_score": 60}, bearer(owner))

    assert response.status_code == 409
    assert response.json()["code"] == "replay_not_finished"


def test_a_replay_of_metrics_the_gate_no_longer_has_cannot_be_applied(
    client: Client, owner: User, past: History
) -> None:
    replay = replayed(client, past, owner)
    GateMetric.objects.create(gate=past.gate, metric=MetricFactory.create(owner=owner), weight=1)

    with changes_nothing(replay_state):
        response = post(client, reverse("api:replay_apply", args=[replay["id"]]), None, bearer(owner))

    assert response.status_code == 409
    assert response.json()["code"] == "gate_changed"


# Refusals -------------------------------------------------------------------------------------------


def test_another_account_may_not_replay_try_settings_or_apply_and_nothing_changes(
    client: Client, owner: User, stranger: User, past: History
) -> None:
    replay = replayed(client, past, owner)
    headers = bearer(stranger)

    with changes_nothing(replay_state):
        answers = [
            replay_gate(client, past.gate, headers),
            replay_gate(client, past.gate, headers, since="not a date"),  # refused before the body is read
            post(client, reverse("api:replay_what_if", args=[replay["id"]]), {"pass_score": 60}, headers),
            post(client, reverse("api:replay_what_if", args=[replay["id"]]), {"pass_score": 600}, headers),
            post(client, reverse("api:replay_apply", args=[replay["id"]]), None, headers),
        ]

    assert [answer.status_code for answer in answers] == [403] * 5
    assert {answer.json()["code"] for answer in answers} == {"forbidden"}
    assert answers[0].json()["detail"] == (
        "Only the owner of the gate “Checkout” may replay it, try other settings or apply them."
    )


def test_a_read_only_token_of_the_owner_may_read_but_not_replay(client: Client, owner: User, past: History) -> None:
    replay = replayed(client, past, owner)
    headers = bearer(owner, TokenScope.READ)

    with changes_nothing(replay_state):
        answers = [
            replay_gate(client, past.gate, headers),
            post(client, reverse("api:replay_what_if", args=[replay["id"]]), {"pass_score": 60}, headers),
            post(client, reverse("api:replay_apply", args=[replay["id"]]), None, headers),
        ]

    assert [(answer.status_code, answer.json()["code"]) for answer in answers] == [(403, "read_only_token")] * 3
    assert client.get(replay["url"], headers=headers).status_code == 200


# Jobs -------------------------------------------------------------------------------------------------


def test_a_replays_job_is_listed_and_read_with_its_replay_and_no_metric(
    client: Client, owner: User, contributor: User, past: History
) -> None:
    replay = replayed(client, past, owner)

    listed = client.get(reverse("api:jobs"), headers=bearer(owner)).json()["results"]
    job = client.get(replay["job"]["url"], headers=bearer(contributor, TokenScope.READ))

    (replay_job,) = [each for each in listed if each["kind"] == JobKind.REPLAY]
    assert (replay_job["metric"], replay_job["replay"], replay_job["replay_url"]) == (None, replay["id"], replay["url"])
    assert replay_job["outcome"] == "Replayed 4 releases of “Checkout”."
    assert job.status_code == 200
    assert (job.json()["metric"], job.json()["replay"]) == (None, replay["id"])
    trainings = [each for each in listed if each["kind"] == JobKind.TRAINING]
    assert all(each["metric"] == past.metric.pk and each["replay"] is None for each in trainings)


# Schema -------------------------------------------------------------------------------------------------


def test_the_schema_generates_without_warnings_and_states_the_report_the_api_gives(
    client: Client, owner: User, past: History, tmp_path: Path
) -> None:
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yml"))
    schema = client.get(reverse("api:schema"), headers={"Accept": "application/vnd.oai.openapi+json"}).json()
    replay = replayed(client, past, owner)
    row = client.get(replay["releases_url"], headers=bearer(owner)).json()["results"][0]

    components = schema["components"]["schemas"]
    for path in ("/gates/{gate_id}/replays/", "/replays/{replay_id}/", "/replays/{replay_id}/what-if/"):
        assert f"/api/v1{path}" in schema["paths"]
    assert set(components["Replay"]["properties"]) == set(replay)
    assert set(components["ReplayReport"]["properties"]) == set(replay["report"])
    assert set(components["ReplayedRelease"]["properties"]) == set(row)
    assert components["Job"]["properties"]["metric"]["nullable"] is True
