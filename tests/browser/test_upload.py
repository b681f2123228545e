"""Uploading a CSV file in the browser: sent with progress, imported as a job, listed, undone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from metrics.models import ImportBatch, Indicator, Metric
from tests.factories import PASSWORD, MetricFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def choose_file(page: Page, name: str, data: bytes) -> None:
    page.get_by_label("Metric to add the data to").select_option(label="Requests per minute (Traffic)")
    page.get_by_label("CSV file").set_input_files({"name": name, "mimeType": "text/csv", "buffer": data})


def test_a_file_is_sent_imported_listed_and_undone(page: Page, live_server, fill_login_form) -> None:
    owner = UserFactory.create(username="owner")
    metric: Metric = MetricFactory.create(owner=owner, name="Requests per minute", category="Traffic")
    rows = "".join(f"{100 + i % 900},{i % 2},{i % 60}\n" for i in range(50_000))
    page.goto(live_server.url)
    fill_login_form(owner, PASSWORD)
    page.locator("#main-nav").get_by_role("link", name="Upload CSV").click()

    choose_file(page, "deploy-42.csv", ("valor,decisao,tempo\n" + rows).encode())
    page.get_by_role("button", name="Upload").click()

    # Sent through XMLHttpRequest with a progress bar, then shown as the metric page.
    expect(page.get_by_text("Imported 50,000 indicators into “Requests per minute”.")).to_be_visible()
    expect(page).to_have_url(live_server.url + metric.get_absolute_url())
    expect(page.get_by_role("heading", name="50,000 indicators")).to_be_visible()
    batches = page.get_by_test_id("batches")
    expect(batches).to_contain_text("deploy-42.csv")
    expect(batches).to_contain_text("50,000 rows, by owner")

    page.once("dialog", lambda dialog: dialog.accept())
    batches.get_by_role("button", name="Undo the import of deploy-42.csv").click()
    expect(page.get_by_text("Undone: the 50,000 indicators of “deploy-42.csv” were deleted.")).to_be_visible()
    expect(page.get_by_role("heading", name="0 indicators")).to_be_visible()
    assert not Indicator.objects.exists()
    assert ImportBatch.objects.get().undone_at is not None


def test_a_file_with_a_bad_line_shows_the_errors_and_stores_nothing(page: Page, live_server, fill_login_form) -> None:
    owner = UserFactory.create(username="owner")
    MetricFactory.create(owner=owner, name="Requests per minute", category="Traffic")
    page.goto(live_server.url)
    fill_login_form(owner, PASSWORD)
    page.locator("#main-nav").get_by_role("link", name="Upload CSV").click()

    choose_file(page, "broken.csv", b"valor,decisao,tempo\n500,1,10\n600,maybe,60\n")
    page.get_by_role("button", name="Upload").click()

    errors = page.get_by_test_id("csv-errors")
    expect(errors).to_contain_text("Nothing was imported: the file has 1 error.")
    expect(errors).to_contain_text("Line 3, column “decisao”: expected 0 (rollout) or 1 (rollback), got “maybe”")
    expect(page.get_by_role("button", name="Upload")).to_be_enabled()
    assert not Indicator.objects.exists()


def test_a_failed_import_stays_on_the_metric_and_upload_pages_until_dismissed(
    page: Page, live_server, fill_login_form
) -> None:
    owner = UserFactory.create(username="owner")
    metric = MetricFactory.create(owner=owner, name="Requests per minute", category="Traffic")
    bad = b"valor,decisao,tempo\n" + b"".join(b"%d,maybe,10\n" % n for n in range(25))
    page.goto(live_server.url)
    fill_login_form(owner, PASSWORD)
    page.locator("#main-nav").get_by_role("link", name="Upload CSV").click()
    choose_file(page, "broken.csv", bad)
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_test_id("csv-errors")).to_contain_text("Nothing was imported: the file has 25 errors.")

    # Where the user looks next: the metric's page, then the upload page again.
    page.goto(live_server.url + metric.get_absolute_url())
    failed = page.get_by_test_id("failed-import")
    expect(failed).to_contain_text("The import of “broken.csv” into “Requests per minute”")
    expect(failed).to_contain_text("Line 2, column “decisao”: expected 0 (rollout) or 1 (rollback), got “maybe”")
    expect(failed.get_by_role("listitem")).to_have_count(20)
    expect(failed).to_contain_text("Showing the first 20 of 25 errors.")
    page.goto(live_server.url + "/metrics/upload/")
    expect(page.get_by_test_id("failed-import")).to_contain_text("Showing the first 20 of 25 errors.")

    page.get_by_role("button", name="Dismiss why the import of “broken.csv” failed").click()
    expect(page.get_by_test_id("failed-import")).to_have_count(0)
    page.goto(live_server.url + metric.get_absolute_url())
    expect(page.get_by_role("heading", name="0 indicators")).to_be_visible()
    expect(page.get_by_test_id("failed-import")).to_have_count(0)
    assert not Indicator.objects.exists()
