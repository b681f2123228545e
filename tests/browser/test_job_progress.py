"""A training's progress, as the browser shows it while a worker runs it."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from metrics.models import Job, JobStatus, Metric
from tests.conftest import rule_data
from tests.factories import PASSWORD, MetricFactory, TrainedModelFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_the_metric_page_follows_a_training_to_its_new_version(page: Page, live_server, fill_login_form) -> None:
    owner = UserFactory.create(username="owner")
    metric: Metric = MetricFactory.create(owner=owner, name="Requests per minute", category="Traffic")
    metric.import_indicators(rule_data(60), owner)
    TrainedModelFactory.create(metric=metric)
    # What a worker on another machine is doing: the job's state is in the shared database.
    job = Job.objects.create(kind="training", metric=metric, requested_by=owner, status=JobStatus.RUNNING)
    Job.objects.filter(pk=job.pk).update(stage="folds", done=0, total=5, heartbeat_at=timezone.now())

    page.goto(live_server.url)
    fill_login_form(owner, PASSWORD)
    page.goto(live_server.url + metric.get_absolute_url())
    progress = page.get_by_role("status").filter(has_text="Training of “Requests per minute”, asked by owner")
    expect(progress).to_contain_text("Cross-validation: fold 1 of 5")
    expect(progress.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "10")

    Job.objects.filter(pk=job.pk).update(stage="folds", done=3, total=5)
    expect(progress).to_contain_text("Cross-validation: fold 4 of 5")
    expect(progress.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "55")
    Job.objects.filter(pk=job.pk).update(stage="storing")
    expect(progress).to_contain_text("Storing the new version")

    # The worker stores version 2 and ends the job: the page reloads on its own.
    newer = TrainedModelFactory.create(metric=metric)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.DONE, stage="finished", result=newer)
    expect(page.get_by_test_id("versions").get_by_role("row").filter(has_text="Version 2")).to_contain_text("active")
    expect(page.get_by_role("status").filter(has_text="Training of")).to_have_count(0)

    # The Jobs page keeps the outcome.
    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("row").filter(has_text="Requests per minute")).to_contain_text(
        "Version 2 trained: 90.0% accuracy on data it did not see."
    )
