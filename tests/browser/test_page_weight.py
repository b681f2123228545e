"""The verdict page shows its verdict without waiting for the chart library (plotly, over
1 MB), and loads it only when the chart comes near the screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Request, expect

from tests.data import rule_data
from tests.factories import PASSWORD, MetricFactory, TrainedModelFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

PLOTLY = "plotly-basic"


def test_the_verdict_page_loads_plotly_only_when_its_chart_is_scrolled_to(page: Page, live_server) -> None:
    owner = UserFactory.create(username="owner")
    metric = MetricFactory.create(owner=owner, name="Error rate")
    metric.import_indicators(rule_data(200), owner)
    TrainedModelFactory.create(metric=metric)
    verdict = metric.predict(200, 30, owner)
    page.goto(live_server.url)
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Good to see you, owner!")).to_be_visible()
    asked: list[str] = []

    def note(request: Request) -> None:
        asked.append(request.url)

    page.on("request", note)
    # On a phone the chart is far below the verdict.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + verdict.get_absolute_url())
    page.wait_for_load_state("networkidle")

    expect(page.get_by_test_id("verdict")).to_have_text("Rollback recommended")
    expect(page.locator("#regions")).not_to_be_in_viewport()
    assert not [url for url in asked if PLOTLY in url]

    page.locator("#regions").scroll_into_view_if_needed()

    expect(page.locator("#regions .main-svg").first).to_be_visible()
    assert len([url for url in asked if PLOTLY in url]) == 1
    # The mode bar's buttons would be focusable controls inside an image.
    expect(page.locator("#regions .modebar-btn")).to_have_count(0)
    expect(page.get_by_test_id("regions-summary")).to_contain_text("the area where the tree says Rollback")
