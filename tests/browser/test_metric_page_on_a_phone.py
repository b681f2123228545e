"""On a 390 px phone the metric page shows its data (the model's summary, the indicators) before
its forms, an indicator in a compact row; side by side on a desktop, as before."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect

from metrics.models import Metric
from tests.data import rule_data
from tests.factories import PASSWORD, MetricFactory, TrainedModelFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}


def metric_with_a_page_of_indicators() -> Metric:
    owner = UserFactory.create(username="owner")
    metric: Metric = MetricFactory.create(owner=owner, name="Requests per minute", category="Traffic")
    metric.import_indicators(rule_data(60), owner)
    TrainedModelFactory.create(metric=metric)
    return metric


def top(locator: Locator) -> float:
    box = locator.bounding_box()
    assert box is not None, locator
    return box["y"]


def open_metric_page(page: Page, base: str, metric: Metric, viewport: ViewportSize) -> None:
    page.set_viewport_size(viewport)
    page.goto(base + "/accounts/login/")
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(base + metric.get_absolute_url())
    expect(page.get_by_test_id("indicators")).to_be_visible()


def test_on_a_phone_the_model_and_the_indicators_come_before_the_forms(page: Page, live_server) -> None:
    metric = metric_with_a_page_of_indicators()

    open_metric_page(page, live_server.url, metric, PHONE)

    model = page.get_by_role("heading", name="Model", exact=True)
    indicators = page.get_by_test_id("indicators")
    add_form = page.get_by_role("heading", name="Add an indicator")
    assert top(model) < top(indicators) < top(add_form)
    rows = indicators.locator("tbody tr")
    expect(rows).to_have_count(25)
    # Two short lines each, not a card of five labelled lines (about 210 px each before).
    heights = [box["height"] for box in (rows.nth(index).bounding_box() for index in range(25)) if box]
    assert len(heights) == 25
    assert max(heights) < 70, heights
    first = rows.first
    expect(first.get_by_role("button", name="Delete indicator")).to_be_visible()


def test_on_a_desktop_the_forms_sit_beside_the_indicators(page: Page, live_server) -> None:
    metric = metric_with_a_page_of_indicators()

    open_metric_page(page, live_server.url, metric, DESKTOP)

    indicators = page.get_by_test_id("indicators")
    add_form = page.get_by_role("heading", name="Add an indicator")
    indicators_box, form_box = indicators.bounding_box(), add_form.bounding_box()
    assert indicators_box is not None
    assert form_box is not None
    assert form_box["x"] > indicators_box["x"] + indicators_box["width"]  # beside, to the right
    assert form_box["y"] < indicators_box["y"] + indicators_box["height"]  # not below the list
