"""axe-core finds no serious or critical accessibility failure on any page, in either
language, on a desktop or a phone.

The pages are the URL conf's: every named route is either swept (with real objects, so that
detail pages render what a user sees) or listed in NOT_PAGES with the reason it is not a
page; a new route fails the sweep until it is one or the other.

axe-core is vendored for the tests (tests/browser/vendor/axe-core/, never served by the app).
The pages keep their Content Security Policy while they are checked: "script-src 'self'"
blocks what `page.add_script_tag` inserts (an inline <script>), so axe is evaluated through
the DevTools protocol (`page.evaluate`), which the page's policy does not govern.

Run alone: `pytest tests/browser/test_accessibility.py -p no:xdist`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from playwright.sync_api import Browser, Page, ViewportSize, expect

from accounts.models import ApiToken, TokenScope
from metrics.models import DataSource, Delivery, Gate, GateMetric, Job, JobStatus, Outcome, OutcomeVia, Release, Webhook
from metrics.models.replay import Replay
from tests.browser.conftest import TIMEOUT_MS
from tests.data import rule_data
from tests.factories import PASSWORD, MetricFactory, TrainedModelFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
FAILING_IMPACTS = {"serious", "critical"}

# Routes that are not pages a person reads, and why.
NOT_PAGES = {
    "metrics:add_indicator": "POST only (the metric page's form)",
    "metrics:delete_indicator": "POST only",
    "metrics:download": "a CSV file",
    "metrics:sample_csv": "a CSV file (the upload page's sample)",
    "metrics:undo_import": "POST only",
    "metrics:train": "POST only",
    "metrics:train_all": "POST only",
    "metrics:job_progress": "JSON for the progress bar",
    "metrics:job_dismiss": "POST only (the failed-import panel's button)",
    "metrics:unpin": "POST only",
    "metrics:feedback": "POST only (the verdict page's form)",
    "metrics:release_outcome": "POST only (the release page's Outcome form)",
    "metrics:gate_delete": "POST only",
    "metrics:source_delete": "POST only",
    "metrics:fill": "POST only (the metric page's history fill form)",
    "metrics:query_preview": "POST only (its answer is the production query page, with the preview)",
    "metrics:query_unbind": "POST only",
    "metrics:source_test": "POST only (the source page's Test connection)",
    "metrics:activate": "POST only",
    "metrics:webhook_delete": "POST only",
    "metrics:webhook_new_secret": "POST only (the webhook page's New secret)",
    "metrics:delivery_send_again": "POST only (the delivery log's Send again)",
    "metrics:pairplot": "a PNG image (checked as the <img> of the pages that show it)",
    "metrics:replay_start": "POST only (the gate page's Replay form)",
    "metrics:replay_what_if": "POST only (the replay page's what-if form)",
    "metrics:replay_apply": "POST only (the what-if page's Apply button)",
    "metrics:replay_timeline": "JSON for a replayed release's timeline chart (drawn on the replay page)",
    "accounts:logout": "POST only",
    "accounts:api_token_revoke": "POST only",
    "set_language": "POST only (the language switch)",
    "api:schema": "the OpenAPI document (YAML)",
    "prometheus_metrics": "Prometheus' text format, for a Prometheus server with a metrics token",
}
# Django's admin (staff only) is Django's own; the JSON API's routes (is_api_json) answer JSON.
NOT_PAGE_NAMESPACES = {"admin": "Django's own admin pages"}

NOT_FOUND = "/no-such-page/"
# Pages a visitor sees before logging in (the app's own pages redirect to the login page).
ANONYMOUS = {"accounts:login", "accounts:signup"}


def named_routes(patterns: list[Any] | None = None, namespace: str = "") -> Iterator[tuple[str, list[str]]]:
    """Each named route of the URL conf, with its parameters' names."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from named_routes(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            parameters = list(getattr(entry.pattern, "converters", {})) or list(entry.pattern.regex.groupindex)
            yield f"{namespace}{entry.name}", parameters


def is_api_json(name: str) -> bool:
    return name.startswith("api:") and name not in {"api:docs", "api:schema"}


def demo_objects() -> dict[str, int]:
    """One of everything a page shows, owned by "owner"; the ids by URL parameter (and the
    id of a version that is not the active one)."""
    owner = UserFactory.create(username="owner")
    metric = MetricFactory.create(owner=owner, name="Requests per minute of the checkout service", category="Traffic")
    metric.import_indicators(rule_data(200), owner)
    model = TrainedModelFactory.create(metric=metric, trained_by=owner)
    MetricFactory.create(owner=owner, name="Error rate (%)", category="Reliability")
    verdict = metric.predict(200, 30, owner)
    # A version that is not the active one: the pages offer to make it active.
    candidate = TrainedModelFactory.create(metric=metric, trained_by=owner, active=False)
    gate = Gate.objects.create(name="Checkout deploys", owner=owner)
    GateMetric.objects.create(gate=gate, metric=metric, critical=True)
    release = Release.objects.create(gate=gate, name="checkout-web", version="v42", created_by=owner)
    release.observe(metric, 250, owner, minutes=30)
    release.answer(owner)
    release.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.PAGE)
    # A replay (its release cannot be judged: its model was trained after it) and a what-if of it.
    replay = Replay.objects.start(gate, owner)
    replay.refresh_from_db()
    what_if = replay.what_if(owner, {"pass_score": 70})
    job = Job.objects.create(kind="training", metric=metric, requested_by=owner, status=JobStatus.DONE, result=model)
    token, _ = ApiToken.objects.issue(owner, "Deploy gate", TokenScope.READ)
    source = DataSource.objects.create(owner=owner, name="Production Prometheus", url="http://prometheus.example:9090")
    source.check_result, source.check_detail, source.checked_at = "refused", "Connection refused", release.started_at
    source.save()
    webhook = Webhook.objects.create(gate=gate, name="#deploys", url="https://hooks.example.com/services/T0/B0/x")
    Delivery.objects.create(
        webhook=webhook,
        release=release,
        event="verdict",
        state="rollback",
        body="{}",
        status="failed",
        attempts=1,
        response_status=404,
        error="no_service",
    )
    return {
        "metric_id": metric.pk,
        "indicator_id": metric.indicators.order_by("pk").values_list("pk", flat=True)[0],
        "model_id": model.pk,
        "verdict_id": verdict.pk,
        "gate_id": gate.pk,
        "release_id": release.pk,
        "job_id": job.pk,
        "token_id": token.pk,
        "candidate_id": candidate.pk,
        "source_id": source.pk,
        "webhook_id": webhook.pk,
        "replay_id": replay.pk,
        "what_if_id": what_if.pk,
    }


def pages_to_sweep(ids: dict[str, int]) -> tuple[list[str], list[str]]:
    """The anonymous pages and the logged-in pages, from the URL conf, plus the states of a
    page that a route alone does not show (a verdict on the predict page, the 404 page)."""
    anonymous: list[str] = []
    logged_in: list[str] = []
    unclassified: list[str] = []
    for name, parameters in named_routes():
        namespace = name.rpartition(":")[0]
        if name in NOT_PAGES or namespace in NOT_PAGE_NAMESPACES or is_api_json(name):
            continue
        if any(parameter not in ids for parameter in parameters):
            unclassified.append(name)
            continue
        url = reverse(name, kwargs={parameter: ids[parameter] for parameter in parameters})
        (anonymous if name in ANONYMOUS else logged_in).append(url)
    assert not unclassified, f"Routes neither swept nor in NOT_PAGES: {unclassified}"
    logged_in += [
        f"{reverse('metrics:predict')}?metric={ids['metric_id']}&value=200&minutes=30",
        reverse("metrics:model_card", args=[ids["candidate_id"]]),
        reverse("metrics:replay", args=[ids["what_if_id"]]),
        NOT_FOUND,
    ]
    return anonymous, logged_in


def serious_violations(page: Page, axe_source: str) -> list[str]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)
    # Off by default in axe 4 ("experimental"), and the one that checks that a control's
    # accessible name contains its visible label (WCAG 2.5.3).
    options = "{resultTypes: ['violations'], rules: {'label-content-name-mismatch': {enabled: true}}}"
    results = page.evaluate(f"axe.run(document, {options})")
    return [
        f"{violation['impact']} {violation['id']}: {violation['help']} — "
        + "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results["violations"]
        if violation["impact"] in FAILING_IMPACTS
    ]


def visit(page: Page, base: str, path: str) -> None:
    response = page.goto(base + path, wait_until="load")
    # The page itself, not an error page or the login page in its place.
    assert response is not None
    assert response.status == (404 if path == NOT_FOUND else 200), path
    assert page.url == base + path, path
    # The chart is drawn when it comes near the screen, and is part of the page axe must see.
    chart = page.locator("#regions")
    if chart.count():
        chart.scroll_into_view_if_needed()
        expect(chart.locator(".main-svg").first).to_be_attached()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "390px"])
@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_no_page_has_a_serious_or_critical_axe_violation(
    browser: Browser, live_server, language: str, viewport: ViewportSize
) -> None:
    ids = demo_objects()
    anonymous, logged_in = pages_to_sweep(ids)
    axe_source = AXE.read_text(encoding="utf-8")
    context = browser.new_context(locale="pt-BR" if language == "pt-br" else "en-US", viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    found: dict[str, list[str]] = {}
    try:
        for path in anonymous:
            visit(page, live_server.url, path)
            found[path] = serious_violations(page, axe_source)
        page.goto(live_server.url + reverse("accounts:login"))
        page.locator("#id_username").fill("owner")
        page.locator("#id_password").fill(PASSWORD)
        page.locator("#id_password").press("Enter")
        page.wait_for_url(live_server.url + "/")
        for path in logged_in:
            visit(page, live_server.url, path)
            found[path] = serious_violations(page, axe_source)
        # A dialog open over its page.
        visit(page, live_server.url, reverse("metrics:list"))
        page.locator("[data-bs-target='#create-metric-modal']").click()
        expect(page.locator("#create-metric-modal")).to_be_visible()
        page.wait_for_timeout(400)  # Bootstrap's fade-in, which changes the colours axe reads
        found["the create-metric dialog"] = serious_violations(page, axe_source)
    finally:
        context.close()

    failures = {path: violations for path, violations in found.items() if violations}
    assert len(found) >= 20, sorted(found)
    assert not failures, "Serious or critical axe violations:\n" + "\n".join(
        f"{path}\n  " + "\n  ".join(violations) for path, violations in failures.items()
    )
