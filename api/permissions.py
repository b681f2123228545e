from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions, permissions
from rest_framework.request import Request

from accounts.models import ApiToken
from mbreak.http import address_is_within, client_address


def may_write(request: Request) -> bool:
    """Whether the caller's credentials may change anything: a session, or a read-and-write token."""
    return not isinstance(request.auth, ApiToken) or request.auth.can_write


class SignedInWithScope(permissions.BasePermission):
    """Signed in (token or session), a read-only token only reads, and a metrics token (for
    Prometheus' scrape of /metrics) is refused everything.

    What each user may do to a metric, a version or a verdict is decided by the same model
    methods and access helpers as the web pages, in the views.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if isinstance(request.auth, ApiToken) and not request.auth.can_use_api:
            raise exceptions.PermissionDenied(
                _(
                    "This token only lets Prometheus read /metrics: create a read-only or read-and-write token "
                    "to use the API."
                ),
                code="metrics_token",
            )
        if request.method not in permissions.SAFE_METHODS and not may_write(request):
            raise exceptions.PermissionDenied(
                _("This token is read-only: create a read-and-write token to change anything."),
                code="read_only_token",
            )
        return True


class MayScrapeMetrics(permissions.BasePermission):
    """/metrics: a metrics token, or a client whose address `MBREAK_METRICS_ALLOWED_ADDRESSES`
    names (read past our own proxies only). No credentials is a 401; a token of another scope
    (read-only, read-and-write) a 403: it is a pipeline's, and its user's session is not enough
    either."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if address_is_within(client_address(request), settings.MBREAK_METRICS_ALLOWED_ADDRESSES):
            return True
        if not isinstance(request.auth, ApiToken):
            return False  # DRF answers 401, asking for a bearer token
        if not request.auth.can_scrape:
            raise exceptions.PermissionDenied(
                _("Only a token made for Prometheus (“Prometheus scrape of /metrics only”) reads /metrics."),
                code="not_a_metrics_token",
            )
        return True
