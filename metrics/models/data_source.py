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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import IntegrityError, models, transaction
from django.db.models import Count, Q, RestrictedError, Value
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from metrics.exceptions import DuplicateSource, SourceInUse, duplicate_source_message
from metrics.models.metric import Labelled, Metric
from stores.errors import Kind, NoData, StoreError
from stores.prometheus import Prometheus, Sample, http_session
from stores.reach import AllowedHosts, HostRefusal, NotAllowed

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

logger = logging.getLogger(__name__)

# The longest a source may take to answer one query, and the shortest it is given.
LONGEST_TIMEOUT_SECONDS = 120.0
SHORTEST_TIMEOUT_SECONDS = 0.5
# CloudWatch's periods: 1, 5, 10, 20, 30 seconds (high resolution) or a multiple of 60.
LONGEST_PERIOD_SECONDS = 86_400
# The variables of a query template: {{ key }}, {{ version }}, {{ selector }}, {{ window }}.
VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
VARIABLES = ("key", "version", "selector", "window")
# A selector is a template of the release's key and version (and window), never of itself.
SELECTOR_VARIABLES = ("key", "version", "window")
# What CloudWatch accepts: its statistics, and its extended ones (a percentile "p99" or "p99.9",
# a trimmed mean "tm90", winsorized mean "wm90", trimmed count "tc90", trimmed sum "ts90").
# CloudWatch's own limits on a metric's dimensions.
MOST_DIMENSIONS = 30
LONGEST_DIMENSION_NAME = 255
LONGEST_DIMENSION_VALUE = 1024
# The shortest period CloudWatch keeps datapoints of for a moment older than each age: 1 hour
# after 63 days, 5 minutes after 15 days, 1 minute after 3 hours (high resolution before).
CLOUDWATCH_PERIODS_KEPT = ((timedelta(days=63), 3600), (timedelta(days=15), 300), (timedelta(hours=3), 60))
# A preview without a window: as five minutes into a release, long enough for a rate().
PREVIEW_WINDOW_MINUTES = 5


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


# The credentials each kind of source takes, and those that come with a secret.
AUTHS_OF_KIND = {
    SourceKind.PROMETHEUS: (SourceAuth.NONE, SourceAuth.BEARER, SourceAuth.BASIC),
    SourceKind.CLOUDWATCH: (SourceAuth.ENVIRONMENT, SourceAuth.ACCESS_KEY),
}
SECRET_AUTHS = (SourceAuth.BEARER, SourceAuth.BASIC, SourceAuth.ACCESS_KEY)
# An AWS region's name: eu-west-1, ap-southeast-4, us-gov-west-1, cn-north-1, us-isob-east-1.
AWS_REGION = re.compile(r"[a-z]{2}(-(gov|iso[a-z]?))?-[a-z]+-[0-9]{1,2}")
# What a "Test connection" that worked stores as its result (otherwise a stores.Kind value).
CHECK_OK = "ok"


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
    OUTCOME = "outcome", _("the team recorded its outcome")


def may_use_server_credentials(user: User | AnonymousUser | None) -> bool:
    """Whether `user`'s CloudWatch sources may be read with the server's own AWS identity (its
    environment or instance role): staff's, or everyone's when `MBREAK_SOURCE_SERVER_CREDENTIALS`
    says so. Otherwise any user could read whatever the server's role may."""
    if settings.MBREAK_SOURCE_SERVER_CREDENTIALS:
        return True
    return user is not None and user.is_active and (user.is_staff or user.is_superuser)


def credentials_for(user: User | AnonymousUser | None) -> dict[SourceKind, tuple[SourceAuth, ...]]:
    """The credentials each kind of source takes, as `user` may give them (`AUTHS_OF_KIND`,
    without the server's own unless `may_use_server_credentials`)."""
    if may_use_server_credentials(user):
        return dict(AUTHS_OF_KIND)
    return {
        kind: tuple(auth for auth in auths if auth != SourceAuth.ENVIRONMENT) for kind, auths in AUTHS_OF_KIND.items()
    }


def allowed_hosts() -> AllowedHosts:
    """Where data sources may be: `MBREAK_SOURCE_ALLOWED_HOSTS` (checked when the settings load)."""
    return AllowedHosts.parse(settings.MBREAK_SOURCE_ALLOWED_HOSTS)


def reach_words(refusal: NotAllowed) -> str:
    """Why a source may not be at its host, in plain words."""
    values = {"host": refusal.host, "addresses": ", ".join(refusal.addresses)}
    if refusal.refusal == HostRefusal.METADATA:
        return (
            gettext(
                "“%(host)s” is the address of the instance metadata service (%(addresses)s), which hands out the "
                "server's own credentials: a data source may not be there."
            )
            % values
        )
    if refusal.refusal == HostRefusal.UNRESOLVED:
        return (
            gettext(
                "“%(host)s” resolves to no address, so it cannot be checked against the hosts this server allows "
                "data sources at: check its name."
            )
            % values
        )
    if refusal.addresses:
        return (
            gettext(
                "This server does not allow data sources at “%(host)s” (%(addresses)s): its administrator lists where "
                "they may be (MBREAK_SOURCE_ALLOWED_HOSTS)."
            )
            % values
        )
    return (
        gettext(
            "This server does not allow data sources at “%(host)s”: its administrator lists where they may be "
            "(MBREAK_SOURCE_ALLOWED_HOSTS)."
        )
        % values
    )


def server_credentials_words() -> str:
    return gettext(
        "Only staff may read CloudWatch with the server's own AWS identity (its environment or instance role): "
        "give an access key."
    )


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

    def named(self, owner_id: int, name: str) -> DataSourceQuerySet:
        """The owner's sources whose name is `name`, ignoring case as the unique constraint does."""
        return self.alias(name_key=Lower("name")).filter(owner_id=owner_id, name_key=Lower(Value(name)))

    def rotate_secrets(self) -> tuple[int, list[DataSource]]:
        """Encrypt every stored secret again with the current key (`secret_box()`'s first), so that
        the older keys can be dropped. Returns how many were encrypted again, and the sources whose
        secret no key of this server reads: those are left as they are (their owner enters the
        secret again)."""
        box = secret_box()
        rotated, unreadable = 0, []
        for source in self.exclude(secret="").only("pk", "name", "owner", "secret").order_by("pk"):
            try:
                encrypted = box.rotate(source.secret.encode()).decode()
            except InvalidToken:
                unreadable.append(source)
                continue
            # Only if unchanged meanwhile: a secret its owner just entered is already current.
            rotated += DataSource.objects.filter(pk=source.pk, secret=source.secret).update(secret=encrypted)
        return rotated, unreadable


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

    def get_absolute_url(self) -> str:
        return reverse("metrics:source", args=[self.pk])

    def can_change(self, user: User | AnonymousUser) -> bool:
        return user.is_authenticated and user.is_active and user.pk == self.owner_id

    @property
    def location(self) -> str:
        """Where the source is, as a person reads it: a Prometheus server's URL, a CloudWatch region
        (with its endpoint when it has one)."""
        if self.kind == SourceKind.CLOUDWATCH:
            return f"{self.region} ({self.url})" if self.url else self.region
        return self.url

    def clean(self) -> None:
        """The rules of a source, each refusal on the field at fault (its code none of a form
        field's own, which a form would word in their place): a name used once by its owner; a
        Prometheus server an http(s) URL without credentials in it; CloudWatch a region, with an
        https endpoint if any; credentials of a kind the source takes, with what they need; a CA
        certificate in PEM."""
        errors: dict[str, list[ValidationError]] = {}
        for field, error in (
            *self._name_errors(),
            *self._kind_errors(),
            *self._place_errors(),
            *self._credentials_errors(),
        ):
            errors.setdefault(field, []).append(error)
        if self.ca_certificate.strip() and not _is_pem_certificate(self.ca_certificate):
            message = gettext(
                "This is not a PEM certificate: paste the CA's certificate from “-----BEGIN CERTIFICATE-----” "
                "to “-----END CERTIFICATE-----”."
            )
            errors.setdefault("ca_certificate", []).append(ValidationError(message, code="not_pem"))
        if errors:
            raise ValidationError(errors)

    def _name_errors(self) -> list[tuple[str, ValidationError]]:
        if not (self.name and self.owner_id):
            return []
        if not DataSource.objects.named(self.owner_id, self.name).exclude(pk=self.pk).exists():
            return []
        return [("name", ValidationError(duplicate_source_message(self.name), code="duplicate"))]

    def _kind_errors(self) -> list[tuple[str, ValidationError]]:
        """Its kind stays while metrics are bound to it: their queries are of that kind's store."""
        if self.pk is None or not self.queries.exists():
            return []
        stored = DataSource.objects.filter(pk=self.pk).values_list("kind", flat=True).first()
        if stored in (None, self.kind):
            return []
        message = gettext(
            "Metrics are bound to this source with queries of its kind: unbind them before changing its kind."
        )
        return [("kind", ValidationError(message, code="bound"))]

    def _place_errors(self) -> list[tuple[str, ValidationError]]:
        """Where the source is: a Prometheus server's URL, CloudWatch's region and endpoint."""
        if self.kind == SourceKind.PROMETHEUS:
            if not self.url:
                message = gettext("Enter the Prometheus server's URL, e.g. http://prometheus.example:9090.")
                return [("url", ValidationError(message, code="missing"))]
            error = _url_error(self.url, schemes=("http", "https"))
            if error:
                return [("url", ValidationError(error, code="not_a_url"))]
            return self._reach_errors()
        if self.kind != SourceKind.CLOUDWATCH:
            return []  # refused as a choice
        found = []
        if not self.region:
            message = gettext("Enter the AWS region of the metrics, e.g. eu-west-1.")
            found.append(("region", ValidationError(message, code="missing")))
        elif not AWS_REGION.fullmatch(self.region):
            message = gettext("“%(region)s” is not an AWS region: a region reads like eu-west-1.")
            found.append(("region", ValidationError(message % {"region": self.region}, code="not_a_region")))
        if self.url and (error := _url_error(self.url, schemes=("https",))):
            found.append(("url", ValidationError(error, code="not_a_url")))
        elif self.url:
            found += self._reach_errors()
        return found

    def _reach_errors(self) -> list[tuple[str, ValidationError]]:
        """Its URL's host is one the server allows sources at (`MBREAK_SOURCE_ALLOWED_HOSTS`); a
        host name is resolved here only when the list limits where they may be."""
        try:
            allowed_hosts().check(urlsplit(self.url).hostname or "", resolve_names=False)
        except NotAllowed as refusal:
            return [("url", ValidationError(reach_words(refusal), code="host_not_allowed"))]
        return []

    def _credentials_errors(self) -> list[tuple[str, ValidationError]]:
        """Credentials of a kind the source takes, with the user name or key id and the secret they need."""
        if self.kind not in SourceKind.values or self.auth not in SourceAuth.values:
            return []  # refused as a choice
        allowed = AUTHS_OF_KIND[SourceKind(self.kind)]
        if self.auth not in allowed:
            message = gettext("%(kind)s takes these credentials: %(choices)s.") % {
                "kind": SourceKind(self.kind).label,
                "choices": "; ".join(str(SourceAuth(auth).label) for auth in allowed),
            }
            return [("auth", ValidationError(message, code="not_for_kind"))]
        if self.auth == SourceAuth.ENVIRONMENT and not may_use_server_credentials(self._owner_or_none()):
            return [("auth", ValidationError(server_credentials_words(), code="server_credentials"))]
        found = []
        user_names = {
            SourceAuth.BASIC: gettext("Enter the user name."),
            SourceAuth.ACCESS_KEY: gettext("Enter the access key ID."),
        }
        if self.auth in user_names and not self.username.strip():
            found.append(("username", ValidationError(user_names[SourceAuth(self.auth)], code="missing")))
        secrets = {
            SourceAuth.BEARER: gettext("Enter the bearer token."),
            SourceAuth.BASIC: gettext("Enter the password."),
            SourceAuth.ACCESS_KEY: gettext("Enter the secret access key."),
        }
        if self.auth in secrets and not self.secret:
            found.append(("secret", ValidationError(secrets[SourceAuth(self.auth)], code="missing")))
        elif self.auth in secrets and self._keeps_secret_for_another_place():
            again = {
                SourceAuth.BEARER: gettext("The URL now points somewhere else: enter the bearer token again for it."),
                SourceAuth.BASIC: gettext("The URL now points somewhere else: enter the password again for it."),
                SourceAuth.ACCESS_KEY: gettext(
                    "The endpoint now points somewhere else: enter the secret access key again for it."
                ),
            }
            message = gettext("%(again)s The stored one is only sent where it was entered for.") % {
                "again": again[SourceAuth(self.auth)]
            }
            found.append(("secret", ValidationError(message, code="place_changed")))
        return found

    def _owner_or_none(self) -> User | None:
        return self.owner if self.owner_id is not None else None

    def _keeps_secret_for_another_place(self) -> bool:
        """Whether it keeps the secret stored (not entered again) while its URL now points to
        another place (scheme, host or port) than the one the secret was entered for: a token
        typed for one server is never sent to another its owner did not type it for."""
        if self.pk is None or not self.secret:
            return False
        stored = DataSource.objects.filter(pk=self.pk).values_list("url", "secret").first()
        if stored is None or stored[1] != self.secret:  # a secret entered now is encrypted anew
            return False
        return _origin(stored[0]) != _origin(self.url)

    def add(self) -> None:
        """Store this new, checked source. The check and the insert are two steps: a source of the
        same name made by another request in between is refused as the check would."""
        try:
            with transaction.atomic():
                self.save()
        except IntegrityError:
            raise DuplicateSource(self.name) from None

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        """Delete the source; `SourceInUse` while a metric is bound to it (nothing is deleted)."""
        bound = list(Metric.objects.filter(store_query__source=self).order_by("name").values_list("name", flat=True))
        if bound:
            raise SourceInUse(self, bound)
        try:
            with transaction.atomic():
                return super().delete(*args, **kwargs)
        except RestrictedError:  # bound meanwhile
            bound = list(Metric.objects.filter(store_query__source=self).values_list("name", flat=True))
            raise SourceInUse(self, bound) from None

    def replaced_secret(self, typed: str | None, auth: str, *, forget: bool = False) -> str:
        """The secret (encrypted) the source keeps when its credentials become `auth` and `typed`
        is what was typed for the secret (None or "": nothing): the one typed; none when asked to
        `forget` it, when `auth` takes no secret, or when it is another kind of credentials than
        the stored secret's (a password is no bearer token); otherwise the stored one."""
        if typed:
            return secret_box().encrypt(typed.encode()).decode()
        if forget or auth not in SECRET_AUTHS or auth != self.auth:
            return ""
        return self.secret

    def check_connection(self) -> None:
        """The "Test connection": ask the store whether it answers, with these credentials, and
        store when and what came of it (`checked_at`, `check_result`, `check_detail`; in words:
        `check_words`). A store that cannot be asked is a result, never an exception.

        Not `check`: Django's system checks call `Model.check()` on every model class."""
        try:
            with self.store(in_a_request=True) as store:
                store.check()
        except StoreError as error:
            self.check_result, self.check_detail = error.kind.value, error.detail
        else:
            self.check_result, self.check_detail = CHECK_OK, ""
        self.checked_at = timezone.now()
        logger.info("Data source %s tested: %s", self.pk, self.check_result)
        if self.pk is not None:
            DataSource.objects.filter(pk=self.pk).update(
                checked_at=self.checked_at, check_result=self.check_result, check_detail=self.check_detail
            )

    @property
    def is_working(self) -> bool:
        """Whether the last "Test connection" found the source answering."""
        return self.check_result == CHECK_OK

    @property
    def check_words(self) -> str:
        """What the last "Test connection" found, in plain words ("" if never tested)."""
        if self.checked_at is None:
            return ""
        if self.is_working:
            return gettext("It works: the source answered with these credentials.")
        return store_error_words(self.check_result, self.check_detail)

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

    def _refuse_what_the_server_does_not_allow(self) -> None:
        """Raise `StoreError` before asking a source the server may not ask: at a host it does not
        allow (each address its URL's host resolves to now, `MBREAK_SOURCE_ALLOWED_HOSTS`), or
        with the server's own AWS identity for an owner who may not use it."""
        if self.url:
            try:
                allowed_hosts().check(urlsplit(self.url).hostname or "")
            except NotAllowed as refusal:
                if refusal.refusal == HostRefusal.UNRESOLVED:  # as the store's own client would say
                    raise StoreError(Kind.DNS) from None
                raise StoreError(Kind.NOT_ALLOWED, reach_words(refusal)) from None
        if (
            self.kind == SourceKind.CLOUDWATCH
            and self.auth == SourceAuth.ENVIRONMENT
            and not may_use_server_credentials(self._owner_or_none())
        ):
            raise StoreError(Kind.NOT_ALLOWED, server_credentials_words())

    @contextmanager
    def store(self, *, in_a_request: bool = False) -> Iterator[Any]:
        """The store to ask (`stores.prometheus.Prometheus` or `stores.cloudwatch.CloudWatch`),
        with its secret decrypted and its CA certificate in a file for as long as it is used.
        Asked `in_a_request` (Test connection, a preview: a person or a program waits for the
        page), each question waits at most `MBREAK_SOURCE_REQUEST_TIMEOUT` seconds, however long
        the source's own timeout, which pulls and fills, in workers, wait. Raises
        `StoreError(UNAUTHORIZED)` when the secret cannot be read."""
        timeout = self.timeout_seconds
        if in_a_request:
            timeout = min(timeout, settings.MBREAK_SOURCE_REQUEST_TIMEOUT)
        self._refuse_what_the_server_does_not_allow()
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
                timeout=timeout,
            )
            return
        with _ca_file(self.ca_certificate) as ca_file, http_session(self.url, ca_file) as session:
            yield Prometheus(
                url=self.url,
                bearer_token=secret if self.auth == SourceAuth.BEARER else "",
                username=self.username if self.auth == SourceAuth.BASIC else "",
                password=secret if self.auth == SourceAuth.BASIC else "",
                ca_file=ca_file,
                timeout=timeout,
                session=session,
            )


def store_error_words(kind: str, detail: str = "") -> str:
    """What went wrong asking a store, in plain words, with what the store itself said."""
    words: dict[Kind, str] = {
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
        Kind.NOT_ALLOWED: gettext("This server does not ask that source."),
        Kind.BAD_QUERY: gettext("The source refused the query."),
        Kind.SEVERAL_SERIES: gettext("The query gives several series; it must give one value."),
        Kind.NOT_A_VALUE: gettext("The query does not give one number."),
        Kind.NO_DATA: gettext("No data: no series matches the query."),
        Kind.NOT_A_NUMBER: gettext("No data: the value is not a number."),
    }
    said = words.get(Kind(kind), "") if kind in set(Kind) else ""
    said = said or gettext("The source could not be asked.")
    return f"{said} {detail}" if detail else said


def unreadable_secret_words() -> str:
    return gettext(
        "Its secret was encrypted with a key this server no longer has (the secret key changed without the old "
        "one kept as a fallback): enter the secret again."
    )


def _is_pem_certificate(text: str) -> bool:
    try:
        x509.load_pem_x509_certificates(text.strip().encode())
    except ValueError:
        return False
    return True


def _url_error(url: str, schemes: Sequence[str]) -> str:
    """Why `url` cannot be a source's, or ""."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in schemes or not parts.hostname:
        if tuple(schemes) == ("https",):
            return gettext("Enter an https:// URL (e.g. a VPC endpoint), or leave it empty for the region's own.")
        return gettext("Enter an http:// or https:// URL, e.g. http://prometheus.example:9090.")
    if parts.username is not None or parts.password is not None:
        return gettext(
            "Leave the user name and password out of the URL: enter them in the credentials fields, where the "
            "password is kept encrypted."
        )
    return ""


def _origin(url: str) -> tuple[str, str, int | None]:
    """Where `url` leads, as browsers bound credentials: its scheme, host and port (the
    scheme's own when it names none); CloudWatch's "" (the region's endpoint) is a place too."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return (url, "", None)
    default_ports = {"http": 80, "https": 443}
    return parts.scheme.lower(), (parts.hostname or "").lower(), port or default_ports.get(parts.scheme.lower())


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

    def clean(self) -> None:
        """The query's rules, each refusal on the field it is about: a PromQL query for a
        Prometheus source; a metric name, a namespace (its own or the source's), a statistic
        and a period CloudWatch accepts and at most 30 dimensions for a CloudWatch source; only
        the known variables; and a canary compared with its baseline by two different
        selectors that the query uses (otherwise both sides would ask the same)."""
        refusals = self._selector_refusals()
        if self.source_id is not None:
            is_cloudwatch = self.source.kind == SourceKind.CLOUDWATCH
            refusals += self._cloudwatch_refusals() if is_cloudwatch else self._prometheus_refusals()
            refusals += self._unused_selector_refusals(is_cloudwatch)
        errors: dict[str, list[ValidationError]] = {}
        for refusal in refusals:
            errors.setdefault(refusal.field, []).append(ValidationError(refusal.message, code=refusal.code))
        if errors:
            raise ValidationError(errors)

    def _prometheus_refusals(self) -> list[Refusal]:
        if not self.query.strip():
            return [Refusal("query", gettext("Enter the PromQL query that gives the metric's value."), "required")]
        if unknown := unknown_variables(self.query):
            return [Refusal("query", unknown_variables_words(unknown, VARIABLES), "unknown_variables")]
        return []

    def _cloudwatch_refusals(self) -> list[Refusal]:
        refusals = []
        if not self.metric_name.strip():
            refusals.append(Refusal("metric_name", gettext("Enter the name of the CloudWatch metric."), "required"))
        if not (self.namespace.strip() or self.source.namespace.strip()):
            message = gettext("Enter the metric's namespace (e.g. AWS/ApplicationELB): its data source has none.")
            refusals.append(Refusal("namespace", message, "required"))
        if error := statistic_error(self.statistic):
            refusals.append(Refusal("statistic", error, "invalid_statistic"))
        if error := period_error(self.period_seconds):
            refusals.append(Refusal("period_seconds", error, "invalid_period"))
        refusals += [Refusal("dimensions", error, "invalid_dimensions") for error in dimensions_errors(self.dimensions)]
        if unknown := sorted({name for value in self._dimension_values() for name in unknown_variables(value)}):
            refusals.append(Refusal("dimensions", unknown_variables_words(unknown, VARIABLES), "unknown_variables"))
        return refusals

    def _selector_refusals(self) -> list[Refusal]:
        refusals = [
            Refusal(field, unknown_variables_words(unknown, SELECTOR_VARIABLES), "unknown_variables")
            for field in ("canary_selector", "baseline_selector")
            if (unknown := unknown_variables(getattr(self, field), SELECTOR_VARIABLES))
        ]
        if not self.compares:
            return refusals
        refusals += [
            Refusal(
                field,
                gettext("Enter the selector of each side: the value is compared with the baseline's."),
                "required",
            )
            for field in ("canary_selector", "baseline_selector")
            if not getattr(self, field).strip()
        ]
        if self.canary_selector.strip() and self.canary_selector.strip() == self.baseline_selector.strip():
            message = gettext("The baseline's selector is the canary's: both sides would be the same query.")
            refusals.append(Refusal("baseline_selector", message, "same_selectors"))
        return refusals

    def _unused_selector_refusals(self, is_cloudwatch: bool) -> list[Refusal]:
        """A selector the template does not use: the canary and the baseline would be asked alike."""
        if not (self.canary_selector.strip() or self.baseline_selector.strip()):
            return []
        if is_cloudwatch:
            if any("selector" in VARIABLE.findall(value) for value in self._dimension_values()):
                return []
            message = gettext(
                "Use {{ selector }} in a dimension's value: otherwise the canary and the baseline are the same query."
            )
            return [Refusal("dimensions", message, "selector_unused")]
        if not self.query.strip() or "selector" in VARIABLE.findall(self.query):
            return []  # an empty query is refused as one
        message = gettext("Use {{ selector }} in the query: otherwise the canary and the baseline are the same query.")
        return [Refusal("query", message, "selector_unused")]

    def _dimension_values(self) -> list[str]:
        return [str(item.get("value", "")) for item in self.dimensions or [] if isinstance(item, dict)]

    def preview(self, variables: Variables | None = None) -> Preview:
        """The metric's value now, as a release with these `variables` would be measured (without
        them: no key or version, and a window of `PREVIEW_WINDOW_MINUTES`): the value as the
        metric defines it, both raw numbers and the queries as sent; or, when the store cannot
        give one value (no series, several, not a number, a ratio to 0, a failure), the reason
        in plain words, with what it gave before that. Never raises for what the store answers."""
        variables = variables or Variables(window=PREVIEW_WINDOW_MINUTES)
        canary_query = self.sent(variables, self.canary_selector)
        baseline_query = self.sent(variables, self.baseline_selector) if self.compares else None
        shown = Preview(
            variables=variables,
            query_sent=_described(canary_query),
            baseline_query_sent=_described(baseline_query) if baseline_query is not None else "",
        )
        side = "canary"  # the side being asked, to say which one failed
        try:
            with self.source.store(in_a_request=True) as store:
                canary = store.value(canary_query)
                shown = replace(shown, canary=canary.value, sampled_at=canary.at)
                if baseline_query is not None:
                    side = "baseline"
                    canary, baseline = self._both_sides(store, canary, canary_query, baseline_query)
                    shown = replace(shown, canary=canary.value, baseline=baseline.value, sampled_at=canary.at)
            side = ""
            return replace(shown, value=compared(self.compare, canary.value, shown.baseline))
        except StoreError as error:
            words = store_error_words(error.kind, error.detail)
            if self.compares and side == "canary":
                words = gettext("The canary: %(reason)s") % {"reason": words}
            elif self.compares and side == "baseline":
                words = gettext("The baseline: %(reason)s") % {"reason": words}
            return replace(shown, error_kind=str(error.kind), reason=words)

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
            canary, baseline = self._both_sides(store, canary, canary_query, baseline_query, at)
        return Measurement(
            value=compared(self.compare, canary.value, baseline.value),
            canary=canary.value,
            baseline=baseline.value,
            sampled_at=canary.at,
            query_sent=_described(canary_query),
            baseline_query_sent=_described(baseline_query),
        )

    def _both_sides(
        self, store: Any, canary: Sample, canary_query: Any, baseline_query: Any, at: datetime | None = None
    ) -> tuple[Sample, Sample]:
        """The canary's value (`canary`, asked already) and the baseline's, in the same window.

        Prometheus answers both at the moment asked. CloudWatch gives each series' newest period
        it has published, and it may publish the canary's before the baseline's (or after): both
        are read in the newest period both have. Raises `NoData` when they have none in common
        among the last ones."""
        if self.source.kind != SourceKind.CLOUDWATCH:  # at the very moment the canary was read
            return canary, store.value(baseline_query, at or canary.at)
        period = timedelta(seconds=self.period_seconds)
        apart = NoData(Kind.NO_DATA, gettext("the canary and the baseline have no period in which both have a value"))
        try:
            baseline = store.value(baseline_query, canary.at + period)  # none newer than the canary's
        except NoData:
            store.value(baseline_query, at)  # when the baseline has none at all, that is the reason
            raise apart from None
        if baseline.at < canary.at:
            try:
                canary = store.value(canary_query, baseline.at + period)
            except NoData:
                raise apart from None
        if baseline.at != canary.at:
            raise apart
        return canary, baseline

    @property
    def uses_window(self) -> bool:
        """Whether its query names `{{ window }}` (which a history fill reads as 1 minute)."""
        texts = [self.query, self.canary_selector, self.baseline_selector]
        texts += [str(item.get("value", "")) for item in self.dimensions or [] if isinstance(item, dict)]
        return any("window" in VARIABLE.findall(text) for text in texts)

    def measure_series(
        self, variables: Variables, start: datetime, end: datetime, store: Any = None
    ) -> list[MeasuredMinute]:
        """The metric's value each whole minute after a release that started at `start`, up to
        `end`: minute 1 (`start` + 1 min) to minute N, from one range query per side (the canary,
        and the baseline when the value is compared with it), joined by the time of their samples.

        A range query cannot widen its window step by step, so in a history fill `{{ window }}`
        stands for 1: each minute's value is read over that minute alone (`variables.window` is
        not read). Minutes where the store has no value (or a ratio to a baseline of 0) are left
        out. Raises `NoData` when no minute has a value, and `StoreError` when the store cannot
        be asked or the query gives several series.

        `store`: one opened already (`self.source.store()`), to ask it again and again (a fill's
        releases, one after the other, on its open connections); by default, one for this call.
        """
        if store is None:
            with self.source.store() as opened:
                return self.measure_series(variables, start, end, opened)
        variables = replace(variables, window=1)
        canary_query = self.sent(variables, self.canary_selector)
        baseline_query = self.sent(variables, self.baseline_selector) if self.compares else None
        canary = self._series(store, canary_query, start, end)
        baseline = self._series(store, baseline_query, start, end) if baseline_query is not None else None
        measured = _joined(self.compare, canary, baseline)
        if not measured:
            if baseline is None:
                raise NoData(Kind.NOT_A_NUMBER, gettext("no minute has a value that is a number"))
            raise NoData(Kind.NO_DATA, gettext("no minute has a value of both the canary and the baseline"))
        return measured

    def _series(self, store: Any, query: Any, start: datetime, end: datetime) -> dict[int, Sample]:
        """One side's samples by their whole minutes after `start` (1 and up, not beyond `end`).

        Prometheus is asked at each whole minute after the start, a step of 60 seconds: the value
        at minute m is the one `query` gives at that moment. A CloudWatch datapoint stands for
        its period, from its timestamp on: it is the value of minute m when its period is the
        newest one complete then (it ends at or before `start` + m minutes). CloudWatch starts
        periods of whole minutes on a whole minute whatever moment is asked, so they are asked
        from the minute the release started in: a release that started at 10:10:30 has as
        minute 1 the period from 10:10 to 10:11, as minute 2 the next. An old release is read
        over the periods CloudWatch keeps for its age (`cloudwatch_period`)."""
        last = round((end - start).total_seconds() / 60)
        by_minute = {}
        if self.source.kind == SourceKind.CLOUDWATCH:
            seconds, starts_on = cloudwatch_period(self.period_seconds, start, timezone.now())
            period = timedelta(seconds=seconds)
            asked_from = start
            if starts_on:
                asked_from = start.replace(microsecond=0) - timedelta(seconds=int(start.timestamp()) % starts_on)
            for sample in store.series(replace(query, period_seconds=seconds), asked_from, end):
                # Later samples of a minute replace earlier ones: the newest complete period wins.
                minutes = math.ceil((sample.at + period - start).total_seconds() / 60)
                if 1 <= minutes <= last:
                    by_minute[minutes] = sample
            return by_minute
        for sample in store.series(query, start + timedelta(minutes=1), end, step_seconds=60):
            minutes = round((sample.at - start).total_seconds() / 60)
            if 1 <= minutes <= last:
                by_minute[minutes] = sample
        return by_minute

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


def cloudwatch_period(period_seconds: int, start: datetime, now: datetime) -> tuple[int, int]:
    """The period CloudWatch gives datapoints of for a time range from `start` (as old as it
    is `now`), and the seconds its periods then start on (0: the moment asked).

    CloudWatch keeps 1-minute periods for 15 days, 5-minute ones for 63 days, then hours (and
    periods under a minute for 3 hours): asked a shorter period from an older start it gives
    no datapoint at all, so the period is the shortest multiple of `period_seconds`'s that it
    keeps. It starts periods of whole minutes on a whole minute, 5-minute ones on a 5-minute
    clock interval, hours on the hour.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html"""
    age = now - start
    kept = next((seconds for older_than, seconds in CLOUDWATCH_PERIODS_KEPT if age > older_than), 1)
    seconds = kept * math.ceil(period_seconds / kept)
    return seconds, (max(kept, 60) if seconds % 60 == 0 else 0)


class Refusal(NamedTuple):
    """One rule a query breaks: the field it is about, what to say, and its code."""

    field: str
    message: str
    code: str


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


def unknown_variables(template: str, known: tuple[str, ...] = VARIABLES) -> list[str]:
    return sorted({name for name in VARIABLE.findall(template) if name not in known})


def unknown_variables_words(unknown: list[str], known: tuple[str, ...]) -> str:
    """Which variables of a template are not known, and which are."""
    return ngettext(
        "Unknown variable: %(unknown)s. Use %(known)s.", "Unknown variables: %(unknown)s. Use %(known)s.", len(unknown)
    ) % {
        "unknown": ", ".join(f"{{{{ {name} }}}}" for name in unknown),
        "known": ", ".join(f"{{{{ {name} }}}}" for name in known),
    }


def statistic_error(statistic: str) -> str:
    """Why CloudWatch would refuse `statistic`, or "" when it takes it."""
    from stores.cloudwatch import is_statistic  # the store's own rule (boto3 is loaded when first needed)

    if is_statistic(statistic):
        return ""
    return gettext(
        "“%(statistic)s” is not a CloudWatch statistic: use Average, Sum, Minimum, Maximum or SampleCount, or a "
        "percentile such as p99 or p99.9 (tm90, wm90, tc90 and ts90 too)."
    ) % {"statistic": statistic}


def period_error(seconds: int | None) -> str:
    """Why CloudWatch would refuse a period of `seconds`, or "" when it takes it."""
    from stores.cloudwatch import is_period  # the store's own rule

    if seconds is None or is_period(seconds):
        return ""
    return gettext("CloudWatch's periods are 1, 5, 10, 20 or 30 seconds, or a multiple of 60 seconds.")


def dimensions_errors(dimensions: Any) -> list[str]:
    """What is wrong with a CloudWatch metric's dimensions (a list of {"name", "value"}), each
    in words; none when CloudWatch takes them."""
    if not isinstance(dimensions, list) or not all(_is_dimension(item) for item in dimensions):
        return [gettext('Give the dimensions as a list of {"name": …, "value": …}.')]
    errors = []
    if len(dimensions) > MOST_DIMENSIONS:
        errors.append(gettext("CloudWatch takes at most %(most)d dimensions.") % {"most": MOST_DIMENSIONS})
    errors += [error for item in dimensions if (error := _dimension_error(item["name"].strip(), item["value"].strip()))]
    names = [item["name"].strip() for item in dimensions]
    if repeated := sorted({name for name in names if name and names.count(name) > 1}):
        errors.append(gettext("Each dimension may appear once: %(names)s.") % {"names": ", ".join(repeated)})
    return errors


def _is_dimension(item: Any) -> bool:
    return isinstance(item, dict) and set(item) == {"name", "value"} and all(isinstance(v, str) for v in item.values())


def _dimension_error(name: str, value: str) -> str:
    if not name or not value:
        return gettext("Each dimension needs a name and a value.")
    if len(name) > LONGEST_DIMENSION_NAME or len(value) > LONGEST_DIMENSION_VALUE:
        return gettext(
            "The dimension “%(name)s” is too long: a name has at most %(name_most)d characters, a value %(value_most)d."
        ) % {"name": name[:40], "name_most": LONGEST_DIMENSION_NAME, "value_most": LONGEST_DIMENSION_VALUE}
    return ""


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True)
class Preview:
    """What a bound metric's query gives now (`MetricQuery.preview`): the value as the metric
    defines it with the canary's and the baseline's raw numbers, or the reason it gives none
    (`reason`, in words, with the store's `error_kind`); and what was sent, in either case."""

    variables: Variables
    query_sent: str
    baseline_query_sent: str = ""
    value: float | None = None
    canary: float | None = None
    baseline: float | None = None
    sampled_at: datetime | None = None
    error_kind: str = ""
    reason: str = ""

    @property
    def has_value(self) -> bool:
        return self.value is not None


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


@dataclass(frozen=True)
class MeasuredMinute:
    """A bound metric's value one whole minute after a release started (`minutes`: 1 and up),
    with the canary's and the baseline's raw numbers and when the store sampled them."""

    minutes: int
    value: float
    canary: float
    baseline: float | None
    sampled_at: datetime


def _joined(compare: str, canary: dict[int, Sample], baseline: dict[int, Sample] | None) -> list[MeasuredMinute]:
    """Each minute's value from the canary's sample and, when compared, the baseline's of the same
    minute, in the minutes' order: none for a minute the baseline has no value for, or whose
    comparison is not a number (a ratio to 0)."""
    if baseline is None:  # the value is the canary's (a fill's thousands of minutes: at once)
        return [
            MeasuredMinute(minutes, sample.value, sample.value, None, sample.at)
            for minutes, sample in sorted(canary.items())
        ]
    measured = []
    for minutes, sample in sorted(canary.items()):
        if (other := baseline.get(minutes)) is None:
            continue
        try:
            value = compared(compare, sample.value, other.value)
        except NoData:
            continue
        measured.append(MeasuredMinute(minutes, value, sample.value, other.value, sample.at))
    return measured


def compared(compare: str, canary: float, baseline: float | None) -> float:
    """The metric's value from the canary's and the baseline's. Raises `NoData` when it is not a
    number (a ratio to a baseline of 0)."""
    if compare == Compare.VALUE:
        return canary
    if baseline is None:  # a programming error: the value is never the canary's alone when compared
        raise ValueError(f"a {compare} needs the baseline's value")
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
# A pulled value no model can learn from or judge (beyond what 32-bit floats hold).
VALUE_TOO_LARGE = "value_too_large"
JUDGING_FAILURES = ("no_model", "model_unusable", "not_in_gate", VALUE_TOO_LARGE)


class PullQuerySet(models.QuerySet["Pull"]):
    def failure_counts_by_source(self) -> models.QuerySet[Pull, dict[str, Any]]:
        """How many pulls failed, by data source and what went wrong (a stores.Kind value, or the
        judging failure's code), in one query: rows of `source_id` (None for a source deleted
        since), `error_kind` and `count`."""
        failed = self.order_by().filter(outcome=PullOutcome.FAILED)
        return failed.values("source_id", "error_kind").annotate(count=Count("pk"))


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

    objects = PullQuerySet.as_manager()

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

    def error_words_for(self, viewer: User | AnonymousUser) -> str:
        """`error_words` as `viewer` may read them: what the store answered is its source's
        owner's to read (it may name the store's series, hosts or settings); others read what
        went wrong in plain words alone."""
        if self.outcome == PullOutcome.OK or self.is_judging_failure or self.shows_source_to(viewer):
            return self.error_words
        return store_error_words(self.error_kind)

    def shows_source_to(self, viewer: User | AnonymousUser) -> bool:
        """Whether `viewer` may see where and how it was read (the source, the query as sent, what
        the store answered): its source's owner alone."""
        return self.source is not None and self.source.can_change(viewer)


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
    "AUTHS_OF_KIND",
    "CHECK_OK",
    "SECRET_AUTHS",
    "Compare",
    "DataSource",
    "DataSourceQuerySet",
    "MeasuredMinute",
    "Measurement",
    "MetricQuery",
    "Preview",
    "Pull",
    "PullOutcome",
    "PullingEnded",
    "Sample",
    "SecretUnreadable",
    "SourceAuth",
    "SourceKind",
    "Variables",
]
