"""A data source added, tested and read in the browser: the form shows the fields of the kind
and credentials chosen, and "Test connection" answers against a real Prometheus."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from metrics.models import DataSource
from tests.browser.test_phone_layout import PHONE, page_width_overflow
from tests.factories import PASSWORD, UserFactory
from tests.stores.conftest import PrometheusServer, prometheus  # noqa: F401 - the real Prometheus, a fixture

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_a_source_is_added_with_the_fields_of_its_kind_and_tested(
    page: Page,
    live_server,
    fill_login_form,
    prometheus: PrometheusServer,  # noqa: F811 - the fixture
) -> None:
    owner = UserFactory.create(username="owner")
    page.goto(live_server.url)
    fill_login_form(owner, PASSWORD)

    page.get_by_role("link", name="Sources").click()
    page.get_by_role("link", name="Add a data source").click()
    # Prometheus, by default: no region, a CA certificate, and no user or secret without credentials.
    expect(page.get_by_label("Region")).to_be_hidden()
    expect(page.get_by_label("CA certificate")).to_be_visible()
    expect(page.get_by_label("User name or access key ID")).to_be_hidden()
    # CloudWatch: a region, its own credentials only, named for what they are.
    page.get_by_label("Kind").select_option("Amazon CloudWatch")
    expect(page.get_by_label("Region")).to_be_visible()
    expect(page.get_by_label("Endpoint (optional)")).to_be_visible()
    expect(page.get_by_label("CA certificate")).to_be_hidden()
    # The server's own AWS identity is staff's: a regular user is offered an access key alone.
    expect(page.get_by_label("Credentials")).to_have_value("access_key")
    expect(page.get_by_label("Credentials").locator("option[value=environment]")).to_be_disabled()
    page.get_by_label("Credentials").select_option("access_key")
    expect(page.get_by_label("Access key ID")).to_be_visible()
    expect(page.get_by_label("Secret access key")).to_be_visible()
    # Back to Prometheus with a user and password.
    page.get_by_label("Kind").select_option("Prometheus")
    expect(page.get_by_label("Credentials")).to_have_value("none")
    page.get_by_label("Credentials").select_option("basic")
    expect(page.get_by_label("User name", exact=True)).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_have_attribute("type", "password")
    page.get_by_label("Credentials").select_option("none")
    page.get_by_label("Name", exact=True).fill("Production Prometheus")
    page.get_by_label("URL").fill(prometheus.url)
    page.get_by_role("button", name="Add data source").click()

    expect(page.get_by_role("heading", name="Production Prometheus")).to_be_visible()
    expect(page.get_by_test_id("last-check")).to_contain_text("not tested yet")
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_role("status")).to_contain_text("It works")
    expect(page.get_by_test_id("last-check")).to_contain_text("It works")
    assert DataSource.objects.get().check_result == "ok"


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_no_source_page_scrolls_sideways_on_a_phone(page: Page, live_server, fill_login_form, language: str) -> None:
    owner = UserFactory.create(username="owner")
    source = DataSource.objects.create(
        owner=owner,
        name="Production Prometheus of the checkout service",
        url="https://prometheus.checkout.production.internal.example.com:9090/prometheus",
        check_result="tls",
        check_detail="HTTPSConnectionPool(host='prometheus.checkout.production.internal.example.com', port=9090)",
    )
    page.goto(live_server.url)
    fill_login_form(owner, PASSWORD)
    page.set_viewport_size(PHONE)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    source.checked_at = source.created_at
    source.save()

    for path in ("/sources/", "/sources/new/", source.get_absolute_url(), f"/sources/{source.pk}/edit/"):
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        assert page_width_overflow(page) == 0, path
