"""Scheduled retraining: the beat trains again every metric with new labelled data since its
model, through the Train button's job (Celery's eager mode: each job runs as it is queued)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from metrics.models import (
    CandidateReason,
    Job,
    JobKind,
    JobStatus,
    Metric,
    Retraining,
    TrainedModel,
    next_scheduled_retraining,
)
from metrics.tasks import retrain_metrics
from tests.data import noise_data, rule_data
from tests.factories import MetricFactory, TrainedModelFactory
from tests.pages import table_rows

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stale_metric(trained_metric: Metric, owner: User) -> Metric:
    """`trained_metric` with 40 labelled indicators its model (version 1) has not seen."""
    trained_metric.import_indicators(rule_data(40, seed=1), owner)
    return trained_metric


def scheduled_jobs() -> list[tuple[str, int, bool, int | None, str]]:
    return list(Job.objects.order_by("pk").values_list("kind", "metric", "scheduled", "requested_by", "status"))


def test_the_schedule_trains_again_a_metric_with_new_labels_through_a_training_job(stale_metric: Metric) -> None:
    queued = retrain_metrics()

    assert queued == 1
    assert scheduled_jobs() == [(JobKind.TRAINING, stale_metric.pk, True, None, JobStatus.DONE)]
    newest = stale_metric.trained_models.get(version=2)
    assert Job.objects.get().result == newest
    assert (newest.trained_by, newest.data_version, newest.n_indicators) == (None, stale_metric.data_version, 240)
    # Not worse than the active version: the new one answers.
    stale_metric.refresh_from_db()
    assert (stale_metric.active_model_id, newest.candidate_reason) == (newest.pk, "")
    assert stale_metric.retraining() == Retraining.UP_TO_DATE


def test_a_scheduled_version_worse_than_the_active_one_is_kept_as_a_candidate(metric: Metric, owner: User) -> None:
    metric.import_indicators(noise_data(40), owner)
    champion = TrainedModelFactory.create(metric=metric, accuracy=0.99)
    metric.import_indicators(noise_data(20, seed=11), owner)

    retrain_metrics()

    challenger = metric.trained_models.get(version=2)
    metric.refresh_from_db()
    assert challenger.accuracy < 0.99 - 0.02
    assert (challenger.candidate_reason, challenger.compared_version) == (CandidateReason.WORSE, 1)
    assert metric.active_model_id == champion.pk


def test_a_pinned_metric_keeps_its_active_version_through_a_scheduled_training(
    stale_metric: Metric, owner: User
) -> None:
    pinned = stale_metric.trained_models.get()
    stale_metric.activate(pinned, pin=True)

    retrain_metrics()

    stale_metric.refresh_from_db()
    assert (stale_metric.active_model_id, stale_metric.is_active_model_pinned) == (pinned.pk, True)
    assert stale_metric.trained_models.get(version=2).candidate_reason == CandidateReason.PINNED


def test_a_metric_whose_model_has_seen_all_its_data_is_not_queued(trained_metric: Metric) -> None:
    assert retrain_metrics() == 0
    assert not Job.objects.exists()
    assert trained_metric.retraining() == Retraining.UP_TO_DATE


def test_a_metric_never_trained_is_left_to_its_first_train_press(client: Client, metric: Metric, owner: User) -> None:
    metric.import_indicators(rule_data(200), owner)

    assert retrain_metrics() == 0
    assert not Job.objects.exists()
    assert metric.retraining() == Retraining.NEVER_TRAINED
    client.force_login(owner)
    assert "It will be skipped then: the schedule trains models again, never a first one." in schedule_note(
        client, metric
    )


def test_a_metric_with_a_training_queued_is_not_queued_twice(client: Client, stale_metric: Metric, owner: User) -> None:
    pressed = Job.objects.create(kind=JobKind.TRAINING, metric=stale_metric, requested_by=owner)

    assert retrain_metrics() == 0
    assert retrain_metrics() == 0  # a second beat at the same time

    assert list(Job.objects.all()) == [pressed]
    assert stale_metric.retraining() == Retraining.TRAINING
    client.force_login(owner)
    assert "Not then: a training of it is already queued or running." in schedule_note(client, stale_metric)


def test_several_beats_at_once_train_each_metric_once(stale_metric: Metric, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Callable[[], None]] = []  # held, as if no worker had taken the first job yet
    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: sent.append(func))

    first, second = Job.objects.queue_scheduled_retraining(), Job.objects.queue_scheduled_retraining()

    assert (len(first), second) == (1, [])
    assert Job.objects.get().pk == first[0].pk


def test_a_metric_with_too_little_data_is_skipped_and_its_page_says_why(
    client: Client, metric: Metric, owner: User
) -> None:
    metric.import_indicators(rule_data(200), owner)
    TrainedModelFactory.create(metric=metric)
    # Its data undone down to a few rows: there is new data since its model, but too little to learn from.
    metric.indicators.filter(pk__in=list(metric.indicators.values_list("pk", flat=True)[6:])).delete()
    Metric.objects.recount_indicators([metric.pk])

    assert retrain_metrics() == 0
    assert not Job.objects.exists()
    assert metric.retraining() == Retraining.NOT_ENOUGH_DATA
    client.force_login(owner)
    assert "It will be skipped then: it has too little data to train." in schedule_note(client, metric)


def test_the_schedule_trains_every_due_metric_and_only_those(owner: User) -> None:
    due = [MetricFactory.create(owner=owner, name=f"Due {n}") for n in range(3)]
    current = MetricFactory.create(owner=owner, name="Current")
    for metric in [*due, current]:
        metric.import_indicators(rule_data(40), owner)
        TrainedModelFactory.create(metric=metric)
    for metric in due:
        metric.import_indicators(rule_data(20, seed=2), owner)

    queued = Job.objects.queue_scheduled_retraining()

    assert sorted(job.target_metric.pk for job in queued) == [metric.pk for metric in due]
    assert not current.jobs.exists()


def metrics_due(owner: User, count: int) -> None:
    for n in range(count):
        metric = MetricFactory.create(owner=owner, name=f"Metric {n}")
        metric.import_indicators(rule_data(20), owner)
        TrainedModelFactory.create(metric=metric)
        metric.import_indicators(rule_data(10, seed=3), owner)


@pytest.mark.parametrize("count", [3, 20])
def test_finding_the_metrics_due_reads_as_much_for_20_as_for_3(
    owner: User, count: int, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    metrics_due(owner, count)
    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: None)  # not sent

    with CaptureQueriesContext(connection) as queries:
        queued = Job.objects.queue_scheduled_retraining()

    statements = [query["sql"].split()[0].upper() for query in queries.captured_queries]
    assert len(queued) == count
    assert statements.count("SELECT") == 1  # every metric due, in one query
    assert statements.count("INSERT") == count  # then each job, one insert


# The page.


def schedule_note(client: Client, metric: Metric) -> str:
    html = client.get(metric.get_absolute_url()).content.decode()
    start = html.index('data-testid="scheduled-retraining"')
    return " ".join(html[start : html.index("</p>", start)].split())


def test_the_metric_page_shows_the_next_run_and_that_the_metric_will_be_trained_then(
    client: Client, stale_metric: Metric, owner: User, settings: Any
) -> None:
    settings.MBREAK_RETRAIN_SCHEDULE = crontab(minute="17", hour="4")
    now = datetime.now(UTC)
    expected = now.replace(hour=4, minute=17, second=0, microsecond=0)
    if expected <= now:
        expected += timedelta(days=1)
    client.force_login(owner)

    note = schedule_note(client, stale_metric)

    assert next_scheduled_retraining() == expected
    shown = expected.strftime("%m/%d/%Y")
    assert f"Next scheduled retraining: {shown} 4:17 a.m. UTC (in " in note
    assert "It will be trained again then: it has new labelled data since its model." in note


def test_the_metric_page_says_a_metric_up_to_date_has_nothing_to_train_then(
    client: Client, trained_metric: Metric, owner: User
) -> None:
    client.force_login(owner)
    assert "Nothing to train again then: its model has learnt from all its data." in schedule_note(
        client, trained_metric
    )


def test_the_metric_page_says_when_the_schedule_is_off(
    client: Client, stale_metric: Metric, owner: User, settings: Any
) -> None:
    settings.MBREAK_RETRAIN_SCHEDULE = None
    client.force_login(owner)

    note = schedule_note(client, stale_metric)

    assert next_scheduled_retraining() is None
    assert "Scheduled retraining is off on this server" in note
    assert "Next scheduled retraining" not in note


def test_the_next_run_is_read_in_the_sites_time_zone(settings: Any) -> None:
    settings.TIME_ZONE = "America/Sao_Paulo"  # UTC-3
    settings.MBREAK_RETRAIN_SCHEDULE = crontab(minute="0", hour="3")

    after = datetime(2026, 5, 1, 5, 30, tzinfo=UTC)  # 02:30 in São Paulo

    assert next_scheduled_retraining(after) == datetime(2026, 5, 1, 6, 0, tzinfo=UTC)


def test_a_scheduled_training_is_listed_for_the_metrics_owner_as_scheduled(
    client: Client, stale_metric: Metric, owner: User, stranger: User
) -> None:
    retrain_metrics()
    client.force_login(owner)

    rows = table_rows(client.get(reverse("metrics:jobs")))
    page = client.get(stale_metric.get_absolute_url()).content.decode()
    api = client.get(reverse("api:jobs")).json()["results"]

    assert [row[:2] for row in rows] == [[stale_metric.name, "Training scheduled"]]
    assert "Trained just now by the retraining schedule" in page
    assert [(job["kind"], job["scheduled"]) for job in api] == [("training", True)]
    client.force_login(stranger)
    assert table_rows(client.get(reverse("metrics:jobs"))) == []


def test_a_scheduled_training_in_progress_says_the_schedule_queued_it(
    client: Client, stale_metric: Metric, owner: User
) -> None:
    Job.objects.create(kind=JobKind.TRAINING, metric=stale_metric, scheduled=True)
    client.force_login(owner)

    page = client.get(stale_metric.get_absolute_url()).content.decode()

    assert f"Training of “{stale_metric.name}”, queued by the retraining schedule" in page


def test_the_model_card_names_the_schedule_as_its_trainer(client: Client, stale_metric: Metric, owner: User) -> None:
    retrain_metrics()
    client.force_login(owner)
    newest = TrainedModel.objects.get(version=2)

    card = client.get(reverse("metrics:model_card", args=[newest.pk])).content.decode()

    assert "the retraining schedule," in card


# The setting and the beat.


def test_the_beat_queues_the_retraining_nightly_at_three_by_default() -> None:
    from mbreak.celery import app

    entry = django_settings.CELERY_BEAT_SCHEDULE["retrain-metrics"]
    assert entry["task"] == "metrics.tasks.retrain_metrics"
    assert entry["schedule"] == crontab(minute="0", hour="3")
    assert entry["schedule"] is django_settings.MBREAK_RETRAIN_SCHEDULE
    assert django_settings.CELERY_TIMEZONE == django_settings.TIME_ZONE
    app.loader.import_default_modules()  # what a worker does at start: the beat sends the task by its name
    assert entry["task"] in app.tasks
    # The beat runs inside the worker, in production and under `make run`.
    for procfile in (ROOT / "Procfile", ROOT / "Procfile.dev"):
        worker = next(line for line in procfile.read_text(encoding="utf-8").splitlines() if line.startswith("worker:"))
        assert "--beat" in shlex.split(worker.partition(":")[2])


def beat_entry_started_with(schedule: str) -> subprocess.CompletedProcess[str]:
    """Start the settings in a fresh interpreter with MBREAK_RETRAIN_SCHEDULE=`schedule`; print the
    beat's retraining entry."""
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(repr(settings.CELERY_BEAT_SCHEDULE.get('retrain-metrics')))"
    )
    return subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "mbreak.settings", "MBREAK_RETRAIN_SCHEDULE": schedule},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_setting_sets_the_beats_crontab() -> None:
    started = beat_entry_started_with("30 1 * * mon-fri")
    assert started.returncode == 0, started.stderr
    assert "'task': 'metrics.tasks.retrain_metrics'" in started.stdout
    assert "<crontab: 30 1 * * mon-fri" in started.stdout


def test_the_setting_off_removes_the_beats_entry() -> None:
    started = beat_entry_started_with("off")
    assert (started.returncode, started.stdout.strip()) == (0, "None")


def test_a_bad_setting_stops_the_start_saying_what_is_wrong() -> None:
    started = beat_entry_started_with("0 25 * * *")
    assert started.returncode != 0
    assert 'MBREAK_RETRAIN_SCHEDULE="0 25 * * *": its hour field "25" is not valid (0-23' in started.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 3 * *", 'MBREAK_RETRAIN_SCHEDULE="0 3 * *" is not a crontab expression: it takes five fields'),
        ("nightly", 'MBREAK_RETRAIN_SCHEDULE="nightly" is not a crontab expression'),
        ("61 3 * * *", 'its minute field "61" is not valid (0-59'),
        ("x 3 * * *", 'its minute field "x" is not valid'),
        ("0 3 0 * *", 'its day of the month field "0" is not valid (1-31'),
        ("0 3 * 13 *", 'its month field "13" is not valid'),
        ("0 3 * * 8", 'its day of the week field "8" is not valid'),
        ("0 3 1,,2 * *", 'its day of the month field "1,,2" is not valid'),
        ("0 3 30 2 *", 'MBREAK_RETRAIN_SCHEDULE="0 3 30 2 *" is not a schedule that runs'),
    ],
)
def test_a_bad_crontab_is_refused_naming_the_field(monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    from mbreak.settings import env_crontab

    monkeypatch.setenv("MBREAK_RETRAIN_SCHEDULE", text)
    with pytest.raises(RuntimeError) as refused:
        env_crontab("MBREAK_RETRAIN_SCHEDULE", "0 3 * * *")
    assert message in str(refused.value)


@pytest.mark.parametrize("text", ["", "off", " OFF "])
def test_an_empty_or_off_crontab_setting_turns_the_schedule_off(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    from mbreak.settings import env_crontab

    monkeypatch.setenv("MBREAK_RETRAIN_SCHEDULE", text)
    assert env_crontab("MBREAK_RETRAIN_SCHEDULE", "0 3 * * *") is None


def test_a_crontab_setting_may_space_its_fields_as_it_likes(monkeypatch: pytest.MonkeyPatch) -> None:
    from mbreak.settings import env_crontab

    monkeypatch.setenv("MBREAK_RETRAIN_SCHEDULE", " */15  9-17 * *\t1-5 ")
    schedule = env_crontab("MBREAK_RETRAIN_SCHEDULE", "0 3 * * *")
    assert schedule == crontab(minute="*/15", hour="9-17", day_of_week="1-5")


def test_an_unset_crontab_setting_takes_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from mbreak.settings import env_crontab

    monkeypatch.delenv("MBREAK_RETRAIN_SCHEDULE", raising=False)
    assert env_crontab("MBREAK_RETRAIN_SCHEDULE", "0 3 * * *") == crontab(minute="0", hour="3")
