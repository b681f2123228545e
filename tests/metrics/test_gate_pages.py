"""The gate editor: made by anyone, changed by its owner only, saved whole or not at all."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import Gate, GateMetric, Metric, Release
from tests.factories import MetricFactory
from tests.refusals import changes_nothing


def form_data(metrics: list[dict[str, Any]], initial: int = 0, **gate: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Checkout deploys",
        "pass_score": "80",
        "marginal_score": "50",
        "metrics-TOTAL_FORMS": str(max(len(metrics), 3)),
        "metrics-INITIAL_FORMS": str(initial),
        "metrics-MIN_NUM_FORMS": "0",
        "metrics-MAX_NUM_FORMS": "1000",
        **gate,
    }
    for index in range(len(metrics), max(len(metrics), 3)):
        data[f"metrics-{index}-weight"] = "1"  # what a browser sends for an untouched empty row
    for index, row in enumerate(metrics):
        for key, value in row.items():
            data[f"metrics-{index}-{key}"] = value
    return data


def state() -> dict[str, list]:
    return {
        "gates": list(
            Gate.objects.order_by("pk").values_list("pk", "name", "owner_id", "pass_score", "marginal_score")
        ),
        "metrics": list(GateMetric.objects.order_by("pk").values_list("gate_id", "metric_id", "weight", "critical")),
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
