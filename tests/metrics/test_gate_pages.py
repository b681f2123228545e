"""The gate editor: made by anyone, changed by its owner only, saved whole or not at all."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.forms import GATE_METRIC_HELP_IDS
from metrics.models import Gate, GateMetric, Metric, Release
from tests.factories import MetricFactory
from tests.metrics.test_verdicts import text_of
from tests.pages import control, described_by, table_rows
from tests.refusals import changes_nothing

# What a browser sends for a row's fields left as the page shows them in an empty row.
UNTOUCHED_ROW = {"weight": "1", "judged_on": "release", "failure_limit": "0", "inconclusive_limit": ""}


def form_data(metrics: list[dict[str, Any]], initial: int = 0, **gate: Any) -> dict[str, Any]:
    """The gate editor's fields as a browser posts them: `metrics` rows, then empty rows up to
    three; the fields a row or the gate does not name, as the page shows them by default."""
    data: dict[str, Any] = {
        "name": "Checkout deploys",
        "pass_score": "80",
        "marginal_score": "50",
        "missing_after_minutes": "",
        "missing_means": "inconclusive",
        "pull_interval_seconds": "60",
        "pull_for_minutes": "120",
        "metrics-TOTAL_FORMS": str(max(len(metrics), 3)),
        "metrics-INITIAL_FORMS": str(initial),
        "metrics-MIN_NUM_FORMS": "0",
        "metrics-MAX_NUM_FORMS": "1000",
        **gate,
    }
    rows = [*metrics, *[{}] * (max(len(metrics), 3) - len(metrics))]
    for index, row in enumerate(rows):
        for key, value in {**UNTOUCHED_ROW, **row}.items():
            data[f"metrics-{index}-{key}"] = value
    return data


def state() -> dict[str, list]:
    return {
        "gates": list(
            Gate.objects.order_by("pk").values_list(
                "pk",
                "name",
                "owner_id",
                "pass_score",
                "marginal_score",
                "missing_after_minutes",
                "missing_means",
                "dry_run",
                "pull_interval_seconds",
                "pull_for_minutes",
            )
        ),
        "metrics": list(
            GateMetric.objects.order_by("pk").values_list(
                "gate_id", "metric_id", "weight", "critical", "judged_on", "failure_limit", "inconclusive_limit"
            )
        ),
    }


@pytest.fixture
def two(owner: User) -> list[Metric]:
    return [MetricFactory.create(owner=owner, name=name) for name in ("Error rate", "Requests per minute")]


def test_a_gate_is_made_with_its_metrics_and_owned_by_who_made_it(client: Client, contributor: User, two) -> None:
    client.force_login(contributor)

    response = client.post(
        reverse("metrics:gate_create"),
        form_data([{"metric": two[0].pk, "weight": "2", "critical": "on"}, {"metric": two[1].pk, "weight": "1"}]),
        follow=True,
    )

    gate = Gate.objects.get()
    assert (gate.name, gate.owner, gate.pass_score, gate.marginal_score) == ("Checkout deploys", contributor, 80, 50)
    assert list(gate.gate_metrics.values_list("metric__name", "weight", "critical", "observe_only")) == [
        ("Error rate", 2.0, True, False),
        ("Requests per minute", 1.0, False, False),
    ]
    assert "Gate “Checkout deploys” created." in response.content.decode()
    assert "Checkout deploys" in client.get(reverse("metrics:gates")).content.decode()


@pytest.mark.parametrize(
    ("rows", "gate", "message"),
    [
        ([], {}, "A gate needs at least one metric."),
        (
            [{"metric": "first", "weight": "1"}],
            {"marginal_score": "90"},
            "The marginal score cannot be above the pass score.",
        ),
        (
            [{"metric": "first", "weight": "1"}, {"metric": "first", "weight": "2"}],
            {},
            "A metric can be in a gate once: remove one of its rows.",
        ),
        ([{"metric": "first", "weight": "-1"}], {}, "Ensure this value is greater than or equal to 0."),
        ([{"metric": "first", "weight": "1e308"}], {}, "Ensure this value is less than or equal to 1000000."),
        (
            [{"metric": "first", "weight": "1"}],
            {"name": "\u200b\u202e"},
            "Enter a name with at least one visible character.",
        ),
    ],
)
def test_a_bad_gate_says_why_and_stores_nothing(client: Client, owner: User, two, rows, gate, message) -> None:
    client.force_login(owner)
    rows = [{**row, "metric": two[0].pk} for row in rows]

    response = client.post(reverse("metrics:gate_create"), form_data(rows, **gate))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert state() == {"gates": [], "metrics": []}


def test_the_owner_edits_a_gate_and_removes_a_metric(client: Client, owner: User, two) -> None:
    gate = Gate.objects.create(name="Checkout", owner=owner)
    kept = GateMetric.objects.create(gate=gate, metric=two[0])
    removed = GateMetric.objects.create(gate=gate, metric=two[1])
    client.force_login(owner)
    rows = [
        {"id": kept.pk, "gate": gate.pk, "metric": two[0].pk, "weight": "3", "observe_only": "on"},
        {"id": removed.pk, "gate": gate.pk, "metric": two[1].pk, "weight": "1", "DELETE": "on"},
    ]

    response = client.post(reverse("metrics:gate_edit", args=[gate.pk]), form_data(rows, initial=2, name="Checkout v2"))

    assert response.status_code == 302
    gate.refresh_from_db()
    assert gate.name == "Checkout v2"
    assert list(gate.gate_metrics.values_list("metric_id", "weight", "observe_only")) == [(two[0].pk, 3.0, True)]


def test_another_user_cannot_edit_a_gate_and_nothing_changes(client: Client, owner: User, stranger: User, two) -> None:
    gate = Gate.objects.create(name="Checkout", owner=owner)
    GateMetric.objects.create(gate=gate, metric=two[0])
    before = state()
    client.force_login(stranger)

    page = client.get(reverse("metrics:gate_edit", args=[gate.pk]))
    posted = client.post(reverse("metrics:gate_edit", args=[gate.pk]), form_data([], name="Hijacked"))
    shown = client.get(reverse("metrics:gate", args=[gate.pk])).content.decode()

    assert (page.status_code, posted.status_code) == (403, 403)
    assert state() == before
    assert "Checkout" in shown
    assert reverse("metrics:gate_edit", args=[gate.pk]) not in shown  # no Edit button for a stranger


def test_an_anonymous_visitor_is_sent_to_log_in(client: Client, db: None) -> None:
    assert client.get(reverse("metrics:gates"))["Location"].startswith(reverse("accounts:login"))


def test_the_owner_deletes_a_gate_with_its_releases(client: Client, owner: User, two) -> None:
    gate = Gate.objects.create(name="Checkout", owner=owner)
    GateMetric.objects.create(gate=gate, metric=two[0])
    Release.objects.create(gate=gate, name="web", version="v1")
    client.force_login(owner)

    page = client.get(reverse("metrics:gate", args=[gate.pk])).content.decode()
    response = client.post(reverse("metrics:gate_delete", args=[gate.pk]), follow=True)

    assert reverse("metrics:gate_delete", args=[gate.pk]) in page
    assert response.redirect_chain == [(reverse("metrics:gates"), 302)]
    assert "Gate “Checkout” and its 1 release were deleted." in response.content.decode()
    assert not Gate.objects.exists()
    assert not Release.objects.exists()
    assert two[0] in Metric.objects.all()  # its metrics stay


def test_another_user_cannot_delete_a_gate(client: Client, owner: User, stranger: User, two) -> None:
    gate = Gate.objects.create(name="Checkout", owner=owner)
    GateMetric.objects.create(gate=gate, metric=two[0])
    release = Release.objects.create(gate=gate, name="web", version="v1", created_by=stranger)
    before = state()
    client.force_login(stranger)

    shown = client.get(reverse("metrics:gate", args=[gate.pk])).content.decode()
    posted = client.post(reverse("metrics:gate_delete", args=[gate.pk]))

    assert posted.status_code == 403
    assert state() == before
    assert Release.objects.filter(pk=release.pk).exists()
    assert reverse("metrics:gate_delete", args=[gate.pk]) not in shown


def test_a_metric_added_meanwhile_in_another_page_is_not_added_twice(client: Client, owner: User, two) -> None:
    gate = Gate.objects.create(name="Checkout deploys", owner=owner)
    gate.gate_metrics.create(metric=two[0])
    client.force_login(owner)
    opened = form_data([{"id": gate.gate_metrics.get().pk, "metric": two[0].pk, "weight": "1"}], initial=1)
    GateMetric.objects.create(gate=gate, metric=two[1])  # added in another tab since this page was opened
    with changes_nothing(state):
        response = client.post(
            reverse("metrics:gate_edit", args=[gate.pk]),
            {**opened, "metrics-1-metric": two[1].pk, "metrics-1-weight": "3"},
        )

    assert response.status_code == 400
    assert (
        "“Requests per minute” was added to this gate meanwhile, in another page: reload this one to see it."
        in response.content.decode()
    )


def test_a_row_removed_meanwhile_in_another_page_is_explained(client: Client, owner: User, two) -> None:
    gate = Gate.objects.create(name="Checkout deploys", owner=owner)
    rows = [gate.gate_metrics.create(metric=metric) for metric in two]
    client.force_login(owner)
    opened = form_data(
        [{"id": row.pk, "metric": row.metric_id, "weight": "1"} for row in rows], initial=2, pass_score="90"
    )
    rows[1].delete()  # removed in another tab since this page was opened
    with changes_nothing(state):
        response = client.post(reverse("metrics:gate_edit", args=[gate.pk]), opened)

    assert response.status_code == 400
    assert (
        "A metric of this gate was changed or removed meanwhile, in another page: reload this one."
        in response.content.decode()
    )


# --- How each metric is judged, missing data, dry run ----------------------------------------


def test_the_owner_sets_how_each_metric_is_judged_what_missing_means_and_a_dry_run(
    client: Client, owner: User, two
) -> None:
    client.force_login(owner)
    rows = [
        {"metric": two[0].pk, "weight": "2", "critical": "on", "failure_limit": "2", "inconclusive_limit": "3"},
        {"metric": two[1].pk, "weight": "1", "judged_on": "newest"},
    ]
    gate_settings = {"missing_after_minutes": "15", "missing_means": "rollback", "dry_run": "on"}

    response = client.post(reverse("metrics:gate_create"), {**form_data(rows), **gate_settings}, follow=True)

    gate = Gate.objects.get()
    assert (gate.missing_after_minutes, gate.missing_means, gate.dry_run) == (15.0, "rollback", True)
    assert list(gate.gate_metrics.values_list("judged_on", "failure_limit", "inconclusive_limit")) == [
        ("release", 2, 3),
        ("newest", 0, None),
    ]
    assert text_of(response, "dry-run") == "dry run"
    assert text_of(response, "gate-settings") == (
        "A counted metric with no observation 15 minutes after the release started counts as rollback. "
        "Its metrics bound to a data source are queried every 60 s while a release is open, for up to 2 h 0 min "
        "after its start. Dry run: the pipeline is answered rollout whatever the verdict; the real verdict is kept "
        "and shown on each release."
    )
    assert [row[3] for row in table_rows(response, "gate-metrics")] == [
        "every observation, failure limit 2, inconclusive limit 3",
        "the newest value only",
    ]
    # Each metric's own bad direction, beside how the gate judges it.
    assert [row[4] for row in table_rows(response, "gate-metrics")] == [
        "either way (beyond the data is inconclusive)"
    ] * 2
    listed = client.get(reverse("metrics:gates"))
    assert table_rows(listed, "gates")[0][0] == "Checkout deploys dry run"
    assert "missing after 15 min: rollback" in table_rows(listed, "gates")[0][2]


def test_the_owner_sets_how_often_and_how_long_the_gates_bound_metrics_are_pulled(
    client: Client, owner: User, two
) -> None:
    kept = Gate.objects.create(name="Checkout", owner=owner)
    shown = kept.gate_metrics.create(metric=two[0])
    client.force_login(owner)
    rows = [{"id": shown.pk, "metric": two[0].pk}]
    pulling = {"pull_interval_seconds": "10", "pull_for_minutes": "45"}

    response = client.post(
        reverse("metrics:gate_edit", args=[kept.pk]), form_data(rows, initial=1, **pulling), follow=True
    )

    kept.refresh_from_db()
    assert (kept.pull_interval_seconds, kept.pull_for_minutes) == (10, 45)
    assert text_of(response, "gate-settings") == (
        "A counted metric with no observation yet is waited for as long as it takes. "
        "Its metrics bound to a data source are queried every 10 s while a release is open, for up to 45 min after "
        "its start."
    )
    editor = client.get(reverse("metrics:gate_edit", args=[kept.pk])).content.decode()
    assert control(editor, "pull_interval_seconds")["value"] == "10"
    assert control(editor, "pull_for_minutes")["value"] == "45"


def test_empty_limits_and_wait_mean_none_and_the_page_says_the_gate_waits(client: Client, owner: User, two) -> None:
    client.force_login(owner)

    response = client.post(
        reverse("metrics:gate_create"), form_data([{"metric": two[0].pk, "weight": "1"}]), follow=True
    )

    gate = Gate.objects.get()
    assert (gate.missing_after_minutes, gate.missing_means, gate.dry_run) == (None, "inconclusive", False)
    assert gate.gate_metrics.values_list("judged_on", "failure_limit", "inconclusive_limit").get() == (
        "release",
        0,
        None,
    )
    assert text_of(response, "gate-settings") == (
        "A counted metric with no observation yet is waited for as long as it takes. "
        "Its metrics bound to a data source are queried every 60 s while a release is open, for up to 2 h 0 min "
        "after its start."
    )
    assert text_of(response, "dry-run") is None
    assert [row[3] for row in table_rows(response, "gate-metrics")] == ["every observation, failure limit 0"]


@pytest.mark.parametrize(("typed", "language"), [("2.5", "en"), ("2,5", "en"), ("2,5", "pt-br"), ("2.5", "pt-br")])
def test_missing_after_takes_a_decimal_comma_or_point(client: Client, owner: User, two, typed, language) -> None:
    client.force_login(owner)
    client.cookies["django_language"] = language

    client.post(
        reverse("metrics:gate_create"), form_data([{"metric": two[0].pk, "weight": "1"}], missing_after_minutes=typed)
    )

    gate = Gate.objects.get()
    assert gate.missing_after_minutes == 2.5
    shown = client.get(reverse("metrics:gate_edit", args=[gate.pk])).content.decode()
    box = control(shown, "missing_after_minutes")
    assert (box["type"], box["inputmode"], box["value"]) == ("text", "decimal", "2,5" if language == "pt-br" else "2.5")
    assert described_by(shown, "missing_after_minutes") == ["id_missing_after_minutes_helptext"]


@pytest.mark.parametrize(
    ("row", "gate", "field", "message"),
    [
        ({"failure_limit": "-1"}, {}, "metrics-0-failure_limit", "Ensure this value is greater than or equal to 0."),
        (
            {"failure_limit": "10001"},
            {},
            "metrics-0-failure_limit",
            "Ensure this value is less than or equal to 10000.",
        ),
        ({"failure_limit": "1.5"}, {}, "metrics-0-failure_limit", "Type a whole number, without separators: 1000."),
        ({"failure_limit": ""}, {}, "metrics-0-failure_limit", "This field is required."),
        ({"inconclusive_limit": "two"}, {}, "metrics-0-inconclusive_limit", "Enter a whole number."),
        (
            {"judged_on": "oldest"},
            {},
            "metrics-0-judged_on",
            "Select a valid choice. oldest is not one of the available choices.",
        ),
        (
            {},
            {"missing_after_minutes": "-1"},
            "missing_after_minutes",
            "Ensure this value is greater than or equal to 0.",
        ),
        (
            {},
            {"missing_after_minutes": "600000"},
            "missing_after_minutes",
            "Ensure this value is less than or equal to 525600.",
        ),
        ({}, {"missing_after_minutes": "soon"}, "missing_after_minutes", "Enter a number."),
        (
            {},
            {"pull_interval_seconds": "9"},
            "pull_interval_seconds",
            "Ensure this value is greater than or equal to 10.",
        ),
        (
            {},
            {"pull_interval_seconds": "3601"},
            "pull_interval_seconds",
            "Ensure this value is less than or equal to 3600.",
        ),
        ({}, {"pull_interval_seconds": ""}, "pull_interval_seconds", "This field is required."),
        ({}, {"pull_for_minutes": "0"}, "pull_for_minutes", "Ensure this value is greater than or equal to 1."),
        (
            {},
            {"pull_for_minutes": "1,5"},
            "pull_for_minutes",
            "Type a whole number, without separators: 1000.",
        ),
        (
            {},
            {"missing_means": "rollout"},
            "missing_means",
            "Select a valid choice. rollout is not one of the available choices.",
        ),
    ],
)
def test_a_bad_new_setting_says_why_under_its_field_and_the_gate_is_left_as_it_was(
    client: Client, owner: User, two, row, gate, field, message
) -> None:
    kept = Gate.objects.create(name="Checkout", owner=owner)
    shown = kept.gate_metrics.create(metric=two[0])
    client.force_login(owner)
    rows = [{"id": shown.pk, "metric": two[0].pk, "weight": "3", **row}]
    with changes_nothing(state):
        response = client.post(
            reverse("metrics:gate_edit", args=[kept.pk]), form_data(rows, initial=1, name="Renamed", **gate)
        )

    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert f'<div id="id_{field}_error"><div class="invalid-feedback d-block">{message}</div></div>' in page
    assert control(page, field)["aria-invalid"] == "true"
    assert described_by(page, field)[-1] == f"id_{field}_error"
    assert all(f'id="{described}"' in page for described in described_by(page, field))


def test_each_rows_fields_are_described_by_help_shown_once_above_the_rows(client: Client, owner: User) -> None:
    client.force_login(owner)

    page = client.get(reverse("metrics:gate_create")).content.decode()

    for name, help_id in GATE_METRIC_HELP_IDS.items():
        assert page.count(f'id="{help_id}"') == 1, name
        for row in range(3):  # the three empty rows
            assert described_by(page, f"metrics-{row}-{name}") == [help_id]
    assert 'for="id_metrics-0-failure_limit" class="form-label">Failure limit</label>' in page
    assert 'for="id_metrics-0-inconclusive_limit" class="form-label">Inconclusive limit</label>' in page
    limit = control(page, "metrics-0-failure_limit")
    assert (limit["type"], limit["inputmode"], limit["value"]) == ("text", "numeric", "0")
    for name in ("missing_after_minutes", "missing_means", "dry_run"):
        assert described_by(page, name) == [f"id_{name}_helptext"]
        assert f'id="id_{name}_helptext"' in page


def test_a_stranger_cannot_turn_on_a_dry_run_or_change_a_limit(
    client: Client, owner: User, stranger: User, two
) -> None:
    gate = Gate.objects.create(name="Checkout", owner=owner)
    row = GateMetric.objects.create(gate=gate, metric=two[0], critical=True)
    client.force_login(stranger)
    rows = [{"id": row.pk, "metric": two[0].pk, "weight": "1", "critical": "on", "failure_limit": "100"}]
    with changes_nothing(state):
        response = client.post(
            reverse("metrics:gate_edit", args=[gate.pk]), form_data(rows, initial=1, name="Checkout", dry_run="on")
        )

    assert response.status_code == 403


def test_the_gate_editor_is_in_portuguese(client: Client, owner: User, two) -> None:
    gate = Gate.objects.create(name="Checkout", owner=owner, dry_run=True, missing_after_minutes=2.5)
    gate.gate_metrics.create(metric=two[0])
    client.force_login(owner)
    client.cookies["django_language"] = "pt-br"

    editor = client.get(reverse("metrics:gate_edit", args=[gate.pk])).content.decode()
    shown = client.get(reverse("metrics:gate", args=[gate.pk]))

    for words in (
        "Avaliada com base em",
        "Limite de falhas",
        "Limite de inconclusivos",
        "Simulação",
        "Uma métrica ausente conta como",
    ):
        assert words in editor, words
    assert text_of(shown, "dry-run") == "simulação"
    assert (text_of(shown, "gate-settings") or "").startswith(
        "Uma métrica que entra no cálculo e não tem observação 2,5 minutos após o início da release conta como "
        "inconclusivo."
    )
