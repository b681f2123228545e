"""A release's verdict, as a person sees it after the pipeline pushed its observations."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from metrics.models import Gate, GateMetric, Release
from tests.data import rule_data
from tests.factories import PASSWORD, MetricFactory, TrainedModelFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_the_release_page_shows_the_verdict_per_metric_and_over_time(page: Page, live_server, fill_login_form) -> None:
    owner = UserFactory.create(username="owner")
    gate = Gate.objects.create(name="Checkout deploys", owner=owner)
    metrics = []
    for name, critical in (("Error rate", True), ("Requests per minute", False)):
        metric = MetricFactory.create(owner=owner, name=name)
        metric.import_indicators(rule_data(200), owner)
        TrainedModelFactory.create(metric=metric, trained_by=owner)
        GateMetric.objects.create(gate=gate, metric=metric, critical=critical)
        metrics.append(metric)
    release = Release.objects.create(gate=gate, name="checkout-web", version="v42", created_by=owner)
    release.observe(metrics[1], 900, owner, minutes=5)
    release.answer(owner)  # the pipeline asks after each push
    release.observe(metrics[0], 250, owner, minutes=30)  # the critical one says rollback
    release.answer(owner)

    page.goto(live_server.url)
    fill_login_form(owner, PASSWORD)
    page.goto(live_server.url + release.get_absolute_url())

    expect(page.get_by_test_id("release-verdict")).to_have_text("Rollback recommended")
    expect(page.get_by_test_id("release-summary")).to_have_text(
        "Roll back: the critical metric “Error rate” says rollback."
    )
    expect(page.get_by_test_id("release-metrics").get_by_role("row").filter(has_text="Error rate")).to_contain_text(
        "critical"
    )
    history = page.get_by_test_id("release-history").get_by_role("row")
    expect(history).to_have_count(3)  # the header, then one point per verdict asked
    expect(history.nth(1)).to_contain_text("Inconclusive")  # waiting for the error rate
    expect(history.nth(1)).to_contain_text("Error rate: not observed yet")
    expect(history.nth(2)).to_contain_text("Rollback")
    expect(history.nth(2)).to_contain_text("Error rate: Rollback")


def test_a_gate_is_made_in_the_editor(page: Page, live_server, fill_login_form) -> None:
    owner = UserFactory.create(username="owner")
    for name in ("Error rate", "Requests per minute"):
        MetricFactory.create(owner=owner, name=name, category="Checkout")
    page.goto(live_server.url)
    fill_login_form(owner, PASSWORD)

    page.get_by_role("link", name="Gates").click()
    page.get_by_role("link", name="New gate").click()
    page.get_by_label("Name").fill("Checkout deploys")
    rows = page.get_by_test_id("gate-metric-row")
    rows.nth(0).get_by_label("Metric").select_option(label="Error rate (Checkout)")
    rows.nth(0).get_by_label("Weight").fill("2")
    rows.nth(0).get_by_label("Critical").check()
    rows.nth(1).get_by_label("Metric").select_option(label="Requests per minute (Checkout)")
    page.get_by_role("button", name="Save gate").click()

    expect(page.get_by_text("Gate “Checkout deploys” created.")).to_be_visible()
    metrics = page.get_by_test_id("gate-metrics")
    expect(metrics.get_by_role("row").filter(has_text="Error rate")).to_contain_text("critical")
    expect(metrics.get_by_role("row").filter(has_text="Requests per minute")).to_contain_text("counts")
    gate = Gate.objects.get()
    assert list(gate.gate_metrics.values_list("metric__name", "weight", "critical")) == [
        ("Error rate", 2.0, True),
        ("Requests per minute", 1.0, False),
    ]


def test_the_owner_records_what_the_team_did_and_the_gate_page_counts_whether_it_was_right(
    page: Page, live_server, fill_login_form
) -> None:
    owner = UserFactory.create(username="owner")
    gate = Gate.objects.create(name="Checkout deploys", owner=owner)
    metric = MetricFactory.create(owner=owner, name="Error rate")
    metric.import_indicators(rule_data(200), owner)
    TrainedModelFactory.create(metric=metric, trained_by=owner)
    GateMetric.objects.create(gate=gate, metric=metric, critical=True)
    release = Release.objects.create(gate=gate, name="checkout-web", version="v42", created_by=owner)
    release.observe(metric, 250, owner, minutes=30)  # rollback
    release.answer(owner)

    page.goto(live_server.url)
    fill_login_form(owner, PASSWORD)
    page.goto(live_server.url + release.get_absolute_url())
    outcome = page.get_by_test_id("outcome")
    outcome.get_by_label("Note (optional)").fill("p99 doubled in eu-west")
    outcome.get_by_role("group", name="What was done with the release?").get_by_role(
        "button", name="Rolled back"
    ).click()

    expect(page.get_by_role("status").filter(has_text="Recorded:")).to_contain_text(
        "Recorded: the release was rolled back."
    )
    expect(page.get_by_test_id("gate-was")).to_contain_text("the team rolled back: the gate was right.")
    expect(page.get_by_test_id("outcome-note")).to_have_text("p99 doubled in eu-west")
    expect(page.get_by_test_id("outcome-labels")).to_contain_text("1 observation became a labelled indicator")

    page.get_by_role("link", name="Checkout deploys").first.click()
    expect(page.get_by_test_id("track-record-summary")).to_contain_text("Right about 1 of 1 release with an outcome.")
    expect(page.get_by_test_id("releases")).to_contain_text("Rolled back")
    expect(page.get_by_test_id("releases")).to_contain_text("gate right")
