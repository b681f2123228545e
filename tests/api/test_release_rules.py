"""The release verdict's rules (issue 18), as a pipeline meets them through the API: critical
metrics that keep a release from rolling out, verdicts over the whole release with failure
limits, missing data, dry run, and a score and `decided_by` that say honestly what decided."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from metrics.models import Answer, DecidedBy, Gate, Metric
from tests.api.test_gates import (
    INCONCLUSIVE,
    ROLLBACK,
    ROLLOUT,
    Argo,
    bearer,
    make_gate,
    observe,
    start_release,
    trained,
    weighted_gate,
)
from tests.refusals import changes_nothing

HIGH = {"value": 50_000, "minutes": 30}  # far above anything the models have seen (about 100 to 1000)
PASS, MARGINAL = 80, 50  # the gates' thresholds here (the defaults)


@pytest.fixture
def checkout(owner: User) -> dict[str, Metric]:
    return {name: trained(owner, name) for name in ("error rate", "p95 latency", "cpu")}


class Kayenta:
    """A Kayenta-style analysis on the same JSON: successCondition `result.score != nil &&
    result.score >= PASS`, failureCondition `result.score != nil && result.score < MARGINAL`."""

    def __init__(self, client: Client, headers: dict) -> None:
        self.client, self.headers = client, headers

    def measure(self, release: dict) -> str:
        score = self.client.get(release["verdict_url"], headers=self.headers).json()["score"]
        if score is not None and score >= PASS:
            return "successful"
        if score is not None and score < MARGINAL:
            return "failed"
        return "inconclusive"


def verdict_of(client: Client, headers: dict, release: dict) -> dict[str, Any]:
    response = client.get(release["verdict_url"], headers=headers)
    assert response.status_code == 200
    return response.json()


def metric_in(body: dict, name: str) -> dict[str, Any]:
    return next(item for item in body["metrics"] if item["metric_name"] == name)


def set_direction(metric: Metric, direction: str) -> None:
    Metric.objects.filter(pk=metric.pk).update(bad_direction=direction)


# --- Direction: beyond the data on the bad side ----------------------------------------------


def test_a_critical_metric_beyond_its_data_on_the_bad_side_rolls_the_release_back(
    client: Client, owner: User, checkout
) -> None:
    headers = bearer(owner)
    set_direction(checkout["error rate"], "higher")
    release = start_release(client, headers, make_gate(client, headers, checkout))
    observe(client, headers, release, checkout["p95 latency"], ROLLOUT)

    body = observe(client, headers, release, checkout["error rate"], HIGH).json()

    assert (body["verdict"], body["score"], body["decided_by"]) == ("rollback", 0.0, "critical_veto")
    error_rate = metric_in(body, "error rate")
    assert error_rate["verdict"]["verdict"] == "rollback"
    assert [reason["code"] for reason in error_rate["verdict"]["reasons"]] == ["beyond_bad_side"]
    assert error_rate["verdict"]["reasons"][0]["message"].startswith(
        "The value 50000 is beyond anything seen, on the bad side: higher is worse"
    )


def test_beyond_the_data_on_the_good_side_a_critical_metric_stays_inconclusive(
    client: Client, owner: User, checkout
) -> None:
    headers = bearer(owner)
    set_direction(checkout["error rate"], "lower")
    release = start_release(client, headers, make_gate(client, headers, checkout))
    observe(client, headers, release, checkout["p95 latency"], ROLLOUT)

    body = observe(client, headers, release, checkout["error rate"], HIGH).json()

    assert metric_in(body, "error rate")["verdict"]["verdict"] == "inconclusive"
    assert (body["verdict"], body["decided_by"], body["score"]) == ("inconclusive", "score", 66.7)


# --- Critical means critical -----------------------------------------------------------------


def critical_and_heavy(client: Client, headers: dict, checkout: dict[str, Metric], **options: Any) -> dict:
    """A gate where the non-critical metric weighs so much that the score alone would pass."""
    rows = [
        {"metric": checkout["error rate"].pk, "weight": 1, "critical": True, **options},
        {"metric": checkout["p95 latency"].pk, "weight": 9},
    ]
    return weighted_gate(client, headers, rows)


def test_a_critical_inconclusive_metric_keeps_a_passing_score_from_rolling_out(
    client: Client, owner: User, checkout
) -> None:
    headers = bearer(owner)
    release = start_release(client, headers, critical_and_heavy(client, headers, checkout))
    observe(client, headers, release, checkout["p95 latency"], ROLLOUT)

    body = observe(client, headers, release, checkout["error rate"], INCONCLUSIVE).json()

    assert (body["verdict"], body["score"], body["decided_by"], body["rule"]) == (
        "inconclusive",
        None,
        "critical_inconclusive",
        "veto",
    )
    assert body["summary"] == (
        "A person decides: the critical metric “error rate” is inconclusive, so the score 95 may not roll the "
        "release out."
    )
    assert Argo(client, headers).measure(release) == Kayenta(client, headers).measure(release) == "inconclusive"


def test_an_observe_only_metric_never_counts_even_when_critical(client: Client, owner: User, checkout) -> None:
    headers = bearer(owner)
    rows = [
        {"metric": checkout["error rate"].pk, "critical": True, "observe_only": True},
        {"metric": checkout["p95 latency"].pk},
    ]
    release = start_release(client, headers, weighted_gate(client, headers, rows))
    observe(client, headers, release, checkout["error rate"], ROLLBACK)

    body = observe(client, headers, release, checkout["p95 latency"], ROLLOUT).json()

    assert (body["verdict"], body["score"], body["decided_by"]) == ("rollout", 100.0, "score")


# --- Verdicts over the release ---------------------------------------------------------------


def test_with_failure_limit_0_a_spike_keeps_a_critical_metric_rolled_back_after_it_recovers(
    client: Client, owner: User, checkout
) -> None:
    headers = bearer(owner)
    release = start_release(client, headers, make_gate(client, headers, checkout))
    observe(client, headers, release, checkout["p95 latency"], ROLLOUT)
    spike = observe(client, headers, release, checkout["error rate"], ROLLBACK).json()

    body = observe(client, headers, release, checkout["error rate"], ROLLOUT).json()

    assert (spike["verdict"], spike["decided_by"]) == ("rollback", "critical_veto")
    assert (body["verdict"], body["score"], body["decided_by"], body["rule"]) == (
        "rollback",
        0.0,
        "failure_limit",
        "veto",
    )
    error_rate = metric_in(body, "error rate")
    assert (error_rate["verdict_over_release"], error_rate["cause"], error_rate["verdict"]["verdict"]) == (
        "rollback",
        "failure_limit",
        "rollout",  # its newest observation looks fine
    )
    assert error_rate["counts"] == {"observations": 2, "rollbacks": 1, "inconclusives": 0}
    spike_verdict = metric_in(spike, "error rate")["verdict"]
    assert [
        (cause["verdict_id"], cause["value"], cause["minutes"], cause["verdict"]) for cause in error_rate["caused_by"]
    ] == [(spike_verdict["id"], 250.0, 30.0, "rollback")]
    assert body["summary"] == (
        "Roll back: the critical metric “error rate” was judged rollback more often in this release than its "
        "failure limit allows."
    )


def test_with_failure_limit_2_two_spikes_are_tolerated_and_a_third_rolls_back_for_good(
    client: Client, owner: User, checkout
) -> None:
    headers = bearer(owner)
    release = start_release(client, headers, critical_and_heavy(client, headers, checkout, failure_limit=2))
    observe(client, headers, release, checkout["p95 latency"], ROLLOUT)

    def after(observation: dict) -> tuple[str, str, Any, str]:
        body = observe(client, headers, release, checkout["error rate"], observation).json()
        error_rate = metric_in(body, "error rate")
        return body["verdict"], body["decided_by"], error_rate["verdict_over_release"], error_rate["cause"]

    assert after(ROLLBACK) == ("inconclusive", "critical_inconclusive", "inconclusive", "tolerated_failure")
    assert after(ROLLOUT) == ("rollout", "score", "rollout", "newest")  # recovered: one spike is tolerated
    assert after(ROLLBACK) == ("inconclusive", "critical_inconclusive", "inconclusive", "tolerated_failure")
    assert after(ROLLBACK) == ("rollback", "critical_veto", "rollback", "failure_limit")  # 3 > 2
    assert after(ROLLOUT) == ("rollback", "failure_limit", "rollback", "failure_limit")  # for good
    body = verdict_of(client, headers, release)
    assert [cause["value"] for cause in metric_in(body, "error rate")["caused_by"]] == [250.0, 250.0, 250.0]


def test_judged_on_its_newest_value_a_metric_recovers_from_a_spike_as_before(
    client: Client, owner: User, checkout
) -> None:
    headers = bearer(owner)
    rows = [
        {"metric": checkout["error rate"].pk, "weight": 2, "critical": True, "judged_on": "newest"},
        {"metric": checkout["p95 latency"].pk, "weight": 1},
    ]
    release = start_release(client, headers, weighted_gate(client, headers, rows))
    observe(client, headers, release, checkout["p95 latency"], ROLLOUT)
    observe(client, headers, release, checkout["error rate"], ROLLBACK)

    body = observe(client, headers, release, checkout["error rate"], ROLLOUT).json()

    assert (body["verdict"], body["score"], body["decided_by"]) == ("rollout", 100.0, "score")
    error_rate = metric_in(body, "error rate")
    assert (error_rate["judged_on"], error_rate["cause"], error_rate["caused_by"]) == ("newest", "newest", [])


def test_over_its_inconclusive_limit_a_metric_stays_inconclusive(client: Client, owner: User, checkout) -> None:
    headers = bearer(owner)
    rows = [
        {"metric": checkout["error rate"].pk, "critical": True, "inconclusive_limit": 0},
        {"metric": checkout["p95 latency"].pk},
    ]
    release = start_release(client, headers, weighted_gate(client, headers, rows))
    observe(client, headers, release, checkout["p95 latency"], ROLLOUT)
    observe(client, headers, release, checkout["error rate"], INCONCLUSIVE)

    body = observe(client, headers, release, checkout["error rate"], ROLLOUT).json()

    error_rate = metric_in(body, "error rate")
    assert (error_rate["verdict_over_release"], error_rate["cause"], len(error_rate["caused_by"])) == (
        "inconclusive",
        "inconclusive_limit",
        1,
    )
    assert (body["verdict"], body["score"]) == ("inconclusive", 75.0)  # a half point: between the thresholds


# --- Waiting and missing ---------------------------------------------------------------------


def test_a_counted_metric_not_observed_is_waited_for_with_no_score(client: Client, owner: User, checkout) -> None:
    headers = bearer(owner)
    release = start_release(client, headers, make_gate(client, headers, checkout))

    body = observe(client, headers, release, checkout["error rate"], ROLLOUT).json()

    assert (body["verdict"], body["score"], body["decided_by"], body["rule"]) == (
        "inconclusive",
        None,
        "waiting",
        "waiting",
    )
    assert metric_in(body, "p95 latency")["cause"] == "not_observed"


@pytest.mark.parametrize(
    ("missing_means", "verdict", "score", "decided_by"),
    [("inconclusive", "inconclusive", None, "critical_inconclusive"), ("rollback", "rollback", 0.0, "critical_veto")],
)
def test_a_metric_not_observed_in_time_is_missing_and_judged_as_the_gate_says(
    client: Client, owner: User, checkout, missing_means, verdict, score, decided_by
) -> None:
    headers = bearer(owner)
    gate = critical_and_heavy(client, headers, checkout)
    client.patch(
        gate["url"],
        {"missing_after_minutes": 10, "missing_means": missing_means},
        content_type="application/json",
        headers=headers,
    )
    young = start_release(client, headers, gate, version="v1")
    late = start_release(
        client, headers, gate, version="v2", started_at=(timezone.now() - timedelta(minutes=15)).isoformat()
    )
    for release in (young, late):
        observe(client, headers, release, checkout["p95 latency"], ROLLOUT)

    waited, missing = verdict_of(client, headers, young), verdict_of(client, headers, late)

    assert (waited["verdict"], waited["decided_by"]) == ("inconclusive", "waiting")
    assert (missing["verdict"], missing["score"], missing["decided_by"]) == (verdict, score, decided_by)
    error_rate = metric_in(missing, "error rate")
    assert (error_rate["verdict_over_release"], error_rate["cause"], error_rate["verdict"]) == (
        missing_means,
        "missing",
        None,
    )


def test_without_a_missing_rule_a_metric_is_waited_for_as_long_as_it_takes(
    client: Client, owner: User, checkout
) -> None:
    headers = bearer(owner)
    gate = make_gate(client, headers, checkout)
    a_year_ago = (timezone.now() - timedelta(days=365)).isoformat()
    release = start_release(client, headers, gate, started_at=a_year_ago)

    body = observe(client, headers, release, checkout["p95 latency"], ROLLOUT).json()

    assert (body["verdict"], body["decided_by"]) == ("inconclusive", "waiting")


# --- Dry run ---------------------------------------------------------------------------------


def test_a_gate_in_dry_run_answers_rollout_and_keeps_and_shows_what_it_would_have_done(
    client: Client, owner: User, checkout
) -> None:
    headers = bearer(owner)
    gate = make_gate(client, headers, checkout, dry_run=True)
    release = start_release(client, headers, gate)
    observe(client, headers, release, checkout["p95 latency"], ROLLOUT)

    body = observe(client, headers, release, checkout["error rate"], ROLLBACK).json()

    assert (body["verdict"], body["score"], body["decided_by"], body["dry_run"]) == ("rollout", 100.0, "dry_run", True)
    assert body["would_be"] == {
        "verdict": "rollback",
        "score": 0.0,
        "decided_by": "critical_veto",
        "summary": "Roll back: the critical metric “error rate” says rollback.",
    }
    assert (
        body["summary"] == "Dry run: would have rolled back. Roll back: the critical metric “error rate” says rollback."
    )
    assert Argo(client, headers).measure(release) == "successful"
    kept = Answer.objects.order_by("pk").last()
    assert kept is not None
    assert (kept.state, kept.score, kept.decided_by, kept.dry_run) == ("rollback", 0.0, "critical_veto", True)
    client.force_login(owner)
    page = client.get(release["web_url"]).content.decode()
    assert "Dry run: would have rolled back." in page
    assert "Rollback recommended" in page
    assert "dry run: answered rollout" in page


def test_out_of_dry_run_the_answer_has_no_would_be(client: Client, owner: User, checkout) -> None:
    headers = bearer(owner)
    release = start_release(client, headers, make_gate(client, headers, checkout))

    body = observe(client, headers, release, checkout["error rate"], ROLLBACK).json()

    assert (body["dry_run"], body["would_be"]) == (False, None)


# --- Every path: the verdict condition and a Kayenta-style score condition agree -------------


def path_score(client: Client, headers: dict, checkout: dict, values: tuple[dict, dict]) -> dict:
    release = start_release(client, headers, make_gate(client, headers, checkout))
    observe(client, headers, release, checkout["error rate"], values[0])
    observe(client, headers, release, checkout["p95 latency"], values[1])
    return release


PATHS: dict[str, tuple[str, Callable[[Client, dict, dict], dict]]] = {
    "score, rollout": ("score", lambda c, h, m: path_score(c, h, m, (ROLLOUT, ROLLOUT))),
    "score, between": ("score", lambda c, h, m: path_score(c, h, m, (INCONCLUSIVE, ROLLOUT))),
    "score, rollback": ("score", lambda c, h, m: path_score(c, h, m, (INCONCLUSIVE, ROLLBACK))),
    "critical veto": ("critical_veto", lambda c, h, m: path_score(c, h, m, (ROLLBACK, ROLLOUT))),
    "waiting": ("waiting", lambda c, h, m: start_release(c, h, make_gate(c, h, m))),
}


def path_failure_limit(client: Client, headers: dict, checkout: dict) -> dict:
    release = path_score(client, headers, checkout, (ROLLBACK, ROLLOUT))
    observe(client, headers, release, checkout["error rate"], ROLLOUT)
    return release


def path_critical_inconclusive(client: Client, headers: dict, checkout: dict) -> dict:
    release = start_release(client, headers, critical_and_heavy(client, headers, checkout))
    observe(client, headers, release, checkout["error rate"], INCONCLUSIVE)
    observe(client, headers, release, checkout["p95 latency"], ROLLOUT)
    return release


def path_nothing_counts(client: Client, headers: dict, checkout: dict) -> dict:
    rows = [{"metric": checkout["cpu"].pk, "observe_only": True}]
    release = start_release(client, headers, weighted_gate(client, headers, rows))
    observe(client, headers, release, checkout["cpu"], ROLLOUT)
    return release


def path_dry_run(client: Client, headers: dict, checkout: dict) -> dict:
    gate = make_gate(client, headers, checkout)
    Gate.objects.filter(pk=gate["id"]).update(dry_run=True)
    release = start_release(client, headers, gate)
    observe(client, headers, release, checkout["error rate"], ROLLBACK)
    return release


PATHS |= {
    "failure limit": ("failure_limit", path_failure_limit),
    "critical inconclusive": ("critical_inconclusive", path_critical_inconclusive),
    "nothing counts": ("nothing_counts", path_nothing_counts),
    "dry run": ("dry_run", path_dry_run),
}


@pytest.mark.parametrize("path", PATHS)
def test_the_verdict_condition_and_a_kayenta_score_condition_agree_on_every_path(
    client: Client, owner: User, checkout, path: str
) -> None:
    headers = bearer(owner)
    decided_by, make = PATHS[path]

    release = make(client, headers, checkout)

    assert verdict_of(client, headers, release)["decided_by"] == decided_by
    assert Argo(client, headers).measure(release) == Kayenta(client, headers).measure(release)


def test_every_decided_by_has_a_path_above() -> None:
    assert {decided_by for decided_by, _make in PATHS.values()} == set(DecidedBy.values)


# --- The owner sets the new rules; bad input and strangers change nothing --------------------


def test_the_owner_sets_a_gates_missing_rule_dry_run_and_each_metrics_limits(
    client: Client, owner: User, checkout
) -> None:
    headers = bearer(owner)
    gate = make_gate(client, headers, checkout)

    changed = client.patch(
        gate["url"],
        {
            "missing_after_minutes": 20,
            "missing_means": "rollback",
            "dry_run": True,
            "metrics": [
                {"metric": checkout["error rate"].pk, "critical": True, "failure_limit": 2, "inconclusive_limit": 3},
                {"metric": checkout["p95 latency"].pk, "judged_on": "newest"},
            ],
        },
        content_type="application/json",
        headers=headers,
    ).json()

    assert (changed["missing_after_minutes"], changed["missing_means"], changed["dry_run"]) == (20.0, "rollback", True)
    stored = Gate.objects.get()
    assert (stored.missing_after_minutes, stored.missing_means, stored.dry_run) == (20.0, "rollback", True)
    assert list(stored.gate_metrics.order_by("pk").values_list("judged_on", "failure_limit", "inconclusive_limit")) == [
        ("release", 2, 3),
        ("newest", 0, None),
    ]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"failure_limit": -1}, "failure_limit"),
        ({"failure_limit": 10_001}, "failure_limit"),
        ({"failure_limit": 1.5}, "failure_limit"),
        ({"inconclusive_limit": -1}, "inconclusive_limit"),
        ({"judged_on": "oldest"}, "judged_on"),
    ],
)
def test_a_bad_limit_is_refused_and_the_gate_left_as_it_was(
    client: Client, owner: User, checkout, item: dict, field: str
) -> None:
    gate = make_gate(client, bearer(owner), checkout)

    with changes_nothing(gate_rules):
        response = client.patch(
            gate["url"],
            {"metrics": [{"metric": checkout["cpu"].pk, **item}]},
            content_type="application/json",
            headers=bearer(owner),
        )

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [f"metrics.0.{field}"]


def gate_rules() -> list[tuple]:
    return [
        (
            gate.dry_run,
            gate.missing_after_minutes,
            gate.missing_means,
            *gate.gate_metrics.order_by("pk").values_list("judged_on", "failure_limit", "inconclusive_limit"),
        )
        for gate in Gate.objects.order_by("pk")
    ]


def test_a_stranger_cannot_put_a_gate_in_dry_run(client: Client, owner: User, stranger: User, checkout) -> None:
    gate = make_gate(client, bearer(owner), checkout)

    with changes_nothing(gate_rules):
        response = client.patch(
            gate["url"], {"dry_run": True}, content_type="application/json", headers=bearer(stranger)
        )

    assert response.status_code == 403
