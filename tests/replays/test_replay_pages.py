"""The replay pages: the gate owner replays a gate from its page and reads the report, tries
other settings beside it and applies them; anyone signed in reads them; a stranger changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import GateChange, GateMetric, Job, Outcome, Replay
from tests.factories import MetricFactory
from tests.metrics.test_verdicts import text_of
from tests.pages import messages_of, table_rows
from tests.refusals import changes_nothing
from tests.replays.history import History, history
from tests.test_content_security_policy import INLINE_HANDLER, INLINE_SCRIPT

ROLLED_BACK, ROLLED_OUT = Outcome.ROLLBACK, Outcome.ROLLOUT


@pytest.fixture
def past(owner: User) -> History:
    """Two releases rolled back and two rolled out. With a failure limit of 4, the gate stops
    each bad one at minute 5 (the fifth rollback observed) and lets each good one out."""
    return history(owner, [ROLLED_BACK, ROLLED_OUT] * 2, minutes=10, failure_limit=4)


def replayed(past: History, owner: User) -> Replay:
    replay = Replay.objects.start(past.gate, owner)
    replay.refresh_from_db()
    return replay


def what_if_data(replay: Replay, **changed: Any) -> dict[str, Any]:
    """The what-if form as the page shows it for `replay`, with `changed` fields typed over it
    (a metric's by its knob: `weight="2"` changes the replay's only metric's weight)."""
    rules = replay.rules
    [rule] = rules["metrics"]
    prefix = f"metrics.{rule['metric']}."
    data = {
        "pass_score": str(rules["pass_score"]),
        "marginal_score": str(rules["marginal_score"]),
        prefix + "weight": str(rule["weight"]),
        prefix + "failure_limit": str(rule["failure_limit"]),
        prefix + "inconclusive_limit": "" if rule["inconclusive_limit"] is None else str(rule["inconclusive_limit"]),
        prefix + "rollback_threshold": str(round(rule["rollback_threshold"] * 100)),
        prefix + "rollout_threshold": str(round(rule["rollout_threshold"] * 100)),
        **({prefix + "critical": "on"} if rule["critical"] else {}),
    }
    for name, value in changed.items():
        key = name if name in ("pass_score", "marginal_score") else prefix + name
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def replay_state() -> dict[str, list]:
    return {
        "replays": list(Replay.objects.order_by("pk").values_list("pk", "applied_at")),
        "jobs": list(Job.objects.order_by("pk").values_list("pk", "status")),
        "changes": list(GateChange.objects.values_list("pk", flat=True)),
        "gate metrics": list(
            GateMetric.objects.order_by("pk").values_list("weight", "critical", "failure_limit", "inconclusive_limit")
        ),
    }


def test_the_owner_replays_the_gate_from_its_page_and_reads_the_report(
    client: Client, owner: User, past: History
) -> None:
    client.force_login(owner)

    response = client.post(reverse("metrics:replay_start", args=[past.gate.pk]), {"since": "", "until": ""})

    replay = Replay.objects.get()
    assert response.status_code == 302
    assert response["Location"] == replay.get_absolute_url() == f"/replays/{replay.pk}/"
    page = client.get(replay.get_absolute_url())
    assert page.status_code == 200
    assert text_of(page, "replay-rests-on") == "It rests on 4 releases with an outcome: 4 judged, 0 not judged."
    assert text_of(page, "catch-rate") == (
        "Bad releases caught 100% 2 of 2, 34%–100% Of the releases the team rolled back (and it could judge), "
        "those it would have stopped."
    )
    assert "0% 0 of 2, 0%–66%" in (text_of(page, "false-rollback-rate") or "")
    assert "0% 0 of 4, 0%–49%" in (text_of(page, "inconclusive-rate") or "")
    assert text_of(page, "catch-minute") == (
        "When it caught them minute 5 median; 2 of 2 caught before the team decided"
    )
    # Two releases of each outcome: too few to trust, and it says so, with why.
    assert text_of(page, "thin-warning") == replay.figures.thin_words()
    assert "at least 10 of each are needed" in replay.figures.thin_words()
    assert text_of(page, "chance-warning") == replay.figures.chance_words()


def test_the_report_shows_its_confusion_matrix_and_each_release_with_its_timeline_in_words(
    client: Client, owner: User, past: History
) -> None:
    client.force_login(owner)
    client.post(reverse("metrics:replay_start", args=[past.gate.pk]), {"since": "", "until": ""})

    page = client.get(Replay.objects.get().get_absolute_url())

    assert table_rows(page, "confusion") == [["2", "0", "0", "0"], ["0", "0", "2", "0"]]
    releases = [row for row in table_rows(page, "replayed-releases") if len(row) > 1]
    assert [row[0] for row in releases] == ["v1", "v2", "v3", "v4"]
    assert releases[0][2:] == ["Rolled back at minute 30", "Rollback", "minute 5", "right", "—"]
    assert releases[1][2:] == ["Rolled out at minute 30", "Rollout", "—", "right", "—"]
    html = page.content.decode()
    assert "minutes 1–4: Inconclusive · minutes 5–30: Rollback. The team decided at minute 30." in html


def test_the_gate_page_lists_its_replays_newest_first_with_their_figures(
    client: Client, owner: User, stranger: User, past: History
) -> None:
    first = replayed(past, owner)
    second = first.what_if(owner, {"metrics": {str(past.metric.pk): {"failure_limit": 0}}})
    client.force_login(stranger)

    response = client.get(reverse("metrics:gate", args=[past.gate.pk]))

    rows = table_rows(response, "replay-list")
    assert [row[0] for row in rows] == [f"Replay {second.pk} what-if", f"Replay {first.pk}"]
    assert rows[0][2] == f"The releases of replay {first.pk}"
    assert rows[1][2] == "Every release with an outcome"
    assert rows[1][3] == "Finished"
    assert rows[1][4] == "caught 2 of 2 rolled back · stopped 0 of 2 rolled out · 0 of 4 inconclusive"
    # Only the owner replays it.
    assert 'data-testid="replay-form"' not in response.content.decode()


def test_a_range_replays_only_the_releases_started_in_it(client: Client, owner: User, past: History) -> None:
    client.force_login(owner)

    # The releases start a day apart from 1 September 2026: the 2nd and 3rd, both days included.
    client.post(reverse("metrics:replay_start", args=[past.gate.pk]), {"since": "2026-09-02", "until": "2026-09-03"})

    replay = Replay.objects.get()
    assert list(replay.replayed.values_list("name", flat=True)) == ["v2", "v3"]


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("2026-09-05", "2026-09-01", "The end of the range must come after its start."),
        ("2030-01-01", "", "No release of the gate “Checkout” started in that range has an outcome"),
        ("the first", "", "Enter a valid date."),
    ],
)
def test_a_bad_range_says_why_and_replays_nothing(
    client: Client, owner: User, past: History, since: str, until: str, message: str
) -> None:
    client.force_login(owner)

    with changes_nothing(replay_state):
        response = client.post(reverse("metrics:replay_start", args=[past.gate.pk]), {"since": since, "until": until})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert Replay.objects.count() == 0


def test_a_stranger_reads_a_replay_but_is_refused_every_change(
    client: Client, owner: User, stranger: User, past: History
) -> None:
    replay = replayed(past, owner)
    what_if = replay.what_if(owner, {"pass_score": 70})
    client.force_login(stranger)

    page = client.get(replay.get_absolute_url())
    assert page.status_code == 200
    assert text_of(page, "replay-rests-on") is not None
    assert 'data-testid="what-if-form"' not in page.content.decode()
    assert 'data-testid="apply-form"' not in client.get(what_if.get_absolute_url()).content.decode()
    with changes_nothing(replay_state):
        started = client.post(reverse("metrics:replay_start", args=[past.gate.pk]), {"since": "", "until": ""})
        tried = client.post(reverse("metrics:replay_what_if", args=[replay.pk]), what_if_data(replay, weight="3"))
        applied = client.post(reverse("metrics:replay_apply", args=[what_if.pk]))
    assert (started.status_code, tried.status_code, applied.status_code) == (403, 403, 403)


def test_the_replay_pages_ask_a_visitor_to_log_in(client: Client, owner: User, past: History) -> None:
    replay = replayed(past, owner)
    row = replay.replayed.first()
    assert row is not None

    for url in (
        replay.get_absolute_url(),
        reverse("metrics:replay_timeline", args=[replay.pk, row.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    with changes_nothing(replay_state):
        for url in (
            reverse("metrics:replay_start", args=[past.gate.pk]),
            reverse("metrics:replay_what_if", args=[replay.pk]),
            reverse("metrics:replay_apply", args=[replay.pk]),
        ):
            assert client.post(url)["Location"].startswith(reverse("accounts:login"))


def test_the_owner_tries_other_settings_and_reads_both_reports_side_by_side(
    client: Client, owner: User, past: History
) -> None:
    replay = replayed(past, owner)
    client.force_login(owner)

    # A failure limit of 0 stops a bad release at its first rollback: minute 1, not 5.
    response = client.post(reverse("metrics:replay_what_if", args=[replay.pk]), what_if_data(replay, failure_limit="0"))

    what_if = Replay.objects.exclude(pk=replay.pk).get()
    assert response["Location"] == what_if.get_absolute_url()
    assert what_if.compared_with == replay
    assert what_if.changes == {"metrics": {str(past.metric.pk): {"failure_limit": 0}}}
    page = client.get(what_if.get_absolute_url())
    assert table_rows(page, "what-if-changes") == [["“Error rate”: Failure limit", "4", "0"]]
    figures = table_rows(page, "comparison-figures")
    assert figures[0] == ["Caught (of those rolled back)", "100% (2 of 2, 34%–100%)", "100% (2 of 2, 34%–100%)"]
    assert figures[3] == ["Median catch minute", "5", "1"]
    assert table_rows(page, "what-if-confusion") == [["2", "0", "0", "0"], ["0", "0", "2", "0"]]
    # The form shows the what-if's own settings, to try others from there.
    assert 'value="0"' in (page.content.decode().split(f'name="metrics.{past.metric.pk}.failure_limit"')[1][:80])


@pytest.mark.parametrize(
    ("changed", "field", "message"),
    [
        ({"marginal_score": "90"}, "marginal_score", "The marginal score cannot be above the pass score."),
        ({"weight": "-1"}, "weight", "Ensure this value is greater than or equal to 0."),
        ({"rollback_threshold": "40"}, "rollback_threshold", "Ensure this value is greater than or equal to 50%."),
        ({"failure_limit": "1.5"}, "failure_limit", "Type a whole number, without separators: 1000."),
        ({}, None, "Change at least one setting to compare with these."),
    ],
)
def test_a_what_if_with_a_bad_setting_says_why_on_its_field_and_replays_nothing(
    client: Client, owner: User, past: History, changed: dict[str, str], field: str | None, message: str
) -> None:
    replay = replayed(past, owner)
    client.force_login(owner)

    with changes_nothing(replay_state):
        response = client.post(reverse("metrics:replay_what_if", args=[replay.pk]), what_if_data(replay, **changed))

    assert response.status_code == 400
    html = response.content.decode()
    if field is None:
        assert message in (text_of(response, "what-if-errors") or "")
    else:
        name = field if field.endswith("_score") else f"metrics.{past.metric.pk}.{field}"
        assert message in html.split(f'id="id_{name}_error"')[1].split("</div></div>")[0]


def test_applying_a_what_if_makes_its_settings_the_gates_and_logs_the_change(
    client: Client, owner: User, past: History
) -> None:
    what_if = replayed(past, owner).what_if(owner, {"pass_score": 70, "metrics": {str(past.metric.pk): {"weight": 2}}})
    client.force_login(owner)

    response = client.post(reverse("metrics:replay_apply", args=[what_if.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("metrics:gate", args=[past.gate.pk])
    assert messages_of(response) == [f"The settings of replay {what_if.pk} are now the gate's: 2 settings changed."]
    past.gate.refresh_from_db()
    assert past.gate.pass_score == 70
    assert past.gate.gate_metrics.get().weight == 2
    change = GateChange.objects.get()
    assert (change.replay, change.changed_by) == (what_if, owner)
    logged = text_of(response, "gate-changes") or ""
    assert f"by owner, from replay {what_if.pk}" in logged
    assert logged.endswith("Pass score: 80 → 70 “Error rate”: Weight: 1 → 2")


def test_applying_settings_to_a_gate_whose_metrics_changed_since_is_refused_with_why(
    client: Client, owner: User, past: History
) -> None:
    what_if = replayed(past, owner).what_if(owner, {"pass_score": 70})
    GateMetric.objects.create(gate=past.gate, metric=MetricFactory.create(owner=owner, name="Latency"))
    client.force_login(owner)

    with changes_nothing(replay_state):
        response = client.post(reverse("metrics:replay_apply", args=[what_if.pk]), follow=True)

    assert response.redirect_chain[-1][0] == what_if.get_absolute_url()
    assert messages_of(response) == [
        "The metrics of the gate “Checkout” changed since this replay: its settings no longer fit the gate. "
        "Replay the gate again and compare with that."
    ]
    past.gate.refresh_from_db()
    assert past.gate.pass_score == 80


def test_a_replay_still_running_shows_its_progress(client: Client, owner: User, past: History) -> None:
    replay = Replay.objects.start(past.gate, owner, send_to_worker=False)
    client.force_login(owner)

    page = client.get(replay.get_absolute_url())

    html = page.content.decode()
    assert "Replay of “Checkout”, asked by owner" in html
    assert f'data-job-progress="{reverse("metrics:job_progress", args=[replay.job.pk])}"' in html
    assert 'data-testid="replay-figures"' not in html
    # Its progress is read like a training's, by any account.
    progress = client.get(reverse("metrics:job_progress", args=[replay.job.pk])).json()
    assert (progress["status"], progress["is_active"]) == ("queued", True)
    # And the jobs page lists it, linked to its report.
    jobs = client.get(reverse("metrics:jobs"))
    assert table_rows(jobs)[0][:2] == ["Checkout", "Replay"]
    assert f'href="{replay.get_absolute_url()}"' in jobs.content.decode()


def test_a_replayed_releases_timeline_marks_the_moment_the_team_decided(
    client: Client, owner: User, stranger: User, past: History
) -> None:
    replay = replayed(past, owner)
    row = replay.replayed.get(name="v1")
    client.force_login(stranger)

    figure = client.get(reverse("metrics:replay_timeline", args=[replay.pk, row.pk])).json()

    markers = {trace["name"]: trace["x"] for trace in figure["data"] if trace.get("mode") == "markers"}
    assert markers == {"Inconclusive": [1, 2, 3, 4], "Rollback": list(range(5, 31))}
    [decided] = figure["layout"]["shapes"]
    assert decided["x0"] == decided["x1"] == 30
    assert figure["layout"]["annotations"][0]["text"] == "The team decided"
    other = replayed(past, owner)
    assert client.get(reverse("metrics:replay_timeline", args=[other.pk, row.pk])).status_code == 404


def test_the_report_and_a_what_if_load_their_scripts_from_files_under_the_content_security_policy(
    client: Client, owner: User, past: History
) -> None:
    replay = replayed(past, owner)
    what_if = replay.what_if(owner, {"pass_score": 70})
    client.force_login(owner)

    for url in (replay.get_absolute_url(), what_if.get_absolute_url(), reverse("metrics:gate", args=[past.gate.pk])):
        response = client.get(url)
        html = response.content.decode()
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert INLINE_SCRIPT.findall(html) == []
        assert INLINE_HANDLER.findall(html) == []
        if url != reverse("metrics:gate", args=[past.gate.pk]):
            # The timelines' script, and plotly from the site's own files.
            assert 'js/replay.js" data-plotly-src="/static/vendor/plotly/plotly-basic.min.js"' in html
