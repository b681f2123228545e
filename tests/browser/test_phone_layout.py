"""On a 390 px phone no page scrolls sideways, and the metric list shows what matters."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Locator, Page, ViewportSize, expect

from metrics.models import Metric
from tests.data import rule_data
from tests.factories import PASSWORD, MetricFactory, TrainedModelFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

PHONE: ViewportSize = {"width": 390, "height": 844}


def page_width_overflow(page: Page) -> int:
    """How many pixels the page is wider than the screen (0 when nothing scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def demo_metric() -> Metric:
    owner = UserFactory.create(username="owner")
    metric = MetricFactory.create(owner=owner, name="Requests per minute of the checkout service", category="Traffic")
    metric.import_indicators(rule_data(60), owner)
    TrainedModelFactory.create(metric=metric)
    MetricFactory.create(owner=owner, name="Error rate (%)", category="Reliability")
    return metric


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_no_page_scrolls_sideways_on_a_phone(page: Page, live_server, fill_login_form, language: str) -> None:
    metric = demo_metric()
    page.set_viewport_size(PHONE)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    for path in (reverse("accounts:login"), reverse("accounts:signup")):
        page.goto(live_server.url + path)
        assert page_width_overflow(page) == 0, path
    page.goto(live_server.url + reverse("accounts:login"))
    page.locator("#id_username").fill("owner")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_url(live_server.url + "/")

    verdict = metric.predict(200, 30, metric.owner)
    model = metric.trained_models.get()
    pages = [
        verdict.get_absolute_url(),
        reverse("metrics:verdicts", args=[metric.pk]),
        reverse("metrics:model_card", args=[model.pk]),
        reverse("metrics:settings", args=[metric.pk]),
        reverse("metrics:list"),
        reverse("metrics:create"),
        reverse("metrics:upload"),
        metric.get_absolute_url(),
        reverse("metrics:delete", args=[metric.pk]),
        f"{reverse('metrics:predict')}?metric={metric.pk}&value=200&minutes=30",
        reverse("metrics:predict"),
    ]
    for path in pages:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.clientWidth") == PHONE["width"]
        assert page_width_overflow(page) == 0, path


def test_the_metric_list_shows_name_model_quality_and_actions_on_a_phone(
    page: Page, live_server, fill_login_form
) -> None:
    metric = demo_metric()
    page.goto(live_server.url)
    fill_login_form(metric.owner, PASSWORD)
    page.set_viewport_size(PHONE)
    page.reload()

    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=metric.name, exact=True))
    for element in (
        row.get_by_role("link", name=metric.name, exact=True),
        row.get_by_text("90.0%"),
        row.get_by_role("link", name="Open"),
        row.get_by_role("link", name=f"Upload CSV to {metric.name}"),
        row.get_by_role("link", name="Delete", exact=True),
    ):
        expect(element).to_be_visible()
        box = element.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]


def within_the_screen(element: Locator) -> bool:
    box = element.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_the_indicators_and_nearest_cases_show_every_column_on_a_portuguese_phone(
    page: Page, live_server, fill_login_form
) -> None:
    metric = demo_metric()
    verdict = metric.predict(200, 30, metric.owner)
    page.goto(live_server.url)
    fill_login_form(metric.owner, PASSWORD)
    page.context.add_cookies([{"name": "django_language", "value": "pt-br", "url": live_server.url}])
    page.set_viewport_size(PHONE)

    page.goto(live_server.url + metric.get_absolute_url())
    first = page.get_by_test_id("indicators").get_by_role("row").nth(1)
    for cell in (
        first.locator("td[data-label='Quando']"),
        first.locator("td[data-label='Usuário que cadastrou']"),
        first.get_by_role("button", name="Excluir indicador"),
    ):
        expect(cell).to_be_visible()
        assert within_the_screen(cell)

    page.goto(live_server.url + verdict.get_absolute_url())
    case = page.get_by_test_id("nearest-cases").get_by_role("row").nth(1)
    when = case.locator("td[data-label='Quando']")
    expect(when).to_be_visible()
    assert within_the_screen(when)
    # A card's label keeps a gap from its value, even when it is longer than its column.
    assert when.evaluate("cell => parseFloat(getComputedStyle(cell, '::before').marginRight)") >= 4


@pytest.mark.parametrize("language", ["en", "pt-br"])
@pytest.mark.parametrize("width", [1200, 1280])
def test_the_menu_bar_is_one_line_on_a_desktop(page: Page, live_server, language: str, width: int) -> None:
    demo_metric()
    page.set_viewport_size({"width": width, "height": 800})
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page.goto(live_server.url + reverse("accounts:login"))
    page.locator("#id_username").fill("owner")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_url(live_server.url + "/")

    greeting = page.get_by_test_id("greeting")
    expect(greeting).to_be_visible()
    brand = page.locator(".navbar-brand").bounding_box()
    logout = page.locator("nav form button").last.bounding_box()
    assert brand is not None
    assert logout is not None
    assert abs(logout["y"] - brand["y"]) < brand["height"]  # on the brand's line, not wrapped below
    assert page_width_overflow(page) == 0
    content = page.locator("nav .container").evaluate(
        "c => c.getBoundingClientRect().right - parseFloat(getComputedStyle(c).paddingRight)"
    )
    assert logout["x"] + logout["width"] <= content + 0.5  # inside the container, like the page
    last_link = page.locator("#main-nav .nav-link").last.bounding_box()
    greeting_box = greeting.bounding_box()
    assert last_link is not None
    assert greeting_box is not None
    assert greeting_box["x"] - (last_link["x"] + last_link["width"]) >= 12  # set apart from the menu
    for item in [*page.locator("#main-nav .nav-link").all(), greeting]:
        box = item.bounding_box()
        assert box is not None
        assert box["height"] < 2 * 24, item.inner_text()  # one line of text each


def test_a_value_that_wraps_on_a_phone_card_stays_in_its_column_not_under_its_label(
    page: Page, live_server, fill_login_form
) -> None:
    owner = UserFactory.create(username="release-manager-of-the-checkout-and-payments-team")
    metric = MetricFactory.create(owner=owner, name="Requests per minute", category="Traffic")
    metric.import_indicators(rule_data(60), owner)  # the nearest cases show who registered them
    TrainedModelFactory.create(metric=metric)
    verdict = metric.predict(200, 30, metric.owner)
    page.goto(live_server.url)
    fill_login_form(metric.owner, PASSWORD)
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + verdict.get_absolute_url())

    cells = page.get_by_test_id("nearest-cases").locator("td[data-label='Registered by']")
    expect(cells.first).to_be_visible()
    # Where each line of each cell's text starts, from the cell's left edge (the label is
    # drawn before the text, by CSS).
    starts = cells.evaluate_all(
        """cells => cells.flatMap(cell => {
            const range = document.createRange();
            range.selectNodeContents(cell);
            const left = cell.getBoundingClientRect().left;
            return Array.from(range.getClientRects()).map(line => line.left - left);
        })"""
    )
    wrapped = [start for start in starts if start < 100]
    assert len(starts) > cells.count(), "a long name should wrap on a phone"
    assert wrapped == []
