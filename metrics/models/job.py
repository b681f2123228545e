from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any

from celery import signature
from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    models,
    transaction,
)
from django.db.models import Count, ExpressionWrapper, F, Q, Sum
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_noop, ngettext
from django.utils.translation import gettext_lazy as _

from metrics import csv_io, wording
from metrics.csv_io import CsvFormatError, RowError
from metrics.exceptions import MetricDeleted
from metrics.formatting import percent
from metrics.models.indicator import ImportBatch
from metrics.models.metric import Metric, ReleasesToFill, releases_read_words
from metrics.models.trained_model import TrainedModel
from metrics.wording import as_stored, word_again
from predictor.columns import IndicatorColumns
from predictor.training import MIN_INDICATORS, MIN_PER_DECISION, NotEnoughDataError, TrainingDataError
from stores.errors import NoData, StoreError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from django.contrib.auth.models import AnonymousUser, User

    from metrics.models.data_source import MetricQuery
    from metrics.models.replay import Replay
    from metrics.training_outcomes import TrainingOutcomes

logger = logging.getLogger("mbreak.jobs")

# The task is sent by its name: the models never import the tasks that call them.
RUN_JOB = "metrics.tasks.run_job"

# Progress is written at most this often (but every change of stage at once).
REPORT_EVERY_SECONDS = 0.5
# A running job says it is alive this many times within the heartbeat timeout: a beat or two
# may be late (a busy database) before the sweep takes it for abandoned.
BEATS_PER_TIMEOUT = 6


def heartbeat_seconds() -> float:
    """How often a running job tells the sweep that its worker is alive."""
    return settings.MBREAK_JOB_HEARTBEAT_TIMEOUT / BEATS_PER_TIMEOUT


class JobKind(models.TextChoices):
    TRAINING = "training", _("Training")
    IMPORT = "import", _("Import")
    FILL = "fill", _("History fill")
    REPLAY = "replay", _("Replay")


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


ACTIVE = [JobStatus.QUEUED, JobStatus.RUNNING]
# The jobs that store what a file sent by someone holds: an upload's rows, a fill's releases.
SENT_FILES = [JobKind.IMPORT, JobKind.FILL]


class Failure(models.TextChoices):
    NOT_ENOUGH_DATA = "not_enough_data", _("not enough data")
    BAD_DATA = "bad_data", _("values that cannot be learnt from")
    TOO_LONG = "too_long", _("took too long")
    ABANDONED = "abandoned", _("its worker stopped")
    UNQUEUED = "unqueued", _("the job queue was unreachable")
    CSV_ERRORS = "csv_errors", _("errors in the file")
    METRIC_DELETED = "metric_deleted", _("the metric was deleted")
    DATABASE = "database", _("the database was unreachable or the connection to it was lost")
    ERROR = "error", _("an unexpected error")


# Stages, as stored (English, untranslated) and shown (translated when shown).
STAGES = {
    "queued": gettext_noop("Waiting for a worker"),
    "reading": gettext_noop("Reading the indicators"),
    "parsing": gettext_noop("Reading the file"),
    "pulling": gettext_noop("Reading from the data source"),
    "importing": gettext_noop("Storing the rows"),
    "folds": gettext_noop("Cross-validation"),
    "final_fit": gettext_noop("Fitting the final tree"),
    "storing": gettext_noop("Storing the new version"),
    "drawing": gettext_noop("Drawing the charts"),
    "replaying": gettext_noop("Replaying the releases"),
    "finished": gettext_noop("Finished"),
}


def _requested_in() -> str:
    return translation.get_language() or ""


@dataclass(frozen=True)
class JobDurations:
    """How long the jobs of one kind that ended one way took: `within[i]` of them took at most
    the i-th bound asked for (`JobQuerySet.durations`)."""

    kind: str
    status: str
    count: int
    total_seconds: float
    within: tuple[int, ...]


class JobQuerySet(models.QuerySet["Job"]):
    def enqueue_training(
        self, metric: Metric, user: User | None, *, send_to_worker: bool = True, scheduled: bool = False
    ) -> tuple[Job, bool]:
        """A training job for `metric`, queued for a worker once this transaction commits; or the
        one already queued or running for it (then False): pressing Train twice trains once.
        Without `send_to_worker`, the caller runs it (`run_here`). `scheduled`: queued by the
        retraining schedule (`queue_scheduled_retraining`), by nobody."""
        try:
            with transaction.atomic():
                job = self.create(
                    kind=JobKind.TRAINING,
                    metric=metric,
                    requested_by=user,
                    scheduled=scheduled,
                    language=_requested_in(),
                )
        except IntegrityError:
            active = self.filter(kind=JobKind.TRAINING, metric=metric, status__in=ACTIVE).first()
            if active is None:  # it ended between the insert and this read: queue another
                return self.enqueue_training(metric, user, send_to_worker=send_to_worker, scheduled=scheduled)
            return active, False
        if send_to_worker:
            transaction.on_commit(lambda: _send(job))
        return job, True

    def enqueue_import(self, batch: ImportBatch, user: User, *, send_to_worker: bool = True) -> Job:
        """An import job for an uploaded file, queued for a worker once this transaction commits.
        Without `send_to_worker`, the caller runs it (`run_here`)."""
        if batch.metric is None:
            raise ValueError("An upload is always into a metric.")
        job = self.create(
            kind=JobKind.IMPORT, metric=batch.metric, requested_by=user, batch=batch, language=_requested_in()
        )
        if send_to_worker:
            transaction.on_commit(lambda: _send(job))
        return job

    def enqueue_fill(
        self,
        batch: ImportBatch,
        user: User,
        *,
        send_to_worker: bool = True,
        releases: ReleasesToFill | None = None,
    ) -> Job:
        """A history fill job for a fill file (`Metric.queue_fill`; of the `releases` recorded
        here, whose counts it keeps, for `Metric.queue_fill_from_releases`), queued for a worker once this
        transaction commits. Without `send_to_worker`, the caller runs it (`run_here`)."""
        if batch.metric is None:
            raise ValueError("A fill is always into a metric.")
        job = self.create(
            kind=JobKind.FILL,
            metric=batch.metric,
            requested_by=user,
            batch=batch,
            language=_requested_in(),
            counts=None if releases is None else releases.counts,
        )
        if send_to_worker:
            transaction.on_commit(lambda: _send(job))
        return job

    def enqueue_replay(self, replay: Replay, user: User | AnonymousUser, *, send_to_worker: bool = True) -> Job:
        """The job that runs a replay (`Replay.run`), queued for a worker once this transaction
        commits. Without `send_to_worker`, the caller runs it (`run_here`)."""
        job = self.create(
            kind=JobKind.REPLAY,
            replay=replay,
            requested_by=user if user.is_authenticated else None,
            language=_requested_in(),
        )
        if send_to_worker:
            transaction.on_commit(lambda: _send(job))
        return job

    def queue_scheduled_retraining(self) -> list[Job]:
        """The retraining schedule's run: a training job, as the Train button queues it (the same
        job, version numbering, champion/challenger and pinning rules), for each metric
        `Metric.objects.due_for_retraining()` finds, asked by nobody and marked `scheduled`;
        return those queued. Each is sent to the workers as it is stored, while the next ones
        are. A metric whose training another caller queued meanwhile is left to it: several
        beats running the schedule at once train each metric once.

        One query finds every metric due, however many; each job is then one insert."""
        queued = []
        for metric in Metric.objects.due_for_retraining().only("pk", "name"):
            job, created = self.enqueue_training(metric, None, scheduled=True)
            if created:
                queued.append(job)
        logger.info("scheduled retraining: %d training(s) queued", len(queued), extra={"queued": len(queued)})
        return queued

    def run(self, job_id: int, worker: str = "") -> None:
        """What a worker (named `worker`) does with a queued job. Safe to run again (the broker
        redelivers a job whose worker died): a job that ended is left as it is, and one that
        another worker is running is left to it."""
        job = self.select_related("metric", "requested_by", "replay__gate").filter(pk=job_id).first()
        if job is None or job.status in (JobStatus.DONE, JobStatus.FAILED):
            return  # deleted with its metric, or already ended
        # What it words as it runs (an upload's line-numbered errors) is kept in the language
        # of the page that queued it, not the worker's.
        with translation.override(job.language or settings.LANGUAGE_CODE):
            job.run(worker)

    def train_each(
        self, metrics: Iterable[Metric], user: User | None, *, here: bool = False, budget_seconds: float | None = None
    ) -> TrainingOutcomes:
        """A training job for each of `metrics` (or the one already queued or running for it), sent
        to the workers; and what came of them. With `here` (a command), each new job is run in
        this process in turn instead, and, with a budget, no new one starts once `budget_seconds`
        have passed: the metrics left are `remaining`."""
        from metrics.training_outcomes import TrainingOutcomes

        outcomes = TrainingOutcomes()
        deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
        for metric in metrics:
            # At least one per run, so that every run makes progress.
            if outcomes.jobs and deadline is not None and time.monotonic() > deadline:
                outcomes.remaining.append(metric)
                continue
            job, created = self.enqueue_training(metric, user, send_to_worker=not here)
            # As it is now: a worker may have done it already (at once, in development and tests).
            ended = self.run_here(job) if here and created else self.listed().filter(pk=job.pk).first()
            if ended is not None:  # else deleted with its metric meanwhile
                outcomes.jobs.append(ended)
        return outcomes

    def run_here(self, job: Job) -> Job | None:
        """Run a job queued without sending it to a worker in this process (a command waiting
        for its outcome), as a worker runs it; return it as it ended, or None if it was deleted
        with its metric. Should this process die first, the sweep handles it as a worker's: it
        is sent to a worker if it never started, and ended as abandoned if it did."""
        self.run(job.pk, worker=f"command@{socket.gethostname()}")
        return self.listed().filter(pk=job.pk).first()

    def for_user(self, user: User | AnonymousUser) -> JobQuerySet:
        """The jobs `user` asked for, and the scheduled trainings of the metrics they own, newest first."""
        if not user.is_authenticated:
            return self.none()
        theirs = Q(requested_by=user.pk) | Q(scheduled=True, metric__owner=user.pk)
        return self.filter(theirs).listed().order_by("-created_at", "-pk")

    def listed(self) -> JobQuerySet:
        """With what a job's line shows (its metric, the version trained, the file's name), but
        not the file's bytes nor the version's."""
        return self.select_related("metric", "result", "batch", "replay__gate").defer(
            "batch__data", "result__artifact", "result__chart_sample"
        )

    def active(self) -> JobQuerySet:
        return self.filter(status__in=ACTIVE)

    def active_counts(self) -> models.QuerySet[Job, dict[str, Any]]:
        """How many jobs of each kind wait for a worker or run, in one query: rows of `kind`,
        `status` (queued or running) and `count`."""
        return self.active().order_by().values("kind", "status").annotate(count=Count("pk"))

    def failure_counts(self) -> models.QuerySet[Job, dict[str, Any]]:
        """How many jobs of each kind failed, by why (a Failure value), in one query: rows of
        `kind`, `failure` and `count`."""
        failed = self.order_by().filter(status=JobStatus.FAILED)
        return failed.values("kind", "failure").annotate(count=Count("pk"))

    def durations(self, bounds: Sequence[float]) -> list[JobDurations]:
        """How long the jobs that ran took, from their worker's start to their end, by kind and
        how they ended (done or failed), in one query: for each, how many took at most each of
        `bounds` (seconds, ascending), how many in all, and their seconds in all. A job that
        never started (its queue was unreachable) took no time and is left out."""
        ran = self.order_by().filter(
            status__in=[JobStatus.DONE, JobStatus.FAILED], started_at__isnull=False, finished_at__isnull=False
        )
        within = {
            f"within_{index}": Count("pk", filter=Q(finished_at__lte=F("started_at") + timedelta(seconds=bound)))
            for index, bound in enumerate(bounds)
        }
        took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=models.DurationField())
        rows = ran.values("kind", "status").annotate(count=Count("pk"), took=Sum(took), **within)
        return [
            JobDurations(
                kind=row["kind"],
                status=row["status"],
                count=row["count"],
                total_seconds=row["took"].total_seconds() if row["took"] is not None else 0.0,
                within=tuple(row[f"within_{index}"] for index in range(len(bounds))),
            )
            for row in rows
        ]

    def failed_imports_to_show(self, user: User | AnonymousUser) -> JobQuerySet:
        """The imports `user` sent that failed and that they have not dismissed, newest first:
        why each failed stays where they look (the metric's page, the upload page)."""
        failed = self.filter(kind__in=SENT_FILES, status=JobStatus.FAILED, dismissed_at__isnull=True)
        return failed.filter(requested_by=user.pk).listed().order_by("-created_at", "-pk")

    def send_lost_again(self) -> int:
        """Send again each job still queued `MBREAK_JOB_RESEND_AFTER` seconds after it was sent
        (or last sent again); return how many. Its message was lost (Redis flushed or failed
        over), or is held for a worker that died (Redis hands it on only after an hour):
        without this it would wait "queued" for ever, and its metric could not be trained
        again, as a training already waits. A job sent twice runs once (`Job._claim`).

        For a queued job, `heartbeat_at` is when it was last sent again."""
        now = timezone.now()
        since = now - timedelta(seconds=settings.MBREAK_JOB_RESEND_AFTER)
        lost = Q(status=JobStatus.QUEUED) & (
            Q(heartbeat_at__lt=since) | Q(heartbeat_at__isnull=True, created_at__lt=since)
        )
        sent = 0
        for job in self.filter(lost).only("pk"):
            # Marked before it is sent: sweeps at once (several beats) send it once between them.
            if Job.objects.filter(lost, pk=job.pk).update(heartbeat_at=now):
                logger.warning("job %s was still queued: sent again", job.pk, extra={"job_id": job.pk})
                _send(job)
                sent += 1
        return sent

    def sweep_abandoned(self) -> int:
        """End the running jobs whose worker has said nothing for too long; return how many."""
        silent_since = timezone.now() - timedelta(seconds=settings.MBREAK_JOB_HEARTBEAT_TIMEOUT)
        silent = self.filter(status=JobStatus.RUNNING, heartbeat_at__lt=silent_since)
        return silent._end_abandoned(f"its worker said nothing for {settings.MBREAK_JOB_HEARTBEAT_TIMEOUT} s")

    def abandon_previous_run(self, worker: str, started_before: datetime) -> int:
        """End the jobs that `worker` (a node name, "celery@host") was running when it stopped,
        as it starts again, rather than after the heartbeat timeout: whatever ran them (the
        worker's previous run, killed or lost with its machine) is gone. Return how many."""
        ran_by = self.filter(
            status=JobStatus.RUNNING,
            worker=worker[: Job._meta.get_field("worker").max_length],
            started_at__lt=started_before,
        )
        return ran_by._end_abandoned(f"its worker {worker} started again")

    def _end_abandoned(self, why: str) -> int:
        """End these running jobs, whose worker is gone; return how many. Failed, but for a
        training whose version was stored before its worker stopped (while drawing its charts,
        which a page draws again): it did its work. Their files are dropped."""
        now = timezone.now()
        stored = self.filter(result__isnull=False).update(status=JobStatus.DONE, stage="finished", finished_at=now)
        failed = self.filter(result__isnull=True).update(
            status=JobStatus.FAILED, failure=Failure.ABANDONED, detail=why, stage="finished", finished_at=now
        )
        if stored + failed:
            ImportBatch.objects.drop_files_no_job_needs()
            logger.warning("%d job(s) abandoned: %s", stored + failed, why)
        return stored + failed


class Job(models.Model):
    """Long work done by a worker, as every web instance sees it: what, for whom, how far."""

    kind = models.CharField(_("kind"), max_length=16, choices=JobKind.choices)
    # The metric it trains, imports or fills into (none for a replay, which is of a gate).
    metric = models.ForeignKey(
        Metric, on_delete=models.CASCADE, null=True, related_name="jobs", verbose_name=_("metric")
    )
    replay = models.ForeignKey(
        "metrics.Replay", on_delete=models.CASCADE, null=True, related_name="jobs", verbose_name=_("replay")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="jobs", verbose_name=_("by")
    )
    status = models.CharField(_("status"), max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    stage = models.CharField(_("stage"), max_length=16, default="queued")
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    failure = models.CharField(max_length=16, choices=Failure.choices, blank=True, default="")
    detail = models.TextField(blank=True, default="")  # for failures: what went wrong, for the logs and staff
    # For a training refused for too little data: {"total": n, "rollbacks": n, "rollouts": n}.
    counts = models.JSONField(null=True, blank=True)
    # For an import: the file, and the errors that refused it ({"message", "rows", "total"}).
    batch = models.ForeignKey(
        "metrics.ImportBatch", on_delete=models.CASCADE, null=True, related_name="jobs", verbose_name=_("file")
    )
    errors = models.JSONField(null=True, blank=True)
    result = models.ForeignKey(
        "metrics.TrainedModel", on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("result")
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # The language of the request that queued it (empty: the site's).
    language = models.CharField(max_length=16, blank=True, default="")
    # Queued by the retraining schedule (MBREAK_RETRAIN_SCHEDULE), not by a person.
    scheduled = models.BooleanField(_("scheduled"), default=False)
    # The Celery node that ran it last ("celery@host"): which instance to look at.
    worker = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(_("queued at"), default=timezone.now)
    started_at = models.DateTimeField(null=True)
    heartbeat_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(_("finished at"), null=True)
    # When who sent a failed import said they had read why (it is shown until then).
    dismissed_at = models.DateTimeField(_("dismissed at"), null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        constraints = [
            # One training at a time per metric: a second press finds the first. Imports queue
            # up (each file waits for the one before it to commit).
            models.UniqueConstraint(
                fields=["metric"],
                condition=Q(kind=JobKind.TRAINING, status__in=ACTIVE),
                name="job_one_active_training_per_metric",
            ),
        ]
        indexes = [models.Index(fields=["requested_by", "-created_at"], name="job_requester_newest")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.subject} ({self.status})"

    @property
    def target_metric(self) -> Metric:
        """The metric a training, an import or a fill is of (each has one; a replay has none)."""
        if self.metric is None:
            raise ValueError(f"A {self.kind} job is of no metric.")
        return self.metric

    @property
    def subject(self) -> str:
        """What it works on: its metric's name, or the gate a replay is of."""
        if self.replay_id is not None and self.replay is not None:
            return self.replay.gate.name
        return self.metric.name if self.metric is not None else ""

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def stage_label(self) -> str:
        label = gettext(STAGES.get(self.stage, self.stage))
        if self.stage == "folds" and self.total:
            return gettext("%(stage)s: fold %(fold)d of %(folds)d") % {
                "stage": label,
                "fold": self.done + 1,
                "folds": self.total,
            }
        if self.stage == "parsing" and self.done:
            return ngettext("%(stage)s: %(rows)s row read", "%(stage)s: %(rows)s rows read", self.done) % {
                "stage": label,
                "rows": number_format(self.done, force_grouping=True),
            }
        if self.stage == "pulling" and self.total:
            return ngettext(
                "%(stage)s: %(done)s of %(total)s release", "%(stage)s: %(done)s of %(total)s releases", self.total
            ) % {
                "stage": label,
                "done": number_format(self.done, force_grouping=True),
                "total": number_format(self.total, force_grouping=True),
            }
        if self.stage == "replaying" and self.total:
            return ngettext(
                "%(stage)s: %(done)s of %(total)s release", "%(stage)s: %(done)s of %(total)s releases", self.total
            ) % {
                "stage": label,
                "done": number_format(self.done, force_grouping=True),
                "total": number_format(self.total, force_grouping=True),
            }
        if self.stage == "importing" and self.total:
            return ngettext(
                "%(stage)s: %(rows)s row, all or none", "%(stage)s: %(rows)s rows, all or none", self.total
            ) % {"stage": label, "rows": number_format(self.total, force_grouping=True)}
        return label

    @property
    def percent_done(self) -> int:
        """A rough share of the work done, for a progress bar."""
        if self.status in (JobStatus.DONE, JobStatus.FAILED):
            return 100
        steps = {
            "queued": 0,
            "reading": 5,
            "parsing": 20,
            "importing": 60,
            "final_fit": 85,
            "storing": 92,
            "drawing": 96,
        }
        if self.stage == "folds" and self.total:
            return 10 + int(75 * self.done / self.total)
        if self.stage == "pulling" and self.total:
            return 20 + int(40 * self.done / self.total)
        if self.stage == "replaying" and self.total:
            return 5 + int(90 * self.done / self.total)
        return steps.get(self.stage, 0)

    def outcome(self) -> str:
        """What happened, in words, in the reader's language."""
        if self.kind == JobKind.IMPORT:
            return self._import_outcome()
        if self.kind == JobKind.FILL:
            return self._fill_outcome()
        if self.kind == JobKind.REPLAY:
            return self._replay_outcome()
        if self.status == JobStatus.DONE and self.result is not None:
            trained = gettext("Version %(version)d trained: %(accuracy)s accuracy on data it did not see.") % {
                "version": self.result.version,
                "accuracy": percent(self.result.accuracy),
            }
            # A version kept as a candidate does not answer: the outcome says so, and why.
            return f"{trained} {self.result.candidate_summary}".strip()
        if self.status != JobStatus.FAILED:
            return self.stage_label
        if self.failure == Failure.NOT_ENOUGH_DATA and self.counts:
            return not_enough_data_message(self.target_metric.name, **self.counts)
        messages = {
            Failure.NOT_ENOUGH_DATA: gettext("Not enough data to train “%(name)s”."),
            Failure.BAD_DATA: gettext("“%(name)s” holds values that cannot be learnt from; check its data."),
            Failure.TOO_LONG: gettext(
                "The training of “%(name)s” took too long and was stopped. The previous version still answers."
            ),
            Failure.ABANDONED: gettext(
                "The worker training “%(name)s” stopped (restarted or killed). Nothing was stored; the previous "
                "version still answers. Train again."
            ),
            Failure.UNQUEUED: gettext(
                "The training of “%(name)s” could not be queued: the job queue is unreachable. Try again in a "
                "moment; the version that answers still does."
            ),
            Failure.DATABASE: gettext(
                "The training of “%(name)s” lost its connection to the database; nothing was stored and the "
                "previous version still answers. Train again."
            ),
            Failure.ERROR: gettext(
                "The training of “%(name)s” failed unexpectedly; nothing was stored. Try again, or tell staff."
            ),
        }
        return messages[Failure(self.failure)] % {"name": self.target_metric.name} if self.failure else ""

    def _import_outcome(self) -> str:
        if self.status == JobStatus.DONE:
            return ngettext(
                "Imported %(count)s indicator into “%(name)s”.",
                "Imported %(count)s indicators into “%(name)s”.",
                self.done,
            ) % {"count": number_format(self.done, force_grouping=True), "name": self.target_metric.name}
        if self.status != JobStatus.FAILED:
            return self.stage_label
        if self.failure == Failure.CSV_ERRORS and (refusal := self.csv_error()) is not None:
            return refusal.message
        if self.failure == Failure.METRIC_DELETED:
            return gettext("The metric “%(name)s” was deleted while your data was being sent: nothing was stored.") % {
                "name": self.target_metric.name
            }
        if self.failure == Failure.DATABASE:
            return gettext(
                "The import into “%(name)s” lost its connection to the database; nothing was stored. Upload the "
                "file again."
            ) % {"name": self.target_metric.name}
        if self.failure == Failure.ABANDONED:
            return gettext(
                "The worker importing into “%(name)s” stopped (restarted or killed) before it stored the file; "
                "nothing was stored. Upload the file again."
            ) % {"name": self.target_metric.name}
        if self.failure == Failure.UNQUEUED:
            return gettext(
                "The import into “%(name)s” could not be queued: the job queue is unreachable. Nothing was "
                "stored; upload the file again in a moment."
            ) % {"name": self.target_metric.name}
        return gettext("The import into “%(name)s” failed; nothing was stored. Try again.") % {
            "name": self.target_metric.name
        }

    def _replay_outcome(self) -> str:
        gate = {"gate": self.subject}
        if self.status == JobStatus.DONE:
            return ngettext(
                "Replayed %(count)s release of “%(gate)s”.", "Replayed %(count)s releases of “%(gate)s”.", self.done
            ) % {"count": number_format(self.done, force_grouping=True), **gate}
        if self.status != JobStatus.FAILED:
            return self.stage_label
        messages = {
            Failure.ABANDONED: gettext(
                "The worker replaying “%(gate)s” stopped (restarted or killed) before it finished; nothing was "
                "stored. Replay it again."
            ),
            Failure.UNQUEUED: gettext(
                "The replay of “%(gate)s” could not be queued: the job queue is unreachable. Replay it again in a "
                "moment."
            ),
            Failure.DATABASE: gettext(
                "The replay of “%(gate)s” lost its connection to the database; nothing was stored. Replay it again."
            ),
            Failure.TOO_LONG: gettext(
                "The replay of “%(gate)s” took too long and was stopped; nothing was stored. Replay fewer releases "
                "at a time."
            ),
        }
        failed = gettext("The replay of “%(gate)s” failed unexpectedly; nothing was stored. Try again, or tell staff.")
        return messages.get(Failure(self.failure), failed) % gate if self.failure else failed % gate

    def _fill_outcome(self) -> str:
        name = {"name": self.target_metric.name}
        # A fill from the releases recorded here: which it read, which it left out and why.
        read = releases_read_words(self.counts) if self.counts else ""
        if self.status == JobStatus.DONE:
            filled = ngettext(
                "Filled %(count)s indicator into “%(name)s” from its data source.",
                "Filled %(count)s indicators into “%(name)s” from its data source.",
                self.done,
            ) % {"count": number_format(self.done, force_grouping=True), **name}
            return f"{filled} {read}".strip()
        if self.status != JobStatus.FAILED:
            return self.stage_label
        if self.failure == Failure.CSV_ERRORS and (refusal := self.csv_error()) is not None:
            return refusal.message
        messages = {
            Failure.METRIC_DELETED: gettext(
                "The metric “%(name)s” was deleted while its history was being filled: nothing was stored."
            ),
            Failure.DATABASE: gettext(
                "The history fill of “%(name)s” lost its connection to the database; nothing was stored. Send the "
                "file again."
            ),
            Failure.ABANDONED: gettext(
                "The worker filling the history of “%(name)s” stopped (restarted or killed) before it stored it; "
                "nothing was stored. Send the file again."
            ),
            Failure.UNQUEUED: gettext(
                "The history fill of “%(name)s” could not be queued: the job queue is unreachable. Nothing was "
                "stored; send the file again in a moment."
            ),
            Failure.TOO_LONG: gettext(
                "The history fill of “%(name)s” took too long and was stopped; nothing was stored. Send fewer "
                "releases at a time."
            ),
        }
        failed = gettext("The history fill of “%(name)s” failed; nothing was stored. Try again.")
        return messages.get(Failure(self.failure), failed) % name if self.failure else failed % name

    def as_progress(self, viewer: User | AnonymousUser) -> dict[str, Any]:
        """What a page polls to draw the progress bar, as `viewer` may see it."""
        return {
            "status": self.status,
            "stage": self.stage_label,
            "percent": self.percent_done,
            "outcome": self.outcome_for(viewer),
            "is_active": self.is_active,
        }

    def shows_details_to(self, viewer: User | AnonymousUser) -> bool:
        """A job is as visible as its metric (anyone may follow a training or an import on its
        page), but why a file was refused words what the file holds (its header, its cells),
        which was never stored: that is for who sent it."""
        return not (self.kind in SENT_FILES and self.status == JobStatus.FAILED) or (
            self.requested_by_id is not None and self.requested_by_id == viewer.pk
        )

    def can_dismiss(self, user: User | AnonymousUser) -> bool:
        """Only who sent a file reads why its import failed, so only they put it away."""
        return (
            self.kind in SENT_FILES
            and self.status == JobStatus.FAILED
            and self.requested_by_id is not None
            and self.requested_by_id == user.pk
        )

    def dismiss(self) -> None:
        """Stop showing why this import failed (kept, still listed under Jobs)."""
        if self.dismissed_at is None:
            self.dismissed_at = timezone.now()
            Job.objects.filter(pk=self.pk, dismissed_at__isnull=True).update(dismissed_at=self.dismissed_at)

    def outcome_for(self, viewer: User | AnonymousUser) -> str:
        if self.shows_details_to(viewer):
            return self.outcome()
        if self.kind == JobKind.FILL:
            return gettext("A history fill failed; who sent its file sees why.")
        return gettext("The import of a file failed; who sent it sees why.")

    def run(self, worker: str = "") -> None:
        started = time.perf_counter()
        if not self._claim(worker):
            logger.info("job %s is being run by another worker", self.pk, extra={"job_id": self.pk, "worker": worker})
            return
        self.status, self.worker, self._last_report = JobStatus.RUNNING, worker, 0.0
        from celery.exceptions import SoftTimeLimitExceeded

        try:
            with self._heartbeat():
                if self.kind == JobKind.IMPORT:
                    self._import()
                elif self.kind == JobKind.FILL:
                    self._fill()
                elif self.kind == JobKind.REPLAY:
                    self._replay()
                else:
                    self._train()
        except SoftTimeLimitExceeded:
            self._finish(JobStatus.FAILED, failure=Failure.TOO_LONG)
        except Exception as error:
            # Whatever the kind: nothing half-done was stored (each stores in one transaction).
            logger.exception("job %s failed", self.pk)
            lost = _connection_lost(error)
            self._finish(JobStatus.FAILED, failure=Failure.DATABASE if lost else Failure.ERROR, detail=repr(error))
        finally:
            if self.kind in SENT_FILES and self.batch_id:
                # The file was only kept for this job, whatever its outcome.
                ImportBatch.objects.filter(pk=self.batch_id).update(data=b"")
        logger.info(
            "job %s %s: %s",
            self.pk,
            self.kind,
            self.status,
            extra={
                "job_id": self.pk,
                "kind": self.kind,
                "metric_id": self.metric_id,
                "status": self.status,
                "failure": self.failure,
                "worker": self.worker,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )

    def _claim(self, worker: str) -> bool:
        """Take this job for `worker`, unless another worker runs it (it said something within
        the heartbeat timeout) or it ended: one conditional update, so that two deliveries of
        the job at once (the broker's, or a retry beside it) cannot both run it. A running job
        whose worker went silent is taken over, as its worker died."""
        now = timezone.now()
        silent_since = now - timedelta(seconds=settings.MBREAK_JOB_HEARTBEAT_TIMEOUT)
        abandoned = Q(status=JobStatus.RUNNING) & (Q(heartbeat_at__lt=silent_since) | Q(heartbeat_at__isnull=True))
        return bool(
            Job.objects.filter(Q(status=JobStatus.QUEUED) | abandoned, pk=self.pk).update(
                status=JobStatus.RUNNING,
                started_at=now,
                heartbeat_at=now,
                attempts=models.F("attempts") + 1,
                worker=worker[: Job._meta.get_field("worker").max_length],
            )
        )

    @contextmanager
    def _heartbeat(self) -> Iterator[None]:
        """While the job runs, a thread of its own tells the sweep every `heartbeat_seconds()`
        that the worker is alive: a long step (a tree fitted inside scikit-learn, a big file
        parsed) cannot say so itself. The thread stops with the job."""
        stop = threading.Event()
        beating = threading.Thread(target=self._beat_until, args=(stop,), name=f"job-{self.pk}-heartbeat", daemon=True)
        beating.start()
        try:
            yield
        finally:
            stop.set()
            # Not for ever: a beat may wait on a database that stopped answering.
            beating.join(timeout=10)

    def _beat_until(self, stop: threading.Event) -> None:
        """Beat until `stop` is set, on this thread's own database connection, closed after."""
        try:
            while not stop.wait(heartbeat_seconds()):
                try:
                    Job.objects.filter(pk=self.pk, status=JobStatus.RUNNING).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    # The next beat tries again, on a new connection; the job itself says if the
                    # database is gone.
                    logger.warning("job %s could not beat", self.pk, exc_info=True, extra={"job_id": self.pk})
                    connection.close()
        finally:
            connections.close_all()

    def _train(self) -> None:
        try:
            model = TrainedModel.objects.train(self.target_metric, self.requested_by, progress=self.report)
        except NotEnoughDataError as error:
            counts = {"total": error.total, "rollbacks": error.rollbacks, "rollouts": error.rollouts}
            self._finish(JobStatus.FAILED, failure=Failure.NOT_ENOUGH_DATA, detail=str(error), counts=counts)
        except TrainingDataError as error:
            self._finish(JobStatus.FAILED, failure=Failure.BAD_DATA, detail=str(error))
        else:
            # The version is stored: said at once, so that a worker stopped while drawing does
            # not leave a job that reads as if nothing was (`sweep_abandoned`).
            self.result = model
            Job.objects.filter(pk=self.pk).update(result=model)
            self.report("drawing")
            model.draw_charts()
            self._finish(JobStatus.DONE, result=model)

    def _replay(self) -> None:
        """Replay the gate over its past releases: its report is stored, then the job ends."""
        if self.replay is None:
            raise ValueError("A replay job is of a replay.")
        replayed = self.replay.run(progress=self.report)
        self._finish(JobStatus.DONE, done=replayed, total=replayed)

    def _import(self) -> None:
        """Parse the uploaded file and store all its rows, or none; the file is dropped after."""
        batch = ImportBatch.objects.filter(pk=self.batch_id).first() if self.batch_id else None
        if batch is None:  # deleted with its metric
            self._finish(JobStatus.FAILED, failure=Failure.METRIC_DELETED)
            return
        file, batch.data = bytes(batch.data), b""  # held once, not twice
        try:
            self.report("parsing")
            data = csv_io.parse_indicator_csv(file, batch.delimiter, progress=lambda rows: self.report("parsing", rows))
            del file
            self._store(data, batch)
        except csv_io.CsvFormatError as error:
            self._refuse_file(error)
        except MetricDeleted as error:
            self._finish(JobStatus.FAILED, failure=Failure.METRIC_DELETED, detail=str(error))

    def _store(self, data: IndicatorColumns, batch: ImportBatch) -> None:
        """Store every row of an upload or a fill as the batch's: one transaction stores them all,
        with the batch's count and the job's end. Other connections see none of them until it
        commits, and a worker that dies before it commits leaves nothing (the broker's second
        delivery imports them once)."""
        self.report("importing", 0, len(data))
        with transaction.atomic():
            stored = self.target_metric.import_indicators(data, self.requested_by, batch)
            ImportBatch.objects.filter(pk=batch.pk).update(rows=stored)
            self._finish(JobStatus.DONE, done=stored, total=stored)

    def _refuse_file(self, error: CsvFormatError) -> None:
        """End the job refusing its file, with the errors line by line, kept so as to be worded
        again in each reader's language."""
        errors = {
            "message": error.message,
            "rows": [[e.line, e.column, e.reason] for e in error.row_errors],
            "total": error.total_errors,
            # The same, as message ids and values: worded again in each reader's language.
            "worded": {
                "message": as_stored(error.message),
                "reasons": [as_stored(e.reason) for e in error.row_errors],
            },
        }
        self._finish(JobStatus.FAILED, failure=Failure.CSV_ERRORS, detail=error.message, errors=errors)

    def _fill(self) -> None:
        """Read each past release its file lists from the metric's data source (one range query
        per side, `MetricQuery.measure_series`), then store every minute of every release in one
        transaction, as the batch's rows; or nothing. A release the store has no data for fails
        the fill, naming its line (every such line is named); a store that cannot be asked fails
        it at once. The file is dropped after, however it ends."""

        batch = ImportBatch.objects.filter(pk=self.batch_id).first() if self.batch_id else None
        if batch is None:  # deleted with its metric
            self._finish(JobStatus.FAILED, failure=Failure.METRIC_DELETED)
            return
        file, batch.data = bytes(batch.data), b""
        minutes = batch.fill_minutes or 1
        try:
            self.report("parsing")
            releases = csv_io.parse_release_csv(file, now=timezone.now(), minutes=minutes)
            bound = self.target_metric.bound_query()
            if bound is None or bound.source_id != batch.source_id:
                raise CsvFormatError(
                    wording.gettext(
                        "Nothing was stored: “%(name)s” is no longer bound to the data source it was to be filled "
                        "from. Send the file again."
                    )
                    % {"name": self.target_metric.name}
                )
            data = self._read_releases(bound, releases, minutes)
            self._store(data, batch)
        except csv_io.CsvFormatError as error:
            self._refuse_file(error)
        except MetricDeleted as error:
            self._finish(JobStatus.FAILED, failure=Failure.METRIC_DELETED, detail=str(error))

    def _read_releases(self, bound: MetricQuery, releases: list[csv_io.PastRelease], minutes: int) -> IndicatorColumns:
        """Every minute of each release as `bound` reads it, with the release's decision; or
        `CsvFormatError` naming each release with no value (all are asked), or the first one the
        store could not be asked about (asking again for each release would only wait again)."""
        from metrics.models.data_source import MeasuredMinute, Variables

        data = IndicatorColumns()
        unread: list[RowError] = []
        self.report("pulling", 0, len(releases))
        source = bound.source  # read here: the readers below ask the store, never the database
        # A few range queries at once (`MBREAK_FILL_READERS`): the job waits on the store, not on
        # this process. Each reader asks its own store, on connections it keeps from one release
        # to the next (`DataSource.store`). The answers are taken in the file's order; the first
        # store failure stops the fill, and the queries not started yet are not sent.
        count = max(1, min(settings.MBREAK_FILL_READERS, len(releases)))
        readers = ThreadPoolExecutor(max_workers=count)
        stores: SimpleQueue[Any] = SimpleQueue()  # those no reader is asking

        def read(release: csv_io.PastRelease) -> list[MeasuredMinute] | NoData:
            end = release.started_at + timedelta(minutes=minutes)
            store = stores.get()
            try:
                return bound.measure_series(
                    Variables(key=release.key, version=release.version), release.started_at, end, store
                )
            except NoData as error:
                return error
            finally:
                stores.put(store)

        done = 0  # the releases whose answer was taken
        with ExitStack() as opened:  # the stores, closed once no reader asks them
            try:
                for _reader in range(count):
                    stores.put(opened.enter_context(source.store()))
                for release, measured in zip(releases, readers.map(read, releases), strict=True):
                    done += 1
                    if isinstance(measured, NoData):
                        reason = _no_data_words(source.name, minutes, measured)
                        unread.append(RowError(release.line, None, _of_release(release, reason)))
                        continue
                    if too_large := [minute for minute in measured if abs(minute.value) > csv_io.LARGEST_NUMBER]:
                        reason = _too_large_words(too_large[0].minutes, too_large[0].value)
                        unread.append(RowError(release.line, None, _of_release(release, reason)))
                    data.extend(
                        values=[minute.value for minute in measured],
                        times=[float(minute.minutes) for minute in measured],
                        decision=release.decision,
                    )
                    self.report("pulling", done, len(releases))
            except StoreError as error:
                failed = releases[done]  # the one whose answer was being taken
                reason = _store_failure_words(source.name, error)
                raise CsvFormatError(
                    wording.gettext("Nothing was stored: the data source could not be asked."),
                    [RowError(failed.line, None, _of_release(failed, reason))],
                ) from error
            finally:
                readers.shutdown(wait=True, cancel_futures=True)
        if unread:
            message = wording.ngettext(
                "Nothing was stored: %(count)d release could not be filled.",
                "Nothing was stored: %(count)d releases could not be filled.",
                len(unread),
            ) % {"count": len(unread)}
            raise CsvFormatError(message, unread[: csv_io.MAX_REPORTED_ERRORS], len(unread))
        return data

    def csv_error(self) -> CsvFormatError | None:
        """The errors that refused an uploaded file, as the parser reported them, in the
        reader's language (those stored as text only, before, as they were worded then)."""
        if not self.errors:
            return None
        worded = self.errors.get("worded") or {}
        reasons = worded.get("reasons") or [None] * len(self.errors["rows"])
        rows = [
            RowError(line, column, word_again(stored, reason))
            for (line, column, reason), stored in zip(self.errors["rows"], reasons, strict=False)
        ]
        return CsvFormatError(word_again(worded.get("message"), self.errors["message"]), rows, self.errors["total"])

    def report(self, stage: str, done: int = 0, total: int = 0) -> None:
        """Progress from the work in hand; also tells the sweep this job is alive."""
        moment = time.monotonic()
        if stage == self.stage and moment - getattr(self, "_last_report", 0.0) < REPORT_EVERY_SECONDS:
            return
        self._last_report = moment
        self.stage, self.done, self.total = stage, done, total
        Job.objects.filter(pk=self.pk).update(stage=stage, done=done, total=total, heartbeat_at=timezone.now())

    def _finish(
        self,
        status: str,
        *,
        failure: str = "",
        detail: str = "",
        result: TrainedModel | None = None,
        **outcome: Any,
    ) -> None:
        """End the job in one write; `outcome` are its other fields to set (counts, errors, done...)."""
        fields = {
            "status": status,
            "failure": failure,
            "detail": detail,
            "result": result,
            "stage": "finished",
            "finished_at": timezone.now(),
            **outcome,
        }
        for name, value in fields.items():
            setattr(self, name, value)
        Job.objects.filter(pk=self.pk).update(**fields)


def next_scheduled_retraining(after: datetime | None = None) -> datetime | None:
    """When the retraining schedule (`MBREAK_RETRAIN_SCHEDULE`, a crontab read in the site's time
    zone, as the beat reads it) next runs after `after` (now by default), in that time zone;
    None when it is off."""
    schedule = settings.MBREAK_RETRAIN_SCHEDULE
    if schedule is None:
        return None
    last, delta, _now = schedule.remaining_delta(after or timezone.now(), tz=timezone.get_default_timezone())
    moment: datetime = last + delta
    return moment


def _no_data_words(source: str, minutes: int, error: StoreError) -> str:
    from metrics.models.data_source import store_error_words

    return wording.ngettext(
        "“%(source)s” has no value in the %(minutes)d minute after its start. %(answer)s",
        "“%(source)s” has no value in the %(minutes)d minutes after its start. %(answer)s",
        minutes,
    ) % {"source": source, "minutes": minutes, "answer": store_error_words(error.kind, error.detail)}


def _of_release(release: csv_io.PastRelease, reason: str) -> str:
    """`reason`, after the release's name when it has one (a release recorded here, or a file's
    name column): the line of a file the owner did not write names nothing they know."""
    if not release.name:
        return reason
    return wording.gettext("release “%(name)s”: %(reason)s") % {"name": release.name, "reason": reason}


def _store_failure_words(source: str, error: StoreError) -> str:
    from metrics.models.data_source import store_error_words

    return wording.gettext("“%(source)s” could not be asked about this release. %(answer)s") % {
        "source": source,
        "answer": store_error_words(error.kind, error.detail),
    }


def _too_large_words(minutes: int, value: float) -> str:
    return wording.gettext("minute %(minute)d's value %(value)s is too large to learn from (at most %(largest).1e)") % {
        "minute": minutes,
        "value": repr(value),
        "largest": csv_io.LARGEST_NUMBER,
    }


def _connection_lost(error: Exception) -> bool:
    """Whether `error` says the database was lost (the server went away, the network failed, it
    stayed locked). The connection is then closed, so that the next query (the job's own
    failure) opens a new one instead of failing again on the broken one."""
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    if not connection.in_atomic_block:
        connection.close()
    return True


def _send(job: Job) -> None:
    """Hand the job to the broker; if it is unreachable, the job fails at once, saying so, rather
    than waiting "queued" for ever (and the request still answers)."""
    try:
        signature(RUN_JOB, args=(job.pk,)).delay()
    except Exception:
        logger.exception("job %s could not be queued", job.pk)
        unqueued = Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.FAILED, failure=Failure.UNQUEUED, stage="finished", finished_at=timezone.now()
        )
        if unqueued and job.batch_id is not None:  # no worker will read the file
            ImportBatch.objects.filter(pk=job.batch_id).update(data=b"")


def not_enough_data_message(name: str, total: int, rollbacks: int, rollouts: int) -> str:
    return ngettext(
        "Not enough data to train “%(name)s”: it has %(total)d indicator (%(rollbacks)d rollback, "
        "%(rollouts)d rollout). Add more data: at least %(minimum)d indicators, with at least "
        "%(per_decision)d of each decision.",
        "Not enough data to train “%(name)s”: it has %(total)d indicators (%(rollbacks)d rollback, "
        "%(rollouts)d rollout). Add more data: at least %(minimum)d indicators, with at least "
        "%(per_decision)d of each decision.",
        total,
    ) % {
        "name": name,
        "total": total,
        "rollbacks": rollbacks,
        "rollouts": rollouts,
        "minimum": MIN_INDICATORS,
        "per_decision": MIN_PER_DECISION,
    }
