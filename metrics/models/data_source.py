"""Data sources: where production metrics are, and how a metric's value is read from them.

A *data source* is a metric store its owner connects (a Prometheus server, or Amazon
CloudWatch in a region), with its credentials kept encrypted (`secret_box`). A metric is
*bound* to a source by a `MetricQuery`: a PromQL template, or a CloudWatch metric, with the
release's variables (`{{ key }}`, `{{ version }}`, `{{ selector }}`, `{{ window }}`) and what
the metric's value is: the canary's value, or its ratio or difference to the baseline's,
measured by the same query with the baseline's selector in the same window.

While a release of a gate is open, its bound metrics are *pulled*: each `Pull` records one
query of one metric, what was sent, what the store answered, and the observation it made.
The stores themselves are asked by the pure `stores` package; this module words their
failures for people.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from metrics.models.metric import Labelled, Metric
from stores.errors import Kind, NoData, StoreError
from stores.prometheus import Prometheus, Sample

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

logger = logging.getLogger(__name__)

# The longest a source may take to answer one query, and the shortest it is given.
LONGEST_TIMEOUT_SECONDS = 120.0
SHORTEST_TIMEOUT_SECONDS = 0.5
# CloudWatch's periods: 1, 5, 10, 30 seconds (high resolution) or a multiple of 60.
LONGEST_PERIOD_SECONDS = 86_400
# The variables of a query template: {{ key }}, {{ version }}, {{ selector }}, {{ window }}.
VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
VARIABLES = ("key", "version", "selector", "window")


class SourceKind(models.TextChoices):
    PROMETHEUS = "prometheus", "Prometheus"
    CLOUDWATCH = "cloudwatch", "Amazon CloudWatch"


class SourceAuth(models.TextChoices):
    """How Make or Break proves who it is to a source."""

    NONE = "none", _("none")
    BEARER = "bearer", _("a bearer token")
    BASIC = "basic", _("a user name and password")
    # CloudWatch: boto3's default chain (environment variables, the instance's or task's role).
    ENVIRONMENT = "environment", _("the server's environment or instance role")
    ACCESS_KEY = "access_key", _("an access key")


class Compare(models.TextChoices):
    """What a bound metric's value is: the canary's own, or compared with its baseline's."""

    VALUE = "value", _("the canary's value")
    RATIO = "ratio", _("the canary's value divided by the baseline's")
    DIFFERENCE = "difference", _("the canary's value minus the baseline's")


class PullOutcome(models.TextChoices):
    OK = "ok", _("observed")
    NO_DATA = "no_data", _("no data")
    FAILED = "failed", _("the store could not be asked")


class PullingEnded(models.TextChoices):
    """Why a release's metrics are no longer pulled."""

    ROLLBACK = "rollback", _("its verdict is rollback")
    LIMIT = "limit", _("the gate's pulling time is over")
    NOTHING_BOUND = "nothing_bound", _("no metric of its gate is bound to a data source")


class SecretUnreadable(Exception):
    """A stored secret was encrypted with a key this server no longer has."""


def secret_keys() -> list[bytes]:
    """The Fernet keys of stored secrets: the one that encrypts, then the older ones that still
    decrypt. `MBREAK_SECRETS_KEY` (and its `_FALLBACKS`) when set; otherwise keys derived from
    `SECRET_KEY` and `SECRET_KEY_FALLBACKS`, rotated as the models' signing keys are."""
    if settings.MBREAK_SECRETS_KEY:
        keys = [settings.MBREAK_SECRETS_KEY, *settings.MBREAK_SECRETS_KEY_FALLBACKS]
    else:
        keys = [f"secrets:{key}" for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]]
    # Any string makes a key: its SHA-256, in the encoding Fernet reads.
    return [base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()) for key in keys]


def secret_box() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in secret_keys()])


class DataSourceQuerySet(models.QuerySet["DataSource"]):
    def visible_to(self, user: User | AnonymousUser) -> DataSourceQuerySet:
        """A source is its owner's alone: its address and what it can read are not the catalogue's."""
        if user.is_authenticated and user.is_active:
            return self.filter(owner=user)
        return self.none()


class DataSource(Labelled):
    LABELS = {"name": _("Enter a name with at least one visible character.")}

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_sources", verbose_name=_("owner")
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=SourceKind.choices, default=SourceKind.PROMETHEUS)
    # Prometheus: its base URL (what comes before /api/v1/). CloudWatch: an endpoint to use
    # instead of the region's (a VPC endpoint), or empty.
    url = models.CharField(_("URL"), max_length=500, blank=True)
    region = models.CharField(_("region"), max_length=32, blank=True)
    namespace = models.CharField(
        _("namespace"), max_length=255, blank=True, help_text=_("The CloudWatch namespace its metrics are in.")
    )
    auth = models.CharField(_("credentials"), max_length=12, choices=SourceAuth.choices, default=SourceAuth.NONE)
    # The user name of basic auth, or the access key id of CloudWatch.
    username = models.CharField(_("user name or access key id"), max_length=200, blank=True)
    # The bearer token, password or secret access key, encrypted (`secret_box`); never shown again.
    secret = models.TextField(blank=True, default="", editable=False)
    ca_certificate = models.TextField(
        _("CA certificate"),
        blank=True,
        help_text=_("PEM: the certificate authority to trust for this source instead of the system's."),
    )
    timeout_seconds = models.FloatField(
        _("timeout (seconds)"),
        default=10.0,
        validators=[MinValueValidator(SHORTEST_TIMEOUT_SECONDS), MaxValueValidator(LONGEST_TIMEOUT_SECONDS)],
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # The last "Test connection": when, what came of it ("ok" or a stores.Kind value), and
    # what the store said.
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    check_result = models.CharField(max_length=20, blank=True, default="")
    check_detail = models.TextField(blank=True, default="")

    objects = DataSourceQuerySet.as_manager()

    class Meta:
        verbose_name = _("data source")
        verbose_name_plural = _("data sources")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "owner", name="data_source_name_once_per_owner"),
            models.CheckConstraint(
                condition=Q(
                    timeout_seconds__gte=SHORTEST_TIMEOUT_SECONDS, timeout_seconds__lte=LONGEST_TIMEOUT_SECONDS
                ),
                name="data_source_timeout_bounded",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def can_change(self, user: User | AnonymousUser) -> bool:
        return user.is_authenticated and user.is_active and user.pk == self.owner_id

    def set_secret(self, plain: str) -> None:
        """Keep `plain` (a token, password or secret access key) encrypted; "" forgets it."""
        self.secret = secret_box().encrypt(plain.encode()).decode() if plain else ""

    def read_secret(self) -> str:
        """The secret in plain text, for the store only. Raises `SecretUnreadable` when it was
        encrypted with a key this server no longer has."""
        if not self.secret:
            return ""
        try:
            return secret_box().decrypt(self.secret.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(self.pk) from None

    @property
    def has_secret(self) -> bool:
        return bool(self.secret)

    @contextmanager
    def store(self) -> Iterator[Any]:
        """The store to ask (`stores.prometheus.Prometheus` or `stores.cloudwatch.CloudWatch`),
        with its secret decrypted and its CA certificate in a file for as long as it is used.
        Raises `StoreError(UNAUTHORIZED)` when the secret cannot be read."""
        try:
            secret = self.read_secret()
        except SecretUnreadable:
            raise StoreError(Kind.UNAUTHORIZED, unreadable_secret_words()) from None
        if self.kind == SourceKind.CLOUDWATCH:
            from stores.cloudwatch import CloudWatch

            yield CloudWatch(
                region=self.region,
                access_key_id=self.username if self.auth == SourceAuth.ACCESS_KEY else "",
                secret_access_key=secret if self.auth == SourceAuth.ACCESS_KEY else "",
                endpoint_url=self.url,
                timeout=self.timeout_seconds,
            )
            return
        with _ca_file(self.ca_certificate) as ca_file:
            yield Prometheus(
                url=self.url,
                bearer_token=secret if self.auth == SourceAuth.BEARER else "",
                username=self.username if self.auth == SourceAuth.BASIC else "",
                password=secret if self.auth == SourceAuth.BASIC else "",
                ca_file=ca_file,
                timeout=self.timeout_seconds,
            )


def store_error_words(kind: str, detail: str = "") -> str:
    """What went wrong asking a store, in plain words, with what the store itself said."""
    words = {
        Kind.DNS: gettext("The source's host name is not known (DNS): check its URL."),
        Kind.REFUSED: gettext("The connection was refused: nothing answers at that address and port."),
        Kind.TLS: gettext(
            "The secure connection failed (TLS): the source's certificate is not trusted. Give its CA certificate, "
            "or check the URL's scheme."
        ),
        Kind.TIMEOUT: gettext("The source did not answer within its timeout."),
        Kind.UNAUTHORIZED: gettext("The source refused the credentials (401 or 403): check the token, user or key."),
        Kind.HTTP_STATUS: gettext("The source answered with an error."),
        Kind.NOT_A_STORE: gettext("Something answered at that URL, but not as this kind of store does."),
        Kind.BAD_QUERY: gettext("The store refused the query."),
        Kind.SEVERAL_SERIES: gettext("The query gives several series; it must give one value."),
        Kind.NOT_A_VALUE: gettext("The query does not give one number."),
        Kind.NO_DATA: gettext("No data: no series matches the query."),
        Kind.NOT_A_NUMBER: gettext("No data: the value is not a number."),
    }.get(Kind(kind) if kind in Kind.__members__.values() else None, gettext("The source could not be asked."))
    return f"{words} {detail}".strip() if detail else words


def unreadable_secret_words() -> str:
    return gettext(
        "Its secret was encrypted with a key this server no longer has (the secret key changed without the old "
        "one kept as a fallback): enter the secret again."
    )


@contextmanager
def _ca_file(pem: str) -> Iterator[str]:
    """A file holding `pem` while the store is asked ("" for none: the system's CAs)."""
    if not pem.strip():
        yield ""
        return
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as file:
        file.write(pem)
    try:
        yield file.name
    finally:
        os.unlink(file.name)


class MetricQuery(models.Model):
    """How a metric's value is read from a data source: a metric has at most one."""

    metric = models.OneToOneField(
        Metric, on_delete=models.CASCADE, related_name="store_query", verbose_name=_("metric")
    )
    # A source cannot be deleted while a metric is bound to it (but goes with its owner's account).
    source = models.ForeignKey(
        DataSource, on_delete=models.RESTRICT, related_name="queries", verbose_name=_("data source")
    )
    # Prometheus: a PromQL template giving one value.
    query = models.TextField(_("query"), blank=True)
    # CloudWatch: a metric, its dimensions ([{"name": ..., "value": template}]), statistic and period.
    namespace = models.CharField(_("namespace"), max_length=255, blank=True)
    metric_name = models.CharField(_("metric name"), max_length=255, blank=True)
    dimensions = models.JSONField(_("dimensions"), default=list, blank=True)
    statistic = models.CharField(_("statistic"), max_length=32, blank=True, default="Average")
    period_seconds = models.PositiveIntegerField(
        _("period (seconds)"), default=60, validators=[MinValueValidator(1), MaxValueValidator(LONGEST_PERIOD_SECONDS)]
    )
    compare = models.CharField(_("value"), max_length=10, choices=Compare.choices, default=Compare.VALUE)
    canary_selector = models.CharField(_("canary selector"), max_length=1000, blank=True)
    baseline_selector = models.CharField(_("baseline selector"), max_length=1000, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("metric query")
        verbose_name_plural = _("metric queries")

    def __str__(self) -> str:
        return f"{self.metric.name} ← {self.source.name}"

    @property
    def compares(self) -> bool:
        return self.compare != Compare.VALUE

    def measure(self, variables: Variables, at: datetime | None = None) -> Measurement:
        """The metric's value now (or `at`): the canary's, and the baseline's in the same window
        when it is compared with it. Raises `NoData` when the store has no usable value, and
        `StoreError` when it cannot be asked or the query gives several series."""
        with self.source.store() as store:
            canary_query = self.sent(variables, self.canary_selector)
            canary = store.value(canary_query, at)
            if not self.compares:
                return Measurement(canary.value, canary.value, None, canary.at, _described(canary_query))
            baseline_query = self.sent(variables, self.baseline_selector)
            baseline = store.value(baseline_query, at)
        return Measurement(
            value=compared(self.compare, canary.value, baseline.value),
            canary=canary.value,
            baseline=baseline.value,
            sampled_at=canary.at,
            query_sent=_described(canary_query),
            baseline_query_sent=_described(baseline_query),
        )

    def sent(self, variables: Variables, selector: str) -> Any:
        """The query as sent for one side (its `selector`): PromQL text, or a CloudWatch `MetricSpec`."""
        if self.source.kind != SourceKind.CLOUDWATCH:
            return render(self.query, variables, selector)
        from stores.cloudwatch import MetricSpec

        return MetricSpec(
            namespace=self.namespace or self.source.namespace,
            metric_name=self.metric_name,
            dimensions=tuple(
                (item["name"], render(str(item["value"]), variables, selector)) for item in self.dimensions or []
            ),
            statistic=self.statistic,
            period_seconds=self.period_seconds,
        )


@dataclass(frozen=True)
class Variables:
    """What a query template's variables stand for in one measurement."""

    key: str = ""
    version: str = ""
    window: int = 1  # whole minutes since the release started, at least 1


def render(template: str, variables: Variables, selector: str) -> str:
    """`template` with its variables replaced: `{{ selector }}` by `selector` (itself a template
    of the key and version, written by the owner), `{{ window }}` by the whole minutes, and
    `{{ key }}`/`{{ version }}` escaped for a PromQL string ("..."): a deployer's key cannot
    end the string it is put in."""
    values = {"key": _escaped(variables.key), "version": _escaped(variables.version), "window": str(variables.window)}
    values["selector"] = VARIABLE.sub(lambda match: values.get(match.group(1), match.group(0)), selector)
    return VARIABLE.sub(lambda match: values.get(match.group(1), match.group(0)), template)


def unknown_variables(template: str) -> list[str]:
    return sorted({name for name in VARIABLE.findall(template) if name not in VARIABLES})


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True)
class Measurement:
    """A bound metric's value at one moment: the canary's (and the baseline's) raw numbers, and
    the value as the metric defines it, with what was sent."""

    value: float
    canary: float
    baseline: float | None
    sampled_at: datetime
    query_sent: str
    baseline_query_sent: str = ""


def compared(compare: str, canary: float, baseline: float | None) -> float:
    """The metric's value from the canary's and the baseline's. Raises `NoData` when it is not a
    number (a ratio to a baseline of 0)."""
    if compare == Compare.VALUE or baseline is None:
        return canary
    if compare == Compare.DIFFERENCE:
        value = canary - baseline
    elif baseline == 0:
        raise NoData(Kind.NOT_A_NUMBER, gettext("the baseline's value is 0, so the ratio is not a number"))
    else:
        value = canary / baseline
    if not math.isfinite(value):
        raise NoData(Kind.NOT_A_NUMBER, f"{canary!r} and {baseline!r}")
    return value


# A failed pull's `error_kind` when the store answered but the value could not be judged: the
# codes of the domain's refusals (no trained model, an unusable one, a metric out of the gate).
JUDGING_FAILURES = ("no_model", "model_unusable", "not_in_gate")


class Pull(models.Model):
    """One query of a bound metric during a release: what was sent, what came back, and the
    observation it made (none when the store had no data or could not be asked)."""

    release = models.ForeignKey(
        "metrics.Release", on_delete=models.CASCADE, related_name="pulls", verbose_name=_("release")
    )
    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="+", verbose_name=_("metric"))
    source = models.ForeignKey(
        DataSource, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("data source")
    )
    pulled_at = models.DateTimeField(_("pulled at"), default=timezone.now)
    minutes = models.FloatField(_("minutes since the start"))
    outcome = models.CharField(_("outcome"), max_length=8, choices=PullOutcome.choices)
    query_sent = models.TextField(_("query sent"))
    baseline_query_sent = models.TextField(_("baseline query sent"), blank=True, default="")
    sampled_at = models.DateTimeField(_("sampled at"), null=True, blank=True)
    canary_value = models.FloatField(_("canary"), null=True, blank=True)
    baseline_value = models.FloatField(_("baseline"), null=True, blank=True)
    value = models.FloatField(_("value"), null=True, blank=True)
    # For no data and failures: a stores.Kind value, and what the store answered.
    error_kind = models.CharField(max_length=20, blank=True, default="")
    detail = models.TextField(blank=True, default="")
    # Failed pulls in a row of this metric in this release, this one included (0 when it did not fail).
    failures_in_a_row = models.PositiveIntegerField(default=0)
    observation = models.OneToOneField(
        "metrics.Observation", on_delete=models.SET_NULL, null=True, blank=True, related_name="pull"
    )

    class Meta:
        verbose_name = _("pull")
        verbose_name_plural = _("pulls")
        indexes = [models.Index(fields=["release", "metric", "-pulled_at"], name="pull_release_metric_newest")]

    def __str__(self) -> str:
        return f"{self.release}: {self.metric.name} {self.outcome} at {self.pulled_at:%Y-%m-%d %H:%M:%S}"

    @property
    def is_judging_failure(self) -> bool:
        """The store answered, but the value could not be judged (the metric has no usable model)."""
        return self.outcome == PullOutcome.FAILED and self.error_kind in JUDGING_FAILURES

    @property
    def error_words(self) -> str:
        """What went wrong, in plain words, with what the store said ('' for a value observed)."""
        if self.outcome == PullOutcome.OK:
            return ""
        if self.is_judging_failure:
            return self.detail  # the refusal's own words
        return store_error_words(self.error_kind, self.detail)


def queries_sent(query: MetricQuery, variables: Variables) -> tuple[str, str]:
    """What `query` sends for the canary and for the baseline ("" when it is not compared), as
    a person reads it: kept with a pull, whatever the store answers."""
    canary = _described(query.sent(variables, query.canary_selector))
    return canary, _described(query.sent(variables, query.baseline_selector)) if query.compares else ""


def _described(query: Any) -> str:
    """A query as sent, for a person reading its provenance: PromQL as it is, a CloudWatch
    metric as compact JSON."""
    if isinstance(query, str):
        return query
    return json.dumps(
        {
            "namespace": query.namespace,
            "metric": query.metric_name,
            "dimensions": dict(query.dimensions),
            "statistic": query.statistic,
            "period": query.period_seconds,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


__all__ = [
    "Compare",
    "DataSource",
    "DataSourceQuerySet",
    "Measurement",
    "MetricQuery",
    "Pull",
    "PullOutcome",
    "PullingEnded",
    "Sample",
    "SecretUnreadable",
    "SourceAuth",
    "SourceKind",
    "Variables",
]
