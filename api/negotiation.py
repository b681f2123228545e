"""Which renderer answers: the one the Accept header asks for, else the view's first."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class FirstRendererOtherwise(DefaultContentNegotiation):
    """DRF refuses with 406 an Accept header that none of the view's renderers matches, and
    before anything else: a browser's `text/html`, or `application/problem+json` on a
    request that succeeds, hid the 401 or 404 the request deserved. HTTP lets a server
    answer in its own type instead (RFC 9110, 12.5.1), which a client can check."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        try:
            return super().select_renderer(request, renderers, format_suffix)  # type: ignore[no-any-return]
        except NotAcceptable:
            first = next(iter(renderers))
            return first, str(first.media_type)
