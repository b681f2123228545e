"""A token made on the API tokens page works for a pipeline, until it is revoked."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, MetricFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_a_token_is_made_shown_once_used_by_a_pipeline_and_revoked(page: Page, live_server, fill_login_form) -> None:
    owner = UserFactory.create(username="owner")
    MetricFactory.create(owner=owner, name="Requests per minute", category="Traffic")
    page.goto(live_server.url)
    fill_login_form(owner, PASSWORD)

    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("GitHub Actions deploy gate")
    page.get_by_label("Access").select_option(label="Read only")
    page.get_by_role("button", name="Create token").click()

    new_token = page.get_by_test_id("new-token")
    expect(new_token).to_contain_text("Copy it now: it will not be shown again.")
    secret = new_token.get_by_role("textbox", name="New token").inner_text()
    assert secret.startswith("mb_")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    new_token.get_by_role("button", name="Copy").click()
    expect(new_token.get_by_role("status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    expect(page.get_by_test_id("tokens")).to_contain_text("GitHub Actions deploy gate")

    # What a pipeline does with it: no cookie, only the token.
    api = page.context.request
    listed = api.get(live_server.url + "/api/v1/metrics/", headers={"Authorization": f"Bearer {secret}", "Cookie": ""})
    assert listed.status == 200
    assert listed.json()["results"][0]["name"] == "Requests per minute"

    page.reload()
    expect(page.get_by_test_id("new-token")).to_have_count(0)  # shown once
    page.get_by_role("button", name="Revoke GitHub Actions deploy gate").click()
    expect(page.get_by_text("Token “GitHub Actions deploy gate” revoked: it no longer works.")).to_be_visible()
    refused = api.get(live_server.url + "/api/v1/metrics/", headers={"Authorization": f"Bearer {secret}", "Cookie": ""})
    assert refused.status == 401
