"""A release engineer connects Make or Break to production, in Chromium, against the real
Prometheus of tests/stores/conftest.py (its session fixture, imported here): they add the
Prometheus as a data source and test it, bind a metric to a query of the deployer's key and
preview it, fill its history from a CSV of past releases over the series backfilled there,
train it, make a gate of it pulled every 10 s, and make an API token for their pipeline; the
pipeline starts a release, and its observations arrive on the release page by themselves.

No Celery worker runs beside the browser tests (jobs run as they are queued, in the request
that queues them). The beat's work is done by the very function the beat schedule calls,
`metrics.tasks.pull_due_releases`, called every `MBREAK_PULL_TICK_SECONDS` by a thread of this
test (`beat_ticking`) while the release page is watched: nothing in the test pushes an
observation. A real worker started with --beat doing the same: tests/stores/test_pulling_worker.py.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone
from playwright.sync_api import Page, expect

from metrics import tasks
from metrics.models import DataSource, ImportBatch, Metric, MetricQuery, Pull, PullOutcome, Release, TrainedModel
from tests.browser.conftest import ARTIFACTS
from tests.factories import PASSWORD, UserFactory
from tests.stores.conftest import (
    HISTORY_START,
    PrometheusServer,
    history_value,
    prometheus,  # noqa: F401 - the session's real Prometheus, a fixture
)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

METRIC = "Checkout error ratio"
QUERY = 'mb_history_error_ratio{service="{{ key }}"}'
# The canary's pods, as the deployer names them: the key of the release and of its series.
KEY = "checkout-7d9f8"
LIVE_SERIES = f'mb_history_error_ratio{{service="{KEY}"}}'
FILL_MINUTES = 10
# Past releases of the checkout service, in the backfilled history: those starting on the
# half hour read 0.011 to 0.020 over their ten minutes and rolled out; those starting a quarter
# past read 0.026 to 0.035 and were rolled back.
PAST_RELEASES = [(0, "rollout"), (15, "rollback"), (30, "rollout"), (45, "rollback"), (60, "rollout"), (75, "rollback")]


def releases_csv() -> bytes:
    rows = [
        f"{(HISTORY_START + timedelta(minutes=start)).isoformat().replace('+00:00', 'Z')},{decision},checkout"
        for start, decision in PAST_RELEASES
    ]
    return ("started_at,decision,key\n" + "\n".join(rows) + "\n").encode()


@contextmanager
def beat_ticking(seconds: float) -> Iterator[None]:
    """The beat schedule's pulling tick, every `seconds` until the block ends, in a thread of its
    own: `tasks.pull_due_releases`, whose pull tasks run at once (no worker). The thread uses the
    test's database connection, as the live server's threads do (the in-memory test database is
    that connection's)."""
    shared = connections["default"]
    stop = threading.Event()

    def tick() -> None:
        connections["default"] = shared
        while not stop.is_set():
            tasks.pull_due_releases()
            stop.wait(seconds)

    shared.inc_thread_sharing()
    thread = threading.Thread(target=tick, name="beat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=60)
        shared.dec_thread_sharing()


def test_a_release_engineer_connects_prometheus_and_a_release_is_pulled_by_itself(
    page: Page,
    live_server,
    fill_login_form,
    prometheus: PrometheusServer,  # noqa: F811 - the fixture imported above
) -> None:
    engineer = UserFactory.create(username="release-engineer")
    prometheus.set(LIVE_SERIES, "0.012")
    prometheus.wait_for(LIVE_SERIES, "0.012")
    page.goto(live_server.url)
    fill_login_form(engineer, PASSWORD)

    source = add_and_test_source(page, prometheus.url)
    metric = bind_and_preview_a_new_metric(page, live_server.url)
    assert MetricQuery.objects.get(metric=metric).source == source
    fill_history_and_train(page, live_server.url, metric)
    assert ImportBatch.objects.get().source == source
    gate_id = make_gate(page)
    token = make_write_token(page)

    # The pipeline starts the canary's release (its rollout began 3 minutes ago), and then only
    # asks for its verdict, as Argo's AnalysisTemplate does.
    pipeline = {"Authorization": f"Bearer {token}", "Cookie": ""}
    started = page.context.request.post(
        f"{live_server.url}/api/v1/gates/{gate_id}/releases/",
        headers=pipeline,
        data={
            "name": "checkout-web",
            "version": "v2026.12.07",
            "key": KEY,
            "started_at": (timezone.now() - timedelta(minutes=3)).isoformat(),
        },
    )
    assert started.status == 201, started.text()
    release = Release.objects.get(pk=started.json()["id"])
    assert not release.pulls.exists()

    # Nobody pushes: the beat's tick pulls the release from Prometheus, and again an interval later.
    page.goto(live_server.url + release.get_absolute_url())
    with beat_ticking(settings.MBREAK_PULL_TICK_SECONDS):
        watch_the_pulls(page, prometheus)
    expect(page.get_by_test_id("release-verdict")).to_have_text("Rollout recommended")
    assert page.context.request.get(started.json()["verdict_url"], headers=pipeline).json()["verdict"] == "rollout"
    page.reload()
    expect(page.get_by_test_id("release-history").get_by_role("row").nth(1)).to_contain_text(f"{METRIC}: Rollout")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "production_journey_release.png"), full_page=True)

    pulls = list(Pull.objects.filter(release=release).order_by("pulled_at"))
    assert {(pull.outcome, pull.source) for pull in pulls} == {(PullOutcome.OK, source)}
    assert (pulls[0].value, pulls[-1].value) == (0.012, 0.015)
    assert all(pull.observation is not None for pull in pulls)
    waits = [(later.pulled_at - earlier.pulled_at).total_seconds() for earlier, later in itertools.pairwise(pulls)]
    assert waits
    assert min(waits) >= 10


def add_and_test_source(page: Page, url: str) -> DataSource:
    """The production Prometheus, added as a data source and tested."""
    page.get_by_role("link", name="Sources").click()
    page.get_by_role("link", name="Add a data source").click()
    page.get_by_label("Name", exact=True).fill("Production Prometheus")
    page.get_by_label("URL").fill(url)
    page.get_by_role("button", name="Add data source").click()
    expect(page.get_by_role("heading", name="Production Prometheus")).to_be_visible()
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_role("status")).to_contain_text("It works: the source answered with these credentials.")
    source = DataSource.objects.get()
    assert (source.url, source.check_result) == (url, "ok")
    return source


def bind_and_preview_a_new_metric(page: Page, base: str) -> Metric:
    """A new metric, bound to a query of the release's key, and previewed for the canary's key."""
    page.goto(base)
    page.get_by_role("link", name="Create metric").click()
    modal = page.get_by_role("dialog", name="Create a new metric")
    modal.get_by_label("Name", exact=True).fill(METRIC)
    modal.get_by_label("Category", exact=True).fill("Checkout")
    modal.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=METRIC, level=1)).to_be_visible()
    page.get_by_test_id("production-query").get_by_role("link", name="Bind to a data source").click()
    page.get_by_label("Data source", exact=True).select_option(label="Production Prometheus")
    page.get_by_label("Query", exact=True).fill(QUERY)
    page.get_by_role("button", name="Bind").click()
    expect(page.get_by_text("now reads its value from “Production Prometheus”")).to_be_visible()
    page.get_by_label("Key", exact=True).fill(KEY)
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview-value")).to_have_text("0.012")
    expect(page.get_by_test_id("preview-query")).to_have_text(f'mb_history_error_ratio{{service="{KEY}"}}')
    return Metric.objects.get(name=METRIC)


def fill_history_and_train(page: Page, base: str, metric: Metric) -> None:
    """Its history filled from the store (six past releases, ten minutes each), then trained."""
    page.goto(base + metric.get_absolute_url())
    fill = page.locator("#fill-history")
    fill.get_by_label("Past releases (CSV)").set_input_files(
        {"name": "checkout-releases.csv", "mimeType": "text/csv", "buffer": releases_csv()}
    )
    fill.get_by_label("Minutes of each release").fill(str(FILL_MINUTES))
    fill.get_by_role("button", name="Fill history").click()
    filled = len(PAST_RELEASES) * FILL_MINUTES
    outcome = f"Filled {filled} indicators into “{METRIC}” from its data source."
    expect(page.get_by_text(outcome)).to_be_visible()
    expect(page.get_by_role("heading", name=f"{filled} indicators")).to_be_visible()
    expect(page.get_by_test_id("batches")).to_contain_text(
        f"History filled from “Production Prometheus”, {FILL_MINUTES} minutes of each release:"
    )
    first_minutes = metric.indicators.filter(time=1).order_by("pk").values_list("value", "decision")
    assert list(first_minutes) == [
        (history_value(start + 1), 1 if decision == "rollback" else 0) for start, decision in PAST_RELEASES
    ]
    # The fill was a job: the Jobs page keeps how it went.
    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("row").filter(has_text="History fill")).to_contain_text(outcome)

    page.goto(base + metric.get_absolute_url())
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="trained")).to_contain_text(
        f"Model version 1 of “{METRIC}” trained"
    )
    assert TrainedModel.objects.get(metric=metric).n_indicators == filled


def make_gate(page: Page) -> int:
    """A gate of the metric, its bound metric pulled every 10 s (the shortest interval); its id."""
    page.get_by_role("link", name="Gates").click()
    page.get_by_role("link", name="New gate").click()
    page.get_by_label("Name", exact=True).fill("Checkout deploys")
    page.get_by_label("Pull every (seconds)").fill("10")
    page.get_by_test_id("gate-metric-row").nth(0).get_by_label("Metric").select_option(label=f"{METRIC} (Checkout)")
    page.get_by_role("button", name="Save gate").click()
    expect(page.get_by_text("Gate “Checkout deploys” created.")).to_be_visible()
    expect(page.get_by_test_id("gate-settings")).to_contain_text("queried every 10 s while a release is open")
    return int(re.search(r"/gates/(\d+)/$", page.url).group(1))  # type: ignore[union-attr]


def make_write_token(page: Page) -> str:
    """A read-and-write API token for the pipeline, as the API tokens page shows it once."""
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("Argo Rollouts")
    page.get_by_label("Access").select_option(label="Read and write")
    page.get_by_role("button", name="Create token").click()
    return page.get_by_test_id("new-token").get_by_role("textbox", name="New token").inner_text()


def watch_the_pulls(page: Page, store: PrometheusServer) -> None:
    """The release page, reloaded until its first pulled observation is listed, with where it came
    from; then, the canary's error ratio changed, until a later pull brings the new value."""
    observations = page.get_by_test_id("observations").get_by_role("row")
    reload_until(page, lambda: observations.filter(has_text="pulled").count() >= 1)
    expect(observations.nth(1)).to_contain_text(METRIC)
    expect(observations.nth(1)).to_contain_text("0.012")
    pulling = page.get_by_test_id("pulling")
    expect(pulling.get_by_test_id("newest-pull")).to_contain_text("0.012")
    expect(pulling).to_contain_text("Production Prometheus")
    expect(pulling.get_by_test_id("pulling-state")).to_contain_text("Next pull in")
    pulling.get_by_text("The query as sent").click()
    expect(pulling.get_by_text(f'mb_history_error_ratio{{service="{KEY}"}}')).to_be_visible()

    store.set(LIVE_SERIES, "0.015")
    store.wait_for(LIVE_SERIES, "0.015")
    reload_until(page, lambda: observations.filter(has_text="0.015").count() == 1)


def reload_until(page: Page, holds: Callable[[], bool], seconds: float = 40) -> None:
    """Reload the page, as a person watching it does, until `holds()` (or fail after `seconds`)."""
    deadline = timezone.now() + timedelta(seconds=seconds)
    while not holds():
        assert timezone.now() < deadline, f"{page.url} did not show it within {seconds} s"
        page.wait_for_timeout(1_000)
        page.reload()
