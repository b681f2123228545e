"""Replaying a gate in the browser: the owner replays it from its page, follows the job to the
report, reads its figures and a release's timeline, tries another setting side by side, and
applies it.

The first journey runs on the demo gate (`load_demo`, as `make run` loads it: its metrics'
history registered a month before its releases, and a finished replay). The others run on a
history built for them (tests/replays/history.py), whose answer is known: each bad release is
stopped at minute 5, each good one rolled out.
"""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Page, expect

from metrics.management.commands.load_demo import DEMO_PASSWORD, DEMO_USERNAME
from metrics.models import GateMetric, Job, Outcome, Replay
from tests.browser.test_phone_layout import PHONE, page_width_overflow
from tests.factories import PASSWORD, UserFactory
from tests.replays.history import history

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_the_demo_owner_replays_the_demo_gate_and_reads_the_report(page: Page, live_server, fill_login_form) -> None:
    call_command("load_demo", stdout=io.StringIO(), stderr=io.StringIO())
    demo = User.objects.get(username=DEMO_USERNAME)

    page.goto(live_server.url)
    fill_login_form(demo, DEMO_PASSWORD)
    page.get_by_role("link", name="Gates").click()
    page.get_by_role("link", name="Checkout deploys").click()
    replays = page.get_by_test_id("replays")
    expect(replays).to_contain_text("Finished")  # the demo's own replay
    replays.get_by_role("button", name="Replay the gate").click()

    replay = Replay.objects.order_by("-pk").first()
    assert replay is not None
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Replay {replay.pk} of “Checkout deploys”")
    expect(page.get_by_test_id("replay-rests-on")).to_have_text(
        "It rests on 5 releases with an outcome: 4 judged, 1 not judged."
    )
    expect(page.get_by_test_id("catch-rate")).to_contain_text("2 of 2, 34%–100%")
    expect(page.get_by_test_id("false-rollback-rate")).to_contain_text("1 of 2, 9%–91%")
    expect(page.get_by_role("alert")).to_contain_text("Too little history to trust")
    releases = page.get_by_test_id("replayed-releases")
    expect(releases).to_contain_text("“Requests per minute” was never observed in it.")
    spike = page.get_by_test_id("timeline").filter(has_text="checkout-web v41")
    spike.get_by_text("Timeline of checkout-web v41").click()
    expect(spike.get_by_test_id("timeline-words")).to_have_text(
        "minutes 1–4: Inconclusive · minutes 5–60: Rollback. The team decided at minute 60."
    )
    expect(spike.get_by_role("img").locator(".main-svg").first).to_be_attached()


def test_the_owner_replays_a_gate_reads_the_report_and_applies_a_what_if(
    page: Page, live_server, fill_login_form
) -> None:
    owner = UserFactory.create(username="owner")
    past = history(owner, [Outcome.ROLLBACK, Outcome.ROLLOUT, Outcome.ROLLOUT] * 2, minutes=10, failure_limit=4)

    page.goto(live_server.url)
    fill_login_form(owner, PASSWORD)
    page.get_by_role("link", name="Gates").click()
    page.get_by_role("link", name="Checkout").click()
    replays = page.get_by_test_id("replays")
    expect(replays).to_contain_text("No replay yet.")
    replays.get_by_role("button", name="Replay the gate").click()

    # The report, at the replay's own address.
    expect(page.get_by_role("heading", level=1)).to_contain_text("of “Checkout”")
    replay = Replay.objects.get()
    assert page.url == live_server.url + replay.get_absolute_url()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Replay {replay.pk} of “Checkout”")
    expect(page.get_by_test_id("replay-rests-on")).to_have_text(
        "It rests on 6 releases with an outcome: 6 judged, 0 not judged."
    )
    expect(page.get_by_test_id("catch-rate")).to_contain_text("100%")
    expect(page.get_by_test_id("catch-rate")).to_contain_text("2 of 2, 34%–100%")
    expect(page.get_by_test_id("false-rollback-rate")).to_contain_text("0 of 4, 0%–49%")
    expect(page.get_by_test_id("catch-minute")).to_contain_text("minute 5")
    expect(page.get_by_role("alert")).to_contain_text("Too little history to trust")
    expect(page.get_by_role("alert")).to_contain_text("No better than chance")

    # A release's timeline, drawn when opened.
    first = page.get_by_test_id("timeline").first
    first.get_by_text("Timeline of v1").click()
    expect(first.get_by_test_id("timeline-words")).to_have_text(
        "minutes 1–4: Inconclusive · minutes 5–30: Rollback. The team decided at minute 30."
    )
    chart = first.get_by_role("img", name="Chart of the verdict the gate would have given v1 at each minute")
    expect(chart.locator(".main-svg").first).to_be_attached()
    expect(chart).to_contain_text("The team decided")

    # The same releases with a failure limit of 0: each bad one is stopped at its first minute.
    form = page.get_by_test_id("what-if-form")
    form.get_by_label("“Error rate”: Failure limit", exact=True).fill("0")
    form.get_by_role("button", name="Replay with these settings").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("what-if")
    what_if = Replay.objects.get(compared_with=replay)
    assert page.url == live_server.url + what_if.get_absolute_url()
    comparison = page.get_by_test_id("comparison")
    expect(comparison.get_by_role("heading", level=2)).to_have_text(f"Side by side with replay {replay.pk}")
    changed = comparison.get_by_test_id("what-if-changes").get_by_role("row").filter(has_text="Failure limit")
    expect(changed).to_contain_text("4")
    expect(changed).to_contain_text("0")
    median = comparison.get_by_test_id("comparison-figures").get_by_role("row").filter(has_text="Median catch minute")
    expect(median.get_by_role("cell")).to_have_text(["Median catch minute", "5", "1"])

    # Applied to the gate, once confirmed.
    page.once("dialog", lambda dialog: dialog.accept())
    comparison.get_by_role("button", name="Apply these settings to the gate").click()

    expect(page.get_by_role("status").filter(has_text="are now the gate's")).to_contain_text(
        f"The settings of replay {what_if.pk} are now the gate's: 1 setting changed."
    )
    expect(page.get_by_test_id("gate-changes")).to_contain_text("“Error rate”: Failure limit: 4 → 0")
    assert GateMetric.objects.get(gate=past.gate).failure_limit == 0


def test_the_report_page_follows_the_replay_to_its_report(page: Page, live_server, fill_login_form) -> None:
    owner = UserFactory.create(username="owner")
    past = history(owner, [Outcome.ROLLBACK, Outcome.ROLLOUT], minutes=10, failure_limit=4)
    # Queued, not yet run: what a page shows while a worker elsewhere replays it.
    replay = Replay.objects.start(past.gate, owner, send_to_worker=False)
    job = replay.job

    page.goto(live_server.url)
    fill_login_form(owner, PASSWORD)
    page.goto(live_server.url + replay.get_absolute_url())
    progress = page.get_by_role("status").filter(has_text="Replay of “Checkout”, asked by owner")
    expect(progress).to_contain_text("Waiting for a worker")
    Job.objects.filter(pk=job.pk).update(stage="replaying", done=1, total=2)
    expect(progress).to_contain_text("Replaying the releases: 1 of 2 releases")

    Job.objects.run(job.pk)  # the worker finishes: the page reloads on its own

    expect(page.get_by_test_id("replay-rests-on")).to_have_text(
        "It rests on 2 releases with an outcome: 2 judged, 0 not judged."
    )


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_the_replay_pages_do_not_scroll_sideways_on_a_phone(
    page: Page, live_server, fill_login_form, language: str
) -> None:
    owner = UserFactory.create(username="owner")
    past = history(owner, [Outcome.ROLLBACK, Outcome.ROLLOUT] * 2, minutes=10, failure_limit=4)
    replay = Replay.objects.start(past.gate, owner)
    replay.refresh_from_db()  # run by now (the tests' jobs run at once): what-ifs are of finished replays
    what_if = replay.what_if(owner, {"pass_score": 70, "metrics": {str(past.metric.pk): {"failure_limit": 0}}})
    page.goto(live_server.url)
    fill_login_form(owner, PASSWORD)
    page.set_viewport_size(PHONE)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])

    for path in (reverse("metrics:gate", args=[past.gate.pk]), replay.get_absolute_url(), what_if.get_absolute_url()):
        page.goto(live_server.url + path)
        timeline = page.locator("details[data-timeline]").first
        if timeline.count():
            timeline.locator("summary").click()
            expect(timeline.locator(".main-svg").first).to_be_attached()
        assert page.evaluate("document.documentElement.clientWidth") == PHONE["width"]
        assert page_width_overflow(page) == 0, path
