"""Celery tasks: thin wrappers around the domain's methods, run by the workers."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.db import DatabaseError, connections
from django.utils import timezone

from metrics.models import Delivery, ImportBatch, Job, Release
from metrics.models.gate import PULL_LEASE

logger = logging.getLogger("mbreak.pulls")


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(self: Task, job_id: int) -> None:
    Job.objects.run(job_id, worker=self.request.hostname or "")


@shared_task(ignore_result=True)
def sweep_abandoned_jobs() -> int:
    """End the running jobs whose worker is gone, and send again the queued ones whose message
    was lost; drop the files of imports that ended without dropping them (their worker lost the
    database as they ended)."""
    handled = Job.objects.sweep_abandoned() + Job.objects.send_lost_again()
    ImportBatch.objects.drop_files_no_job_needs()
    return handled


@shared_task(ignore_result=True)
def retrain_metrics() -> int:
    """The retraining schedule (`MBREAK_RETRAIN_SCHEDULE`): queue a training of every metric with
    new labelled data since its model; return how many were queued."""
    return len(Job.objects.queue_scheduled_retraining())


@worker_ready.connect
def abandon_jobs_of_previous_run(sender: Any, **kwargs: Any) -> None:
    """A worker that starts (before it takes a job) ends the jobs its previous run left running."""
    try:
        Job.objects.abandon_previous_run(sender.hostname, started_before=timezone.now())
    finally:
        connections.close_all()  # the main process runs no job: it keeps no connection


@shared_task(ignore_result=True)
def pull_due_releases() -> int:
    """The beat's tick: claim the releases due for a pull and send one task for each, so that a
    slow store holds up its own release only. A release whose task cannot be sent (or, run in
    this process, fails) is logged and left to its lease; the others are sent all the same.
    Returns how many tasks were sent."""
    try:
        claimed = Release.objects.claim_due_for_pulling()
    except DatabaseError:  # the database is away: the next tick claims them
        logger.exception("The releases due for a pull could not be claimed.")
        return 0
    sent = 0
    for claim in claimed:
        try:
            # A message a worker does not start within the lease is dropped: the release is claimed
            # again by then, and two pulls of it must not run side by side (nor does one that
            # starts late: it pulls only while it holds its lease, `Release.pull`).
            pull_release.apply_async((claim.release_id, claim.lease.isoformat()), expires=PULL_LEASE.total_seconds())
            sent += 1
        except Exception:
            logger.exception("The pull of release %s could not be sent or failed.", claim.release_id)
    return sent


# Acknowledged as it starts: a pull lost with its worker is claimed again by the beat once its
# lease ends, and a redelivered one could run beside that new claim.
@shared_task(ignore_result=True, acks_late=False)
def pull_release(release_id: int, lease: str | None = None) -> None:
    """Pull the release `release_id` while it holds `lease` (the end of its claim, ISO 8601)."""
    Release.objects.pull(release_id, lease=datetime.fromisoformat(lease) if lease else None)


# Acknowledged as it starts: a delivery lost with its worker is held by its lease, then sent
# again by the sweep (`send_lost_deliveries`); a try is claimed once whatever sends it.
@shared_task(ignore_result=True, acks_late=False)
def deliver_webhook(delivery_id: int) -> None:
    """Try a webhook delivery; when it is to be tried again, send this task again for then."""
    wait = Delivery.objects.deliver(delivery_id)
    if wait is not None:
        deliver_webhook.apply_async((delivery_id,), countdown=wait)


@shared_task(ignore_result=True)
def send_lost_deliveries() -> int:
    """The beat's sweep: send again the webhook deliveries whose task was lost."""
    return Delivery.objects.send_lost_again()


@shared_task(ignore_result=True)
def prune_deliveries() -> int:
    """The beat's daily pruning of the delivery log (`MBREAK_WEBHOOK_KEEP_DAYS`): how many were deleted."""
    return Delivery.objects.prune()
