from __future__ import annotations

import logging
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiToken

logger = logging.getLogger(__name__)


class PerTokenThrottle(SimpleRateThrottle):
    """`MBREAK_API_RATE` requests per token (per user for a browser session, per address for
    anonymous requests), counted in the shared cache. Over it: 429 with Retry-After."""

    scope = "token"

    def get_cache_key(self, request: Request, view: Any) -> str:
        if isinstance(request.auth, ApiToken):
            return f"throttle:token:{request.auth.pk}"
        if request.user and request.user.is_authenticated:
            return f"throttle:user:{request.user.pk}"
        return f"throttle:address:{self.get_ident(request)}"

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:
            # The cache (Redis) unreachable: answer rather than fail; the outage is logged.
            logger.warning("cache unreachable: API request not throttled", exc_info=True)
            return True
