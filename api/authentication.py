"""`Authorization: Bearer <token>`: a personal API token (accounts.ApiToken) stands for its user."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiToken
from api.throttling import PerTokenThrottle


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != self.keyword.lower():
            return None  # no token: session authentication may still apply
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send the token as “Authorization: Bearer <token>”."))
        return live_token(request, header[1])

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


def live_token(request: Request, secret: str) -> tuple[Any, ApiToken]:
    """The user and token whose secret this is; a 401 for a token unknown, expired or revoked,
    counted against the caller's address (a 429 once over its rate)."""
    token = ApiToken.objects.authenticate(secret)
    if token is None:
        throttle = PerTokenThrottle()
        if not throttle.allow_refused_token(request):
            raise exceptions.Throttled(throttle.wait())
        raise exceptions.AuthenticationFailed(_("This token is unknown, expired or revoked."), code="invalid_token")
    token.record_use()
    return token.user, token


class FlaggerMetadataAuthentication(authentication.BaseAuthentication):
    """Flagger cannot send headers (fluxcd/flagger#1192): its webhook carries the token in its
    `metadata`, as `token`. Only the token's digest is looked up; it is never logged nor answered."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken]:
        data = request.data
        metadata = data.get("metadata") if isinstance(data, dict) else None
        secret = metadata.get("token") if isinstance(metadata, dict) else None
        if not isinstance(secret, str) or not secret:
            raise exceptions.AuthenticationFailed(
                _("Put a read-and-write API token in the webhook's metadata, as “token”: Flagger sends no header."),
                code="not_authenticated",
            )
        return live_token(request, secret)

    def authenticate_header(self, request: Request) -> str:
        return 'Metadata realm="api", token="metadata.token"'


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A personal API token from the API tokens page."}
