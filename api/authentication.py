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
        token = ApiToken.objects.authenticate(header[1])
        if token is None:
            throttle = PerTokenThrottle()
            if not throttle.allow_refused_token(request):
                raise exceptions.Throttled(throttle.wait())
            raise exceptions.AuthenticationFailed(_("This token is unknown, expired or revoked."), code="invalid_token")
        token.record_use()
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A personal API token from the API tokens page."}
