"""What a logged-in stranger and an anonymous visitor can and cannot do in the browser."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Dialog, Locator, Page, expect

from metrics.models import Decision, Indicator, Metric
from tests.factories import PASSWORD, IndicatorFactory, MetricFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_stranger_cannot_delete_someone_elses_metric(page: Page, live_server, fill_login_form) -> None:
    owner = UserFactory.create(username="owner")
    stranger = UserFactory.create(username="stranger")
    metric = MetricFactory.create(owner=owner, name="Error rate", category="Reliability")
    IndicatorFactory.create_batch(3, metric=metric)
    # The stranger's own metric shows what a Delete control looks like to its owner.
    MetricFactory.create(owner=stranger, name="Checkout latency", category="Performance")

    page.goto(live_server.url)
    fill_login_form(stranger, PASSWORD)

    def row_of(name: str) -> Locator:
        return page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))

    expect(row_of("Checkout latency").get_by_role("link", name="Delete", exact=True)).to_be_visible()
    expect(row_of("Error rate")).to_contain_text("owner")
    expect(row_of("Error rate").get_by_role("link", name="Open")).to_be_visible()
    expect(row_of("Error rate").get_by_role("link", name="Delete", exact=True)).to_have_count(0)

    page.get_by_role("link", name="Error rate", exact=True).click()
    expect(page.get_by_role("heading", name="Error rate", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="3 indicators")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Delete"))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Delete"))).to_have_count(0)

    # Anyone may add data to any metric, and delete what they added (after confirming).
    page.get_by_label("Value").fill("321.5")
    page.get_by_label("Decision").select_option(label="Rollout (0)")
    page.get_by_label("Time (minutes)").fill("15")
    page.get_by_role("button", name="Add indicator").click()
    expect(page.get_by_text("Indicator added.")).to_be_visible()
    mine = Indicator.objects.get(metric=metric, created_by=stranger)
    assert (mine.value, mine.decision, mine.time) == (321.5, Decision.ROLLOUT, 15)
    delete_mine = page.get_by_role("button", name="Delete indicator 321.5")
    expect(page.get_by_role("button", name=re.compile("Delete"))).to_have_count(1)

    questions: list[str] = []

    def answer(accept: bool) -> Callable[[Dialog], None]:
        def handle(dialog: Dialog) -> None:
            questions.append(dialog.message)
            if accept:
                dialog.accept()
            else:
                dialog.dismiss()

        return handle

    page.once("dialog", answer(accept=False))
    delete_mine.click()
    expect(page.get_by_role("heading", name="4 indicators")).to_be_visible()
    assert questions == ["Delete this indicator?"]
    assert Indicator.objects.filter(pk=mine.pk).exists()

    page.once("dialog", answer(accept=True))
    delete_mine.click()
    expect(page.get_by_text("Indicator deleted.")).to_be_visible()
    expect(page.get_by_role("heading", name="3 indicators")).to_be_visible()
    assert questions == ["Delete this indicator?", "Delete this indicator?"]
    assert not Indicator.objects.filter(pk=mine.pk).exists()

    # Typing the delete address by hand is refused, and so is posting to it.
    delete_url = f"{live_server.url}/metrics/{metric.pk}/delete/"
    response = page.goto(delete_url)
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name="You are not allowed to do that")).to_be_visible()
    expect(page.get_by_text("Only the metric's owner may delete it.")).to_be_visible()
    expect(page.get_by_role("button", name="Yes, delete it")).to_have_count(0)

    csrf_token = next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")
    posted = page.request.post(delete_url, form={"csrfmiddlewaretoken": csrf_token})
    assert posted.status == 403

    assert Metric.objects.filter(pk=metric.pk, owner=owner).exists()
    assert metric.indicators.count() == 3


def test_anonymous_visitor_returns_to_the_metric_page_after_logging_in(
    page: Page, live_server, fill_login_form
) -> None:
    user = UserFactory.create(username="returning")
    metric = MetricFactory.create(owner=user, name="Queue depth", category="Messaging")
    metric_url = f"{live_server.url}/metrics/{metric.pk}/"

    page.goto(metric_url)

    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/metrics/{metric.pk}/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_text("Queue depth")).to_have_count(0)

    fill_login_form(user, PASSWORD)

    expect(page).to_have_url(metric_url)
    expect(page.get_by_role("heading", name="Queue depth", level=1)).to_be_visible()
    expect(page.get_by_text("Category Messaging · created by returning")).to_be_visible()
