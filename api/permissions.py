from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import exceptions, permissions
from rest_framework.request import Request

from accounts.models import ApiToken


def may_write(request: Request) -> bool:
    """Whether the caller's credentials may change anything: a session, or a read-and-write token."""
    return not isinstance(request.auth, ApiToken) or request.auth.can_write


class SignedInWithScope(permissions.BasePermission):
    """Signed in (token or session), and a read-only token only reads.

    What each user may do to a metric, a version or a verdict is decided by the same model
    methods and access helpers as the web pages, in the views.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method not in permissions.SAFE_METHODS and not may_write(request):
            raise exceptions.PermissionDenied(
                _("This token is read-only: create a read-and-write token to change anything."),
                code="read_only_token",
            )
        return True
