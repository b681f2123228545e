"""Filling a metric's history from its data source in the browser, on a desktop and on a 390 px
phone, in both languages: the owner sends the past releases, the real Prometheus of
tests/stores/conftest.py (imported here) answers, and the fill is listed and undone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from metrics.models import ImportBatch, Indicator, Metric
from tests.factories import PASSWORD, MetricFactory, UserFactory
from tests.stores.conftest import PrometheusServer, prometheus  # noqa: F401 - the session's real Prometheus
from tests.stores.test_fill import THREE_RELEASES, bound

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
FILE = ("started_at,decision\n" + "\n".join(THREE_RELEASES) + "\n").encode()


def bound_metric(url: str) -> Metric:
    owner = UserFactory.create(username="owner")
    metric: Metric = MetricFactory.create(owner=owner, name="Error ratio", category="Checkout")
    bound(metric, url)
    return metric


def open_as_owner(page: Page, base: str, metric: Metric, viewport: ViewportSize, language: str = "en") -> None:
    page.set_viewport_size(viewport)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": base}])
    page.goto(base + "/accounts/login/")
    page.locator("#id_username").fill("owner")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_url(base + "/")
    page.goto(base + metric.get_absolute_url())


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_the_owner_fills_the_history_sees_it_listed_and_undoes_it(
    page: Page,
    live_server,
    prometheus: PrometheusServer,  # noqa: F811 - the fixture imported above
    viewport: ViewportSize,
) -> None:
    metric = bound_metric(prometheus.url)
    open_as_owner(page, live_server.url, metric, viewport)

    form = page.locator("#fill-history")
    expect(form.get_by_role("heading", name="Fill history from the data source")).to_be_visible()
    form.get_by_label("Past releases (CSV)").set_input_files(
        {"name": "releases.csv", "mimeType": "text/csv", "buffer": FILE}
    )
    form.get_by_label("Minutes of each release").fill("10")
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0
    form.get_by_role("button", name="Fill history").click()

    expect(page.get_by_text("Filled 30 indicators into “Error ratio” from its data source.")).to_be_visible()
    expect(page.get_by_role("heading", name="30 indicators")).to_be_visible()
    batches = page.get_by_test_id("batches")
    expect(batches).to_contain_text("History filled from “Prometheus 0”, 10 minutes of each release:")
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0

    page.once("dialog", lambda dialog: dialog.accept())
    batches.get_by_role("button", name="Undo the import of releases.csv").click()
    expect(page.get_by_text("Undone: the 30 indicators of “releases.csv” were deleted.")).to_be_visible()
    assert not Indicator.objects.exists()
    assert ImportBatch.objects.get().undone_at is not None


def test_a_minute_count_out_of_bounds_is_shown_beside_the_form_in_portuguese(
    page: Page,
    live_server,
    prometheus: PrometheusServer,  # noqa: F811 - the fixture imported above
) -> None:
    metric = bound_metric(prometheus.url)
    open_as_owner(page, live_server.url, metric, PHONE, language="pt-br")

    form = page.locator("#fill-history")
    form.locator("#fill_file").set_input_files({"name": "releases.csv", "mimeType": "text/csv", "buffer": FILE})
    form.locator("#fill_minutes").fill("2000")
    form.locator("button[type=submit]").click()

    # Django's own message, in Portuguese: the page answered in the reader's language.
    expect(page.locator("#fill-history .invalid-feedback")).to_contain_text("1440")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0
    assert not ImportBatch.objects.exists()
