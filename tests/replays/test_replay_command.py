"""`manage.py replay GATE` replays a gate here, as its owner, and prints the report the API gives;
its exit status says whether a report was produced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from metrics.models import Gate, Job, JobStatus, Outcome, Replay
from tests.api.test_gates import bearer
from tests.api.test_replays import replay_state
from tests.refusals import changes_nothing
from tests.replays.history import History, history

ROLLED_BACK, ROLLED_OUT = Outcome.ROLLBACK, Outcome.ROLLOUT
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def past(owner: User) -> History:
    """Four past releases, two rolled back and two rolled out, each bad one caught at minute 5."""
    return history(owner, [ROLLED_BACK, ROLLED_OUT] * 2, failure_limit=4)


def test_the_command_replays_a_gate_named_as_its_owner_and_prints_the_report(
    owner: User, past: History, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("replay", "Checkout")

    printed = capsys.readouterr().out.splitlines()
    replay = Replay.objects.get()
    assert (replay.gate, replay.requested_by, replay.is_finished) == (past.gate, owner, True)
    assert printed[0] == f"Replay {replay.pk} of “Checkout”: 4 replayed, 4 judged."
    assert printed[1] == "Every release with an outcome."
    assert printed[3] == "Caught: 2 of 2 releases rolled back (100.0%, 95% interval 34.2% to 100.0%)."
    assert printed[4] == "  Median minute 5 (each: 5, 5); 2 stopped before the team decided."
    assert printed[5] == "False rollbacks: 0 of 2 releases rolled out (0.0%, 95% interval 0.0% to 65.8%)."
    assert printed[6] == "Inconclusive (a person paged): 0 of 4 releases judged (0.0%, 95% interval 0.0% to 49.0%)."
    assert printed[7].startswith("Warning: Too little history to trust: it rests on 2 releases rolled back")
    assert printed[8].startswith("Warning: No better than chance")
    assert printed[10:13] == [
        "What the team did, against what the replay would have said:",
        "               rollback  inconclusive  rollout  not judged",
        "  rolled back         2             0        0           0",
    ]
    assert printed[13] == "  rolled out          0             0        2           0"


def test_the_report_ends_with_a_line_per_release_oldest_first(
    past: History, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("replay", "Checkout")

    printed = capsys.readouterr().out.splitlines()
    releases = printed[printed.index("Releases, oldest first:") + 1 :]
    assert len(releases) == 4
    assert releases[0].endswith("v1: rolled back (decided at minute 30) → stopped at minute 5")
    assert releases[1].endswith("v2: rolled out (decided at minute 30) → rollout")


def test_a_gate_by_id_and_a_range_replays_the_releases_started_in_it(
    past: History, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("replay", str(past.gate.pk), "--since", "2026-09-02T12:00Z", "--until", "2026-09-04")

    printed = capsys.readouterr().out
    assert Replay.objects.get().replayed.count() == 2
    assert "2 replayed" in printed
    assert "v2: rolled out" in printed
    assert "v3: rolled back" in printed
    assert "v1:" not in printed


def test_json_gives_the_same_report_and_releases_as_the_api(
    client: Client, owner: User, past: History, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("replay", "Checkout", "--json")

    printed = json.loads(capsys.readouterr().out)
    replay = Replay.objects.get()
    api = client.get(reverse("api:replay", args=[replay.pk]), headers=bearer(owner)).json()
    rows = client.get(api["releases_url"], headers=bearer(owner)).json()["results"]
    assert (printed["replay"], printed["gate"], printed["gate_name"]) == (replay.pk, past.gate.pk, "Checkout")
    assert printed["report"] == api["report"]
    assert printed["releases"] == rows
    assert printed["report"]["catch_rate"]["share"] == 1.0


def test_an_unknown_gate_is_an_error_and_nothing_is_stored(past: History) -> None:
    with changes_nothing(replay_state), pytest.raises(CommandError, match="No gate 'Payments'") as refused:
        call_command("replay", "Payments")

    assert refused.value.returncode == 1


def test_a_name_that_several_gates_have_asks_for_the_id(owner: User, stranger: User, past: History) -> None:
    other = Gate.objects.create(name="Checkout", owner=stranger)

    with changes_nothing(replay_state), pytest.raises(CommandError, match="names several gates") as refused:
        call_command("replay", "Checkout")

    assert f"{past.gate.pk} (of owner), {other.pk} (of stranger)" in str(refused.value)
    assert refused.value.returncode == 1


def test_nothing_to_replay_is_an_error_and_nothing_is_stored(past: History) -> None:
    with changes_nothing(replay_state), pytest.raises(CommandError, match="started in that range") as refused:
        call_command("replay", "Checkout", "--since", "2027-01-01")

    assert refused.value.returncode == 1


def test_a_range_that_ends_before_it_starts_is_a_usage_error(past: History) -> None:
    with changes_nothing(replay_state), pytest.raises(CommandError, match="must come after its start") as refused:
        call_command("replay", "Checkout", "--since", "2026-09-03", "--until", "2026-09-02")

    assert refused.value.returncode == 2


def test_a_date_that_does_not_parse_is_refused_before_anything_runs(past: History) -> None:
    with changes_nothing(replay_state), pytest.raises(CommandError, match="expected a date"):
        call_command("replay", "Checkout", "--since", "last tuesday")


def test_a_replay_that_fails_is_an_error_with_its_outcome(
    past: History, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(self: Replay, progress: object = None) -> int:
        raise RuntimeError("the engine broke")

    monkeypatch.setattr(Replay, "run", broken)

    with pytest.raises(CommandError, match="The replay of “Checkout” failed unexpectedly") as refused:
        call_command("replay", "Checkout")

    assert refused.value.returncode == 1
    assert capsys.readouterr().out == ""  # no report
    assert Job.objects.get().status == JobStatus.FAILED
    assert Replay.objects.get().report is None


def test_from_the_shell_it_exits_0_with_a_report_1_for_an_unknown_gate_and_2_for_a_bad_date(tmp_path: Path) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "CELERY_"))}
    environment.update(DJANGO_SETTINGS_MODULE="mbreak.settings", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")

    def manage(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - this interpreter, our own code
            [sys.executable, "manage.py", *arguments],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    assert manage("migrate", "--noinput", "-v", "0").returncode == 0
    assert manage("load_demo").returncode == 0  # its gate "Checkout deploys" has releases with an outcome

    replayed = manage("replay", "Checkout deploys", "--json")
    unknown = manage("replay", "Payments")
    bad_date = manage("replay", "Checkout deploys", "--since", "last tuesday")

    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["report"]["releases"] > 0
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert "No gate 'Payments'" in unknown.stderr
    assert bad_date.returncode == 2
    assert "expected a date" in bad_date.stderr
