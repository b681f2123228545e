"""A pulled release and a pulled verdict read on a 390 px phone and on a desktop, in both
languages: nothing scrolls sideways, the store's failure is in words, the query as sent opens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, ViewportSize, expect

from metrics.models import Compare, DataSource, MetricQuery, Pull, PullOutcome, Release, Source
from stores.errors import Kind
from tests.factories import PASSWORD, UserFactory
from tests.metrics.test_pulling import bound_gate, closed_url, started

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
LONG_QUERY = (
    'sum(rate(http_requests_total{service="checkout-payments-gateway",code=~"5..",release="v2026.12.07-build.4711"}'
    '[5m])) / sum(rate(http_requests_total{service="checkout-payments-gateway",release="v2026.12.07-build.4711"}[5m]))'
)


def pulled_release(owner: User) -> tuple[Release, Pull]:
    """A release whose metric was read once (compared with its baseline), then whose store went
    down three times in a row."""
    gate = bound_gate(owner, closed_url(), pull_interval_seconds=60)
    MetricQuery.objects.update(compare=Compare.RATIO)
    release = started(gate, version="v2026.12.07-build.4711")
    metric = gate.gate_metrics.get().metric
    moment = timezone.now() - timedelta(seconds=30)
    observation = release.observe(metric, 700, None, source=Source.PULL, at=moment)
    good = Pull.objects.create(
        release=release,
        metric=metric,
        source=DataSource.objects.get(),
        pulled_at=moment,
        minutes=20,
        outcome=PullOutcome.OK,
        query_sent=LONG_QUERY,
        baseline_query_sent=LONG_QUERY.replace("v2026.12.07-build.4711", "stable"),
        canary_value=0.0042,
        baseline_value=0.000006,
        value=700,
        sampled_at=moment,
        observation=observation,
    )
    for failures in (1, 2, 3):
        Pull.objects.create(
            release=release,
            metric=metric,
            source=DataSource.objects.get(),
            pulled_at=moment + timedelta(seconds=5 * failures),
            minutes=20,
            outcome=PullOutcome.FAILED,
            query_sent=LONG_QUERY,
            error_kind=Kind.REFUSED,
            detail="HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /api/v1/query",
            failures_in_a_row=failures,
        )
    release.next_pull_at = timezone.now() + timedelta(seconds=20)
    release.save()
    return release, good


@pytest.mark.parametrize("language", ["en", "pt-br"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_pulled_release_and_its_verdict_read_on_any_screen(
    page: Page, live_server, fill_login_form: Callable[[User, str], None], language: str, viewport: ViewportSize
) -> None:
    owner = UserFactory.create(username="owner")
    release, good = pulled_release(owner)
    page.set_viewport_size(viewport)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page.goto(live_server.url + reverse("accounts:login"))
    page.locator("#id_username").fill("owner")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_url(live_server.url + "/")

    page.goto(live_server.url + release.get_absolute_url())
    page.wait_for_load_state("networkidle")
    pulling = page.get_by_test_id("pulling")
    expect(pulling.get_by_test_id("pull-failure")).to_contain_text("“prod”")
    expect(pulling.get_by_test_id("pull-failure")).to_contain_text("3")
    pulling.locator("summary").first.click()
    expect(pulling.get_by_text(LONG_QUERY).first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0

    assert good.observation is not None
    page.goto(live_server.url + good.observation.verdict.get_absolute_url())
    page.wait_for_load_state("networkidle")  # its charts are loaded before the server stops
    provenance = page.get_by_test_id("provenance")
    expect(provenance).to_contain_text("“prod”")
    expect(provenance.get_by_test_id("raw-numbers")).to_contain_text("0")
    provenance.locator("summary").click()
    expect(provenance.get_by_text(LONG_QUERY)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0
