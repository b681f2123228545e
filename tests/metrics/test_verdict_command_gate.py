"""`manage.py verdict` as a pipeline step gates on it: its exit status, as manage.py ends with
it, is 0 only for a rollout, for a metric's verdict and for a release's."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core.management import execute_from_command_line
from django.db import connections
from django.test import Client
from django.urls import reverse

from metrics.models import Gate, GateMetric, Metric, Release
from metrics.models.gate import Answer
from tests.api.test_gates import bearer, trained


def manage(*arguments: str) -> tuple[int, str, str]:
    """What `manage.py verdict ...` ends with: its exit status, its output and its errors."""
    output, errors = io.StringIO(), io.StringIO()
    code: object = 0  # a command that returns ends the process with 0
    # manage.py closes the database connections as a command ends; here they are the test's own
    # (its transaction, on PostgreSQL), kept open for what the test asserts next.
    with redirect_stdout(output), redirect_stderr(errors), mock.patch.object(connections, "close_all"):
        try:
            execute_from_command_line(["manage.py", "verdict", *arguments])
        except SystemExit as ended:
            code = ended.code
    return (code if isinstance(code, int) else 1), output.getvalue(), errors.getvalue()


@pytest.fixture
def gate(owner: User) -> Gate:
    gate = Gate.objects.create(name="Checkout", owner=owner)
    GateMetric.objects.create(gate=gate, metric=trained(owner, "error rate"), critical=True)
    GateMetric.objects.create(gate=gate, metric=trained(owner, "p95 latency"))
    return gate


def release_of(gate: Gate, owner: User, *values: float) -> Release:
    """A release with one observation per gate metric, in order (rule_data: 250 after 30
    minutes rolls back, 900 rolls out)."""
    release = Release.objects.create(gate=gate, name="checkout-web", version="v42", created_by=owner)
    for gate_metric, value in zip(gate.gate_metrics.order_by("pk"), values, strict=False):
        release.observe(gate_metric.metric, value, owner, minutes=30)
    return release


def test_a_release_verdict_exits_0_only_for_a_rollout(gate: Gate, owner: User) -> None:
    rollout = manage("--release", str(release_of(gate, owner, 900, 900).pk))
    vetoed = manage("--release", str(release_of(gate, owner, 250, 900).pk))
    waiting = manage("--release", str(release_of(gate, owner, 900).pk))

    assert rollout[0] == 0
    summary = "Checkout, checkout-web v42: Roll out: the score 100 reaches the pass score 80."
    assert rollout[1].splitlines()[0] == summary
    assert vetoed[0] == 3
    assert "error rate: Rollback" in vetoed[1]
    assert waiting[0] == 4
    assert "p95 latency: not observed yet" in waiting[1]


def test_a_release_verdict_is_kept_as_the_apis_is_and_printed_as_the_api_gives_it(gate: Gate, owner: User) -> None:
    release = release_of(gate, owner, 900, 900)

    code, printed, _errors = manage("--release", str(release.pk), "--json", "--user", "owner")

    body = json.loads(printed)
    assert code == 0
    assert (body["verdict"], body["score"], body["rule"]) == ("rollout", 100.0, "threshold")
    assert [item["metric_name"] for item in body["metrics"]] == ["error rate", "p95 latency"]
    assert list(Answer.objects.values_list("release", "asked_by", "state")) == [(release.pk, owner.pk, "rollout")]


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        (["--release", "999999"], 1, "No release 999999."),
        (["--release", "0"], 1, "No release 0."),
        (["--release", "99999999999999999999999"], 1, "No release 99999999999999999999999."),
        (["--release", "RELEASE", "--user", "ghost"], 1, "No user named 'ghost'."),
        (["--release", "one"], 2, "invalid int value"),
        (["--release", "RELEASE", "error rate", "1", "1"], 2, "not both"),
        ([], 2, "Give METRIC VALUE MINUTES"),
        (["error rate", "1"], 2, "Give METRIC VALUE MINUTES"),
        (["nothing like it", "1", "1"], 1, "No metric 'nothing like it'"),
    ],
)
def test_no_verdict_is_a_failure_of_its_own_and_nothing_is_kept(
    gate: Gate, owner: User, arguments: list[str], status: int, message: str
) -> None:
    release = release_of(gate, owner, 900, 900)

    code, printed, errors = manage(*(str(release.pk) if argument == "RELEASE" else argument for argument in arguments))

    assert (code, printed) == (status, "")
    assert message in errors
    assert not Answer.objects.exists()


def test_a_metric_verdict_exits_by_its_state_as_the_help_says(gate: Gate, owner: User) -> None:
    assert manage("error rate", "900", "30")[0] == 0
    assert manage("error rate", "250", "30")[0] == 3
    assert manage("error rate", "50000", "30")[0] == 4  # beyond what the model has seen


def test_the_help_gives_every_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        execute_from_command_line(["manage.py", "verdict", "--help"])

    text = " ".join(capsys.readouterr().out.split())
    assert "0 rollout, 3 rollback, 4 inconclusive" in text
    assert "1 when no verdict could be given" in text
    assert "2 when the arguments do not parse" in text
    assert "--release ID" in text


def test_a_release_verdict_prints_what_decided_it_and_the_observations_behind_a_limit(gate: Gate, owner: User) -> None:
    release = release_of(gate, owner, 250, 900)
    error_rate = gate.gate_metrics.get(critical=True).metric
    release.observe(error_rate, 900, owner, minutes=40)  # recovered, too late
    spike = release.observations.order_by("pk").first()
    assert spike is not None

    code, printed, _errors = manage("--release", str(release.pk))

    assert code == 3
    lines = printed.splitlines()
    assert lines[1] == "  Decided by: a critical metric's failure limit (failure_limit)."
    assert "  error rate: Rollback (more rollbacks in the release than its failure limit)" in lines
    assert f"    250 after 30 minutes: Rollback (verdict {spike.verdict.pk})" in lines


def test_a_release_in_dry_run_exits_0_as_the_pipeline_is_answered_and_says_what_it_would_have_done(
    gate: Gate, owner: User
) -> None:
    Gate.objects.filter(pk=gate.pk).update(dry_run=True)
    release = release_of(gate, owner, 250, 900)

    code, printed, _errors = manage("--release", str(release.pk))
    json_code, json_printed, _errors = manage("--release", str(release.pk), "--json")

    assert code == json_code == 0
    assert printed.splitlines()[0].startswith("Checkout, checkout-web v42: Dry run: would have rolled back.")
    assert "Dry run: the pipeline is answered rollout." in printed.splitlines()[1]
    body = json.loads(json_printed)
    assert (body["verdict"], body["decided_by"], body["would_be"]["verdict"]) == ("rollout", "dry_run", "rollback")


def test_a_metric_verdict_beyond_its_data_on_the_bad_side_exits_3_and_says_why(gate: Gate, owner: User) -> None:
    Metric.objects.filter(name="error rate").update(bad_direction="higher")

    code, printed, _errors = manage("error rate", "50000", "30")

    assert code == 3
    assert "is beyond anything seen, on the bad side: higher is worse" in printed
    assert "  Bad direction: higher is worse." in printed.splitlines()


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_page_the_api_and_the_command_say_the_same_of_a_release(
    client: Client, gate: Gate, owner: User, dry_run: bool
) -> None:
    Gate.objects.filter(pk=gate.pk).update(dry_run=dry_run)
    release = release_of(gate, owner, 250, 900)
    release.observe(gate.gate_metrics.get(critical=True).metric, 900, owner, minutes=40)

    code, printed, _errors = manage("--release", str(release.pk))
    body = client.get(reverse("api:release_verdict", args=[release.pk]), headers=bearer(owner)).json()
    client.force_login(owner)
    page = client.get(release.get_absolute_url()).content.decode()

    words = "a critical metric&#x27;s failure limit"
    assert f"Decided by: {words}." in page
    assert printed.splitlines()[1].startswith("  Decided by: a critical metric's failure limit (failure_limit).")
    if dry_run:
        assert (code, body["verdict"], body["would_be"]["decided_by"]) == (0, "rollout", "failure_limit")
        assert "Dry run: would have rolled back." in page
        assert printed.splitlines()[0].endswith(body["summary"])
    else:
        assert (code, body["verdict"], body["decided_by"]) == (3, "rollback", "failure_limit")
        assert printed.splitlines()[0].endswith(body["summary"])
        assert body["summary"] in page
