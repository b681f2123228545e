from __future__ import annotations

import io
import itertools
import math
from array import array
from collections.abc import Iterator, MutableSequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Window
from django.db.models.functions import Mod, RowNumber
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from metrics.csv_io import LARGEST_NUMBER

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from metrics.csv_io import ParsedIndicators


INSERT_CHUNK_ROWS = 10_000

Columns = tuple[MutableSequence[float], MutableSequence[float], MutableSequence[int]]


class Decision(models.IntegerChoices):
    ROLLOUT = 0, _("Rollout")
    ROLLBACK = 1, _("Rollback")


class MetricQuerySet(models.QuerySet["Metric"]):
    def search(self, name: str = "", category: str = "") -> MetricQuerySet:
        """Metrics whose name and category contain the given texts, ignoring case."""
        filters = Q()
        if name.strip():
            filters &= Q(name_key__contains=search_key(name))
        if category.strip():
            filters &= Q(category_key__contains=search_key(category))
        return self.filter(filters)

    def same_as(self, name: str, category: str) -> MetricQuerySet:
        """Metrics that count as duplicates of (name, category): same words, ignoring case."""
        return self.filter(name_key=search_key(name), category_key=search_key(category))

    def with_indicator_counts(self) -> MetricQuerySet:
        # A subquery rather than a JOIN + GROUP BY, so that it combines with the
        # latest-model subqueries without multiplying rows.
        counts = (
            Indicator.objects.filter(metric=OuterRef("pk"))
            .order_by()
            .values("metric")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return self.annotate(indicator_count=models.functions.Coalesce(Subquery(counts), 0))

    def with_latest_model(self) -> MetricQuerySet:
        """Annotate the newest trained model's version, accuracy and training time."""
        from predictor.models import TrainedModel

        latest = TrainedModel.objects.filter(metric=OuterRef("pk")).order_by("-version")
        return self.annotate(
            latest_model_version=Subquery(latest.values("version")[:1]),
            latest_model_accuracy=Subquery(latest.values("accuracy")[:1]),
            latest_model_trained_at=Subquery(latest.values("trained_at")[:1]),
            latest_model_data_version=Subquery(latest.values("data_version")[:1]),
        )

    def needing_training(self) -> MetricQuerySet:
        """Metrics with no model yet, or whose data changed since their newest model."""
        return (
            self.with_latest_model()
            .filter(Q(latest_model_version__isnull=True) | ~Q(latest_model_data_version=F("data_version")))
            .order_by("pk")
        )


def search_key(text: str) -> str:
    """The form of a name that comparisons use: case-folded in Python, because SQLite's
    LOWER() and LIKE only fold ASCII ("COMUNICAÇÃO" would not match "Comunicação")."""
    return " ".join(text.split()).casefold()


class Metric(models.Model):
    name = models.CharField(_("name"), max_length=120)
    category = models.CharField(_("category"), max_length=120)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="metrics",
        verbose_name=_("owner"),
    )
    name_key = models.CharField(max_length=120, editable=False)
    category_key = models.CharField(max_length=120, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Bumped on every change to the indicators, so that "train the models" knows
    # which metrics have data their newest model has not seen.
    data_version = models.PositiveIntegerField(default=0, editable=False)

    objects = MetricQuerySet.as_manager()

    class Meta:
        ordering = ["name_key", "category_key", "pk"]  # case-insensitive, as people read
        verbose_name = _("metric")
        verbose_name_plural = _("metrics")
        constraints = [
            models.UniqueConstraint(fields=["name_key", "category_key"], name="metric_unique_name_category"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.category})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.name_key = search_key(self.name)
        self.category_key = search_key(self.category)
        if kwargs.get("update_fields") is not None and {"name", "category"} & set(kwargs["update_fields"]):
            kwargs["update_fields"] = {*kwargs["update_fields"], "name_key", "category_key"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("metrics:detail", args=[self.pk])

    def clean(self) -> None:
        # The admin and the create form both come through here.
        duplicates = Metric.objects.same_as(self.name, self.category).exclude(pk=self.pk)
        if self.name.strip() and self.category.strip() and duplicates.exists():
            raise ValidationError(self.duplicate_message(), code="duplicate")

    def duplicate_message(self) -> str:
        return _("A metric named “%(name)s” already exists in the category “%(category)s”.") % {
            "name": self.name,
            "category": self.category,
        }

    def can_delete(self, user: User | AnonymousUser) -> bool:
        return user.is_authenticated and user.pk == self.owner_id

    def mark_data_changed(self) -> None:
        Metric.objects.filter(pk=self.pk).update(data_version=F("data_version") + 1)
        self.refresh_from_db(fields=["data_version"])

    def add_indicator(self, value: float, decision: int, time: float, user: User) -> Indicator:
        with transaction.atomic():
            indicator = Indicator.objects.create(
                metric=self, value=value, decision=decision, time=time, created_by=user
            )
            self.mark_data_changed()
        return indicator

    def import_indicators(self, parsed: ParsedIndicators, user: User) -> int:
        """Store every parsed row in one transaction; return how many were stored."""
        with transaction.atomic():
            count = Indicator.objects.bulk_insert(self, parsed, user)
            self.mark_data_changed()
        return count

    def training_data(self) -> Columns:
        """All (values, times, decisions) of this metric, in insertion order."""
        return self.indicators.columns()


class IndicatorQuerySet(models.QuerySet["Indicator"]):
    def newest_first(self) -> IndicatorQuerySet:
        return self.select_related("created_by").order_by("-created_at", "-pk")

    def for_export(self) -> Iterator[tuple[float, int, float, str, datetime]]:
        rows = self.order_by("pk").values_list("value", "decision", "time", "created_by__username", "created_at")
        for value, decision, minutes, author, created_at in rows.iterator(chunk_size=5_000):
            yield value, decision, minutes, author or "", created_at

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

    def sample_columns(self, max_points: int) -> Columns:
        """(values, times, decisions) of an even sample of at most `max_points` rows, for charts."""
        return self.sample(max_points).columns()

    def columns(self) -> Columns:
        """(values, times, decisions) of these rows in insertion order, as typed arrays:
        a million rows take 17 MB rather than ~100 MB of Python objects."""
        values: MutableSequence[float] = array("d")
        times: MutableSequence[float] = array("d")
        decisions: MutableSequence[int] = array("b")
        rows = self.order_by("pk").values_list("value", "time", "decision")
        for value, minutes, decision in rows.iterator(chunk_size=10_000):
            values.append(value)
            times.append(minutes)
            decisions.append(decision)
        return values, times, decisions

    def bulk_insert(self, metric: Metric, parsed: ParsedIndicators, user: User) -> int:
        """Insert parsed rows in bulk: COPY on PostgreSQL, chunked executemany elsewhere.

        Call inside a transaction: either every row is stored or none is.
        """
        now = timezone.now()
        user_id = user.pk
        if connection.vendor == "postgresql":
            _copy_rows(metric.pk, parsed, user_id, now)
        else:
            table = Indicator._meta.db_table
            sql = (
                f"INSERT INTO {table} (metric_id, value, decision, time, created_by_id, created_at) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s, %s)"
            )
            stamp: Any = connection.ops.adapt_datetimefield_value(now)
            rows = parsed.rows()
            with connection.cursor() as cursor:
                # In chunks: Django's executemany keeps every row of its argument alive.
                while chunk := [
                    (metric.pk, value, decision, minutes, user_id, stamp)
                    for value, decision, minutes in itertools.islice(rows, INSERT_CHUNK_ROWS)
                ]:
                    cursor.executemany(sql, chunk)
        return len(parsed)


def _copy_rows(metric_id: int, parsed: ParsedIndicators, user_id: int | None, now: datetime) -> None:
    table = Indicator._meta.db_table
    stamp = now.isoformat()
    author = "\\N" if user_id is None else str(user_id)
    suffix = f"\t{author}\t{stamp}\n"
    prefix = f"{metric_id}\t"
    # The raw psycopg cursor raises psycopg's errors; wrap them into Django's (IntegrityError...).
    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {table} (metric_id, value, decision, time, created_by_id, created_at) FROM STDIN") as copy:
            buffer = io.StringIO()
            for index, (value, decision, minutes) in enumerate(parsed.rows(), start=1):
                buffer.write(f"{prefix}{value!r}\t{decision}\t{minutes!r}{suffix}")
                if index % 50_000 == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())


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

    objects = IndicatorQuerySet.as_manager()

    class Meta:
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")
        indexes = [models.Index(fields=["metric", "-created_at", "-id"], name="indicator_metric_newest")]
        constraints = [
            models.CheckConstraint(condition=Q(decision__in=[0, 1]), name="indicator_decision_0_or_1"),
            models.CheckConstraint(condition=Q(time__gte=0), name="indicator_time_not_negative"),
            models.CheckConstraint(
                condition=Q(value__gte=-LARGEST_NUMBER, value__lte=LARGEST_NUMBER, time__lte=LARGEST_NUMBER),
                name="indicator_numbers_learnable",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value} @ {self.time} min -> {self.get_decision_display()}"

    def can_delete(self, user: User | AnonymousUser) -> bool:
        return user.is_authenticated and user.pk in (self.created_by_id, self.metric.owner_id)

    def delete_and_mark_changed(self) -> None:
        with transaction.atomic():
            self.delete()
            self.metric.mark_data_changed()
