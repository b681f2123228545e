from __future__ import annotations

import hashlib
import itertools
import math
import re
from array import array
from collections import Counter
from collections.abc import Iterator, MutableSequence, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection, connections, models, transaction
from django.db.models import Case, Count, F, Func, OuterRef, Q, Subquery, Value, When, Window
from django.db.models.functions import Concat, Mod, RowNumber
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from metrics import csv_io
from metrics.csv_io import LARGEST_NUMBER
from metrics.exceptions import CannotUndo
from metrics.models.metric import Decision, Metric
from predictor.columns import IndicatorColumns

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.models import AnonymousUser, User
    from django.core.files.uploadedfile import UploadedFile

INSERT_CHUNK_ROWS = 10_000
COPY_CHUNK_ROWS = 100_000
POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=dt_timezone.utc)
# A download is sent in pieces of about this size.
EXPORT_PIECE_BYTES = 256 * 1024
EXPORT_PIECE_LINES = 4_000
# The fields a model learns from: changing one of them makes the metric's models stale.
LEARNT_FIELDS = frozenset({"metric", "metric_id", "value", "decision", "time"})


class IndicatorQuerySet(models.QuerySet["Indicator"]):
    """Every write through this QuerySet marks the metrics it touches as changed (their
    `data_version`), so that no path can leave a model wrongly "up to date"."""

    def newest_first(self) -> IndicatorQuerySet:
        return self.select_related("created_by").order_by("-created_at", "-pk")

    def csv_file(self) -> Iterator[bytes]:
        """These rows as the CSV file a download gives (header first, insertion order), in
        pieces of about `EXPORT_PIECE_BYTES`, in constant memory.

        On PostgreSQL the database writes the file itself (`COPY ... TO STDOUT`), at the
        speed of a raw COPY; elsewhere `csv_io` writes it row by row. Both write the same rows.
        """
        if connection.vendor == "postgresql":
            return self._copied_csv()
        lines = csv_io.write_indicator_csv(self._export_rows())
        return iter(lambda: "".join(itertools.islice(lines, EXPORT_PIECE_LINES)).encode("utf-8"), b"")

    def _export_rows(self) -> Iterator[tuple[float, int, float, str, datetime]]:
        rows = self.order_by("pk").values_list("value", "decision", "time", "created_by__username", "created_at")
        for value, decision, minutes, author, created_at in rows.iterator(chunk_size=5_000):
            yield value, decision, minutes, author or "", created_at

    def _copied_csv(self) -> Iterator[bytes]:
        author = F("created_by__username")
        formula = r"^[" + re.escape("".join(csv_io.FORMULA_PREFIXES)) + "]"
        columns = dict(
            zip(
                csv_io.EXPORT_HEADER,
                [
                    F("value"),
                    F("decision"),
                    F("time"),
                    Case(When(created_by__username__regex=formula, then=Concat(Value("'"), author)), default=author),
                    Func(
                        F("created_at"),
                        template="to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')",
                        output_field=models.CharField(),
                    ),
                ],
                strict=True,
            )
        )
        query = self.order_by("pk").annotate(**columns).values_list(*columns).query
        sql, params = query.sql_with_params()
        with connection.cursor() as cursor, connection.wrap_database_errors:
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            # Floats in their shortest exact form whatever the server's setting (PostgreSQL 12+).
            raw.execute("SET extra_float_digits = 1")
            with raw.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)", params) as copy:
                piece = bytearray()
                for block in copy:
                    piece += block
                    if len(piece) >= EXPORT_PIECE_BYTES:
                        # The same line ends as csv_io writes (no cell here can hold a line break).
                        yield bytes(piece).replace(b"\n", b"\r\n")
                        piece.clear()
                yield bytes(piece).replace(b"\n", b"\r\n")

    def sample(self, max_points: int) -> IndicatorQuerySet:
        """At most about `max_points` rows, spread evenly over the data, same rows each time."""
        total = self.count()
        if total <= max_points:
            return self
        stride = math.ceil(total / max_points)
        # By position among these rows, not by primary key: keys are shared by every
        # metric, so "pk % stride" could miss one metric's rows entirely.
        position = Window(RowNumber(), order_by=F("pk").asc())
        return self.annotate(_bucket=Mod(position, stride)).filter(_bucket=0)

    def registrations(self, ids: Sequence[int]) -> list[tuple[str, str | None]]:
        """Who registered each of these indicators and when (ISO 8601), in the order of `ids`:
        ("", None) for one that is not among these rows (deleted since)."""
        # In parts where the database bounds a query's parameters (SQLite; Django counts 999),
        # with room for this QuerySet's own filters.
        most = connections[self.db].features.max_query_params
        part = max(1, most - 16) if most else max(1, len(ids))
        rows: dict[int, tuple[str, str | None]] = {}
        for start in range(0, len(ids), part):
            found = self.filter(pk__in=ids[start : start + part])
            for pk, username, created_at in found.values_list("pk", "created_by__username", "created_at"):
                rows[pk] = (username or "", created_at.isoformat())
        return [rows.get(pk, ("", None)) for pk in ids]

    def sample_columns(self, max_points: int) -> IndicatorColumns:
        """The columns of an even sample of at most `max_points` rows, for charts."""
        return self.sample(max_points).columns()

    def columns(self) -> IndicatorColumns:
        """Values, times and decisions of these rows in insertion order, as typed arrays."""
        return self.columns_and_ids()[0]

    def columns_and_ids(self) -> tuple[IndicatorColumns, MutableSequence[int]]:
        """`columns()`, and the id of each row (8 bytes a row more, read in the same pass)."""
        data = IndicatorColumns()
        ids: MutableSequence[int] = array("q")
        rows = self.order_by("pk").values_list("pk", "value", "time", "decision")
        for pk, value, minutes, decision in rows.iterator(chunk_size=10_000):
            ids.append(pk)
            data.append(value=value, time=minutes, decision=decision)
        return data, ids

    def update(self, **kwargs: Any) -> int:
        if LEARNT_FIELDS.isdisjoint(kwargs):
            return super().update(**kwargs)
        with transaction.atomic():
            moved_to = kwargs.get("metric", kwargs.get("metric_id"))
            if moved_to is None:
                changes = dict.fromkeys(self._rows_per_metric(), 0)
            else:
                changes = {metric_id: -rows for metric_id, rows in self._rows_per_metric().items()}
                target = moved_to.pk if isinstance(moved_to, Metric) else moved_to
                changes[target] = changes.get(target, 0) - sum(changes.values())
            count = super().update(**kwargs)
            Metric.objects.record_indicator_changes(changes)
        return count

    def delete(self) -> tuple[int, dict[str, int]]:
        with transaction.atomic():
            expected = self._rows_per_metric()
            result = super().delete()
            if result[1].get(self.model._meta.label, 0) == sum(expected.values()):
                Metric.objects.record_indicator_changes({metric_id: -rows for metric_id, rows in expected.items()})
            else:  # another request deleted some of these rows meanwhile
                Metric.objects.recount_indicators(expected)
        return result

    def bulk_create(self, objs: Iterable[Indicator], *args: Any, **kwargs: Any) -> list[Indicator]:
        with transaction.atomic():
            created = super().bulk_create(objs, *args, **kwargs)
            Metric.objects.record_indicator_changes(Counter(indicator.metric_id for indicator in created))
        return created

    def _rows_per_metric(self) -> dict[int, int]:
        rows = self.order_by().values("metric_id").annotate(rows=Count("pk")).values_list("metric_id", "rows")
        return dict(rows)

    def bulk_insert(
        self, metric: Metric, data: IndicatorColumns, user: User | None, batch: ImportBatch | None = None
    ) -> int:
        """Insert rows in bulk: COPY on PostgreSQL, chunked executemany elsewhere.

        Call inside a transaction: either every row is stored or none is. Marks the
        metric's data as changed, like every other write of indicators.
        """
        now = timezone.now()
        user_id = user.pk if user is not None else None  # None: the uploader's account was deleted since
        batch_id = batch.pk if batch is not None else None
        if connection.vendor == "postgresql":
            _copy_rows(metric.pk, data, user_id, now, batch_id)
        else:
            table = Indicator._meta.db_table
            sql = (
                f"INSERT INTO {table} (metric_id, value, decision, time, created_by_id, created_at, batch_id) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s, %s, %s)"
            )
            stamp: Any = connection.ops.adapt_datetimefield_value(now)
            rows = data.rows()
            with connection.cursor() as cursor:
                # In chunks: Django's executemany keeps every row of its argument alive.
                while chunk := [
                    (metric.pk, value, decision, minutes, user_id, stamp, batch_id)
                    for value, minutes, decision in itertools.islice(rows, INSERT_CHUNK_ROWS)
                ]:
                    cursor.executemany(sql, chunk)
        Metric.objects.record_indicator_changes({metric.pk: len(data)})
        return len(data)


def _copy_rows(
    metric_id: int, data: IndicatorColumns, user_id: int | None, now: datetime, batch_id: int | None
) -> None:
    """COPY in PostgreSQL's binary format, built by numpy: no number is turned into text and back.

    Each tuple is a field count, then each field as its length and its big-endian bytes;
    the columns left out (a deleted author, no batch) take their default, NULL.
    """
    import numpy as np

    microseconds = (now - POSTGRES_EPOCH) // timedelta(microseconds=1)
    # (column, binary type, the value shared by every row or None for the row's own).
    columns: list[tuple[str, str, int | None]] = [
        ("metric_id", ">i8", metric_id),
        ("value", ">f8", None),
        ("decision", ">i2", None),
        ("time", ">f8", None),
        ("created_at", ">i8", microseconds),
    ]
    if user_id is not None:
        columns.append(("created_by_id", ">i4", user_id))  # auth_user's id is an integer
    if batch_id is not None:
        columns.append(("batch_id", ">i8", batch_id))
    layout = [("fields", ">i2")]
    for name, kind, _shared in columns:
        layout += [(name + "_length", ">i4"), (name, kind)]
    own: dict[str, Any] = {
        "value": np.asarray(data.values, dtype=np.float64),
        "decision": np.asarray(data.decisions, dtype=np.int16),
        "time": np.asarray(data.times, dtype=np.float64),
    }
    table = Indicator._meta.db_table
    names = ", ".join(name for name, _kind, _shared in columns)
    # The raw psycopg cursor raises psycopg's errors; wrap them into Django's (IntegrityError...).
    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8))  # signature, flags, no header extension
            for start in range(0, len(data), COPY_CHUNK_ROWS):
                rows = np.empty(min(COPY_CHUNK_ROWS, len(data) - start), dtype=layout)
                rows["fields"] = len(columns)
                for name, kind, shared in columns:
                    rows[name + "_length"] = np.dtype(kind).itemsize
                    rows[name] = own[name][start : start + len(rows)] if shared is None else shared
                copy.write(rows.tobytes())
            copy.write(b"\xff\xff")  # the end: a field count of -1


class ImportBatchQuerySet(models.QuerySet["ImportBatch"]):
    def imported_file(self, sha256: str) -> ImportBatch | None:
        """The latest import of the same file (same bytes) that stored rows and was not undone,
        or that is still waiting for or in the hands of a worker."""
        return self.kept().filter(sha256=sha256).first()

    def kept(self) -> ImportBatchQuerySet:
        """The imports that stored rows and were not undone, or that are still waiting for or in
        the hands of a worker; newest first."""
        from metrics.models.job import ACTIVE

        return (
            self.filter(Q(rows__gt=0) | Q(jobs__status__in=ACTIVE), undone_at__isnull=True)
            .select_related("uploaded_by")
            .order_by("-created_at")
        )

    def drop_files_no_job_needs(self) -> int:
        """Drop the file of every upload whose import has ended, however it ended (a file is kept
        only for its job to read); return how many were dropped."""
        from metrics.models.job import ACTIVE

        return self.exclude(data=b"").exclude(jobs__status__in=ACTIVE).update(data=b"")

    def newest_first(self) -> ImportBatchQuerySet:
        # With a history fill's source: the lists name it.
        return self.select_related("uploaded_by", "source").order_by("-created_at", "-pk")

    def into(self, metric: Metric) -> ImportBatchQuerySet:
        """The files imported into `metric`, and the labels of releases deleted since (their gate
        with them) that are in its history: only its page lists those any more."""
        orphaned = Indicator.objects.filter(
            metric=metric, batch__metric__isnull=True, batch__release__isnull=True
        ).values("batch_id")
        return self.filter(Q(metric=metric) | Q(pk__in=orphaned))

    def listed(self) -> ImportBatchQuerySet:
        """Newest first, with the id of each one's latest import job (`job_id`), without the
        file a queued import still holds."""
        from metrics.models.job import Job

        latest_job = Job.objects.filter(batch=OuterRef("pk")).order_by("-pk").values("pk")[:1]
        return self.newest_first().defer("data").annotate(job_id=Subquery(latest_job))


@dataclass(frozen=True)
class Upload:
    """An uploaded CSV file's bytes, and their sha256 (how a file imported twice is found)."""

    data: bytes
    sha256: str


def read_upload(upload: UploadedFile) -> Upload:
    """The file a person or a program uploads, read once it is known to be importable: not
    beyond `MBREAK_MAX_UPLOAD_BYTES`, and no line too long (refused at once, rather than by a
    worker after the file was stored and queued). Raises `ValidationError` otherwise."""
    limit = settings.MBREAK_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise ValidationError(
            _("The file is too large (%(size)s); the limit is %(limit)s."),
            code="too_large",
            params={"size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
        )
    upload.seek(0)
    data = upload.read()
    try:
        csv_io.refuse_long_lines(data)
    except csv_io.CsvFormatError as error:
        raise ValidationError(error.message, code="line_too_long") from None
    return Upload(data, hashlib.sha256(data).hexdigest())


class ImportBatch(models.Model):
    """One uploaded file: who sent what, when, and the rows it stored; undoable as a whole.

    The file itself is kept here (where any worker on any instance can read it) only until
    its import job ends.
    """

    # None for a release's labels: they go to each metric the release observed.
    metric = models.ForeignKey(
        Metric, on_delete=models.CASCADE, related_name="batches", verbose_name=_("metric"), null=True, blank=True
    )
    # A release's labels: its observations, labelled with its outcome when that was recorded.
    release = models.ForeignKey(
        "metrics.Release",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="label_batches",
        verbose_name=_("labels of release"),
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("uploaded by")
    )
    file_name = models.CharField(_("file"), max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(_("size"))
    delimiter = models.CharField(max_length=16)
    data = models.BinaryField(default=b"", editable=False)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    # A history fill: its file lists past releases (started_at,decision[,key]) whose values
    # were read from this source, `fill_minutes` minutes of each.
    source = models.ForeignKey(
        "metrics.DataSource",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("filled from"),
    )
    fill_minutes = models.PositiveIntegerField(_("minutes of each release"), null=True, blank=True)

    objects = ImportBatchQuerySet.as_manager()

    class Meta:
        verbose_name = _("import batch")
        verbose_name_plural = _("import batches")
        indexes = [models.Index(fields=["metric", "sha256"], name="batch_metric_file")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.rows} rows)"

    def get_absolute_url(self) -> str:
        """Where it is listed: its metric's page, or its release's (the metrics, once that is gone)."""
        if self.metric is not None:
            return self.metric.get_absolute_url()
        if self.release is not None:
            return self.release.get_absolute_url()
        return reverse("metrics:list")

    @property
    def is_of_a_deleted_release(self) -> bool:
        """A release's labels whose release was deleted since (with its gate)."""
        return self.metric_id is None and self.release_id is None  # an upload goes with its metric

    def can_undo(self, user: User | AnonymousUser) -> bool:
        """Who sent it, or whoever owns where its rows went: the metric, or the release's gate.
        A release's labels whose release was deleted since (with its gate): who recorded the
        outcome, or the owner of every metric they went into (an undo takes the whole batch:
        not one metric's owner while another's rows are in it)."""
        if not user.is_authenticated:
            return False
        if user.pk is not None and user.pk == self.uploaded_by_id:
            return True
        if self.metric is not None:
            return user.pk == self.metric.owner_id
        if self.release is not None:
            return user.pk == self.release.gate.owner_id
        rows = self.indicators.all()
        return rows.exists() and not rows.exclude(metric__owner=user.pk).exists()

    def undo(self) -> int:
        """Delete every indicator this file stored (the metric's models become stale); return how many.

        Raises `CannotUndo` while its import is queued or running (the rows it is about to
        store would stay), once undone, and when the file stored nothing.
        """
        from metrics.models.job import ACTIVE

        with transaction.atomic():
            # Locked: of two undos at once, the second sees the first's.
            locked = ImportBatch.objects.select_for_update().get(pk=self.pk)
            if locked.undone_at is not None:
                raise CannotUndo(self, "already_undone")
            if self.jobs.filter(status__in=ACTIVE).exists():
                raise CannotUndo(self, "not_finished")
            if locked.rows == 0:
                raise CannotUndo(self, "nothing_stored")
            deleted, _by_model = Indicator.objects.filter(batch=self).delete()
            self.undone_at = timezone.now()
            ImportBatch.objects.filter(pk=self.pk).update(undone_at=self.undone_at, data=b"")
        return deleted


# The numbers the tree can learn from (it computes in 32-bit floats), as the database holds
# them (`indicator_numbers_learnable`): every form, serializer and command checks these.
NUMBER_TOO_SMALL = _("Enter a number no smaller than %(limit_value).1e.")
NUMBER_TOO_LARGE = _("Enter a number no larger than %(limit_value).1e.")
VALUE_VALIDATORS = [
    MinValueValidator(-LARGEST_NUMBER, message=NUMBER_TOO_SMALL),
    MaxValueValidator(LARGEST_NUMBER, message=NUMBER_TOO_LARGE),
]
MINUTES_VALIDATORS = [MinValueValidator(0), MaxValueValidator(LARGEST_NUMBER, message=NUMBER_TOO_LARGE)]
# Indicators one API request may add: more come as a CSV file, imported by a job.
MAX_BULK_INDICATORS = 10_000


class Indicator(models.Model):
    # No index of its own: "indicator_metric_newest" starts with the metric.
    metric = models.ForeignKey(
        Metric, on_delete=models.CASCADE, related_name="indicators", verbose_name=_("metric"), db_index=False
    )
    value = models.FloatField(_("value"))
    decision = models.PositiveSmallIntegerField(_("decision"), choices=Decision.choices)
    time = models.FloatField(_("time (minutes)"))
    # Indicators outlive the account that registered them: the team's history stays.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="indicators",
        verbose_name=_("registered by"),
    )
    created_at = models.DateTimeField(_("registered at"), default=timezone.now)
    # The uploaded file it came from (none when added by hand or by feedback).
    batch = models.ForeignKey(
        ImportBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="indicators", editable=False
    )
    # The release observation it labels (none for a row typed, uploaded or filled).
    observation = models.ForeignKey(
        "metrics.Observation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="labels",
        editable=False,
        verbose_name=_("labels the observation"),
        db_index=False,  # indexed where it is set: see Meta
    )

    objects = IndicatorQuerySet.as_manager()

    class Meta:
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")
        indexes = [
            models.Index(fields=["metric", "-created_at", "-id"], name="indicator_metric_newest"),
            # Only the rows that label an observation: the many typed, uploaded or filled ones
            # (every row of a history fill) cost no index entry.
            models.Index(fields=["observation"], name="indicator_labels", condition=Q(observation__isnull=False)),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(decision__in=Decision.values), name="indicator_decision_0_or_1"),
            models.CheckConstraint(condition=Q(time__gte=0), name="indicator_time_not_negative"),
            models.CheckConstraint(
                condition=Q(value__gte=-LARGEST_NUMBER, value__lte=LARGEST_NUMBER, time__lte=LARGEST_NUMBER),
                name="indicator_numbers_learnable",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value} @ {self.time} min -> {self.get_decision_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and LEARNT_FIELDS.isdisjoint(update_fields):
            super().save(*args, **kwargs)
            return
        with transaction.atomic():
            stored_in = (
                None
                if self._state.adding
                else Indicator.objects.filter(pk=self.pk).values_list("metric_id", flat=True).first()
            )
            if stored_in is None:
                changes = {self.metric_id: 1}  # a new row
            elif stored_in == self.metric_id:
                changes = {self.metric_id: 0}
            else:  # moved to another metric: the data of both changed
                changes = {stored_in: -1, self.metric_id: 1}
            super().save(*args, **kwargs)
            Metric.objects.record_indicator_changes(changes)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        with transaction.atomic():
            result = super().delete(*args, **kwargs)
            # None when another request deleted it first (two clicks, two tabs): nothing changed.
            if result[1].get(self._meta.label, 0):
                Metric.objects.record_indicator_changes({self.metric_id: -1})
        return result

    @property
    def is_rollback(self) -> bool:
        return self.decision == Decision.ROLLBACK

    def can_delete(self, user: User | AnonymousUser) -> bool:
        return user.is_authenticated and user.pk in (self.created_by_id, self.metric.owner_id)
