from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from metrics.models.metric import has_visible_character, normalise_label

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# A token is "mb_" and 43 URL-safe characters (256 random bits): the prefix says whose it is
# to a secret scanner, and the first characters after it name it on the tokens page.
TOKEN_PREFIX = "mb_"  # noqa: S105 - a marker, not a secret
SHOWN_CHARACTERS = 8
# Writing "last used" on every request would make each API call a write: once a minute is enough.
LAST_USED_PRECISION = timedelta(minutes=1)
LONGEST_NAME = 100


class TokenScope(models.TextChoices):
    READ = "read", _("Read only")
    WRITE = "write", _("Read and write")
    # Reads /metrics only (a Prometheus server's), nothing of the API.
    METRICS = "metrics", _("Prometheus scrape of /metrics only")


def token_digest(raw: str) -> str:
    """What is stored of a token. A fast hash is enough: a token is 256 random bits, not a password."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def issue(self, user: User, name: str, scope: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
        """A new token for `user`; returns it and its secret, which is shown once and never stored."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = self.create(
            user=user,
            name=name,
            scope=scope,
            expires_at=expires_at,
            digest=token_digest(raw),
            shown=raw[: len(TOKEN_PREFIX) + SHOWN_CHARACTERS],
        )
        return token, raw

    def authenticate(self, raw: str) -> ApiToken | None:
        """The live token whose secret is `raw` (not revoked, not expired, its user active), or None."""
        token = self.select_related("user").filter(digest=token_digest(raw), revoked_at__isnull=True).first()
        if token is None or token.is_expired or not token.user.is_active:
            return None
        return token

    def of(self, user: User) -> ApiTokenQuerySet:
        return self.filter(user=user).order_by("-created_at", "-pk")


class ApiToken(models.Model):
    """A personal API token: a pipeline calls Make or Break as the user who made it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=LONGEST_NAME)
    scope = models.CharField(_("scope"), max_length=8, choices=TokenScope.choices, default=TokenScope.READ)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    shown = models.CharField(_("token"), max_length=16, editable=False)  # its first characters, to recognise it
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"], condition=Q(revoked_at__isnull=True), name="api_token_live_name_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.shown}…)"

    @classmethod
    def checked_name(cls, user: User, text: str) -> str:
        """`text` as a new token of `user` stores it (as a metric's name: invisible characters
        dropped, spaces collapsed); raises `ValidationError` when it shows nothing, is too
        long, or names another live token of `user`. The tokens page and `create_token` both
        ask this."""
        name = normalise_label(text)
        if not has_visible_character(name):
            raise ValidationError(_("Give the token a name."), code="blank")
        MaxLengthValidator(LONGEST_NAME)(name)
        if cls.objects.of(user).filter(name=name, revoked_at__isnull=True).exists():
            raise ValidationError(
                _("You already have a token named “%(name)s”. Revoke it first, or choose another name."),
                code="duplicate",
                params={"name": name},
            )
        return name

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def can_write(self) -> bool:
        return self.scope == TokenScope.WRITE

    @property
    def can_use_api(self) -> bool:
        """Read-only and read-and-write tokens call the API; a metrics token reads /metrics only."""
        return self.scope in (TokenScope.READ, TokenScope.WRITE)

    @property
    def can_scrape(self) -> bool:
        """Only a metrics token reads /metrics: a pipeline's token, kept where a Prometheus is
        configured, would give it the API as well."""
        return self.scope == TokenScope.METRICS

    def revoke(self) -> None:
        """From now on the token is refused; kept in the list, marked revoked."""
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=self.revoked_at)

    def record_use(self) -> None:
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= LAST_USED_PRECISION:
            self.last_used_at = now
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
