"""A release engineer asks for verdicts, reads why, checks the model card, pins a version
and tells the model what was decided."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from metrics.models import Metric, TrainedModel, Verdict
from tests.data import rule_data
from tests.factories import PASSWORD, MetricFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

NAME = "Requests per minute"


def ask(page: Page, value: str, minutes: str) -> None:
    page.get_by_label("Metric", exact=True).select_option(label=f"{NAME} (Traffic)")
    page.get_by_label("Observed value").fill(value)
    page.get_by_label("Time (minutes)").fill(minutes)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page).to_have_url(re.compile(r"/verdicts/\d+/$"))


def test_verdicts_are_explained_logged_pinned_and_fed_back(page: Page, live_server, fill_login_form) -> None:
    owner = UserFactory.create(username="release-engineer")
    metric: Metric = MetricFactory.create(owner=owner, name=NAME, category="Traffic")
    metric.import_indicators(rule_data(300, noise=0.05, seed=3), owner)
    first = TrainedModel.objects.train(metric, owner)
    page.goto(live_server.url)
    fill_login_form(owner, PASSWORD)

    # Forty times anything in the data: the model cannot tell, and says why.
    page.get_by_role("link", name="Predict").first.click()
    ask(page, "50000", "5000")
    expect(page.get_by_test_id("verdict")).to_have_text("Inconclusive")
    reasons = page.get_by_test_id("reasons")
    expect(reasons).to_contain_text("The value 50000 lies outside what the model has seen")
    expect(reasons).to_contain_text("The time, 5000 minutes, lies outside what the model has seen")

    # A clear case: the verdict, the rule that decided it and how many similar cases agree.
    ask(page, "200", "30")
    expect(page.get_by_test_id("verdict")).to_have_text("Rollback recommended")
    expect(page.get_by_test_id("similar-cases")).to_have_text(
        re.compile(r"^\d+ of \d+ similar past cases were rolled back\.$")
    )
    expect(page.get_by_test_id("rule")).to_contain_text("Similar means: value at most")
    expect(page.get_by_test_id("rule")).to_contain_text("and time above")
    expect(page.get_by_role("img", name=re.compile("^Chart of the decision regions"))).to_contain_text(
        "Your observation"
    )
    clear_verdict = Verdict.objects.get(state="rollback")
    assert page.url.endswith(clear_verdict.get_absolute_url())

    # The model card, from the verdict.
    page.get_by_role("link", name="Model card").click()
    expect(page.get_by_role("heading", name=f"Model card: “{NAME}”, version 1")).to_be_visible()
    expect(page.get_by_test_id("card-figures")).to_contain_text("Majority baseline")
    expect(page.get_by_test_id("confusion")).to_be_visible()
    expect(page.get_by_test_id("rules").get_by_role("listitem").first).to_contain_text("When value")

    # A second training becomes the active version; the owner pins the first one back.
    page.get_by_role("link", name=NAME).click()
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Model version 2")).to_be_visible()
    versions = page.get_by_test_id("versions")
    expect(versions.get_by_role("row").filter(has_text="Version 2")).to_contain_text("active")
    versions.get_by_role("button", name="Make active and pin version 1").click()
    expect(page.get_by_text(f"Version 1 now answers for “{NAME}”, pinned")).to_be_visible()
    expect(versions.get_by_role("row").filter(has_text="Version 1")).to_contain_text("active, pinned")
    metric.refresh_from_db()
    assert (metric.active_model_id, metric.is_active_model_pinned) == (first.pk, True)

    # Feedback on the clear verdict: it was rolled back, and the metric gains that indicator.
    indicators_before = metric.indicators.count()
    page.goto(live_server.url + clear_verdict.get_absolute_url())
    page.get_by_label("What was actually decided?").select_option(label="Rolled back")
    page.get_by_label("Note (optional)").fill("Rolled back at 10:02, checkout errors.")
    page.get_by_role("button", name="Record what was decided").click()
    expect(page.get_by_test_id("agreement")).to_contain_text("Confirmed")
    page.get_by_role("link", name=NAME).click()
    expect(page.get_by_role("heading", name=f"{indicators_before + 1} indicators")).to_be_visible()
    expect(page.get_by_test_id("feedback-summary")).to_have_text(
        "Of 1 verdict with feedback: 1 confirmed, 0 overridden, 0 inconclusive."
    )

    # The log lists both verdicts; the filter keeps the inconclusive one.
    page.get_by_role("link", name="Verdict log").click()
    expect(page.get_by_role("row")).to_have_count(3)  # the header and two verdicts
    page.get_by_label("Verdict").select_option(label="Inconclusive")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row")).to_have_count(2)
    expect(page.get_by_role("row").nth(1)).to_contain_text("Inconclusive")
