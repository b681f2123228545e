"""Binding a metric to a data source and previewing it in Chromium, on a 390 px phone and a desktop:
the fields of the chosen source's kind, labels a person finds, and the preview's reason."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, ViewportSize, expect

from metrics.models import DataSource, MetricQuery
from metrics.models.data_source import SourceKind
from stores.local_prometheus import free_port
from tests.browser.test_phone_layout import page_width_overflow
from tests.factories import PASSWORD, MetricFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}


@pytest.mark.parametrize("screen", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_owner_binds_a_metric_and_previews_it(
    page: Page, live_server, fill_login_form, screen: ViewportSize
) -> None:
    owner = UserFactory.create(username="owner")
    metric = MetricFactory.create(owner=owner, name="Checkout error ratio", category="Reliability")
    prometheus = DataSource.objects.create(
        owner=owner, name="Production Prometheus", url=f"http://127.0.0.1:{free_port()}", timeout_seconds=1
    )
    DataSource.objects.create(owner=owner, name="AWS", kind=SourceKind.CLOUDWATCH, region="eu-west-1")
    page.goto(live_server.url + reverse("metrics:query", args=[metric.pk]))
    fill_login_form(owner, PASSWORD)
    page.set_viewport_size(screen)

    assert page_width_overflow(page) == 0
    page.get_by_label("Data source", exact=True).select_option(label="AWS")
    expect(page.get_by_label("Metric name")).to_be_visible()
    expect(page.get_by_label("Query", exact=True)).to_be_hidden()
    page.get_by_label("Data source", exact=True).select_option(label="Production Prometheus")
    expect(page.get_by_label("Metric name")).to_be_hidden()
    page.get_by_label("Query", exact=True).fill("sum(rate(http_errors_total{ {{ selector }} }[{{ window }}m]))")
    page.get_by_label("The metric's value").select_option(label="the canary's value divided by the baseline's")
    page.get_by_label("Canary selector").fill('rollouts_pod_template_hash="{{ key }}"')
    page.get_by_label("Baseline selector").fill('rollouts_pod_template_hash!="{{ key }}"')
    page.get_by_role("button", name="Bind").click()

    expect(page.get_by_text("now reads its value from “Production Prometheus”")).to_be_visible()
    assert MetricQuery.objects.get(metric=metric).source == prometheus
    page.get_by_label("Key", exact=True).fill("7d9f8")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview-reason")).to_contain_text("The canary: The connection was refused")
    expect(page.get_by_test_id("preview-query")).to_have_text(
        'sum(rate(http_errors_total{ rollouts_pod_template_hash="7d9f8" }[5m]))'
    )
    assert page_width_overflow(page) == 0
