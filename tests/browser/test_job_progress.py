"""A training's progress, as the browser shows it while a worker runs it."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from metrics.models import ImportBatch, Job, JobStatus, Metric
from tests.data import rule_data
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


def test_the_metric_page_follows_an_import_through_rows_read_and_stored(
    page: Page, live_server, fill_login_form
) -> None:
    owner = UserFactory.create(username="owner")
    metric: Metric = MetricFactory.create(owner=owner, name="Requests per minute", category="Traffic")
    batch = ImportBatch.objects.create(
        metric=metric,
        uploaded_by=owner,
        file_name="deploy-42.csv",
        sha256="0" * 64,
        size=13_000_000,
        delimiter="detect",
    )
    # A worker elsewhere reads the file: its progress is in the shared database.
    job = Job.objects.create(kind="import", metric=metric, requested_by=owner, batch=batch, status=JobStatus.RUNNING)
    Job.objects.filter(pk=job.pk).update(stage="parsing", done=300_000, heartbeat_at=timezone.now())

    page.goto(live_server.url)
    fill_login_form(owner, PASSWORD)
    page.goto(live_server.url + metric.get_absolute_url())
    progress = page.get_by_role("status").filter(has_text="Import of “Requests per minute”, asked by owner")
    expect(progress).to_contain_text("Reading the file: 300,000 rows read")
    expect(progress).to_contain_text("All the rows of the file are stored together, or none.")

    Job.objects.filter(pk=job.pk).update(stage="importing", done=0, total=1_000_000)
    expect(progress).to_contain_text("Storing the rows: 1,000,000 rows, all or none")

    # The rows are committed and the job ends: the page reloads with them.
    metric.import_indicators(rule_data(60), owner, batch)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.DONE, stage="finished", done=60, total=60)
    expect(page.get_by_role("heading", name="60 indicators")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Import of")).to_have_count(0)
