from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, NamedTuple

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from metrics.models.metric import LARGEST_ID


class Pages(PageNumberPagination):
    """DRF's numbered pages, where `?page=` with no number is refused like any other bad page
    (DRF would answer the first page)."""

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        if request.query_params.get(self.page_query_param, None) == "":
            raise NotFound(_("Invalid page."))
        return super().get_page_number(request, paginator)


class NewestFirst(BasePagination):
    """Pages of rows newest first, by (`created_at`, `pk`), with `next` and `previous` links
    whose cursor is the row a page ended (or began) with.

    Each row is listed once whatever the number of rows sharing a time (an import stores
    thousands at the same instant), and a page costs one indexed query at any depth.

    Why not DRF's `CursorPagination` (tried against tests/api/test_api_data.py):
    - ordered by (`-created_at`, `-pk`), it positions on the first field only and steps over
      ties with an offset, capped at 1,000: past a thousand rows of one import, `next` led to
      the same page forever (the 1,280-row test fails);
    - ordered by the unique `-pk` alone, it gives the same pages in that test, but it is not
      the same order wherever a row's time and id disagree, and it cannot use the
      (`metric`, `-created_at`, `-id`) index: a metric's page then sorts all its rows, or
      walks every metric's ids; and a made-up cursor answers a 500 ("p=garbage") or the first
      page instead of a 404, which a subclass would have to decode by hand again.
    """

    page_size = 100
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset: QuerySet[Any], request: Request, view: Any = None) -> list[Any]:
        self.base_url = request.build_absolute_uri()
        cursor = self._decode(request)
        if cursor is None:
            rows = list(queryset.order_by("-created_at", "-pk")[: self.page_size + 1])
            self.has_previous, self.has_next = False, len(rows) > self.page_size
            rows = rows[: self.page_size]
        elif cursor.backwards:
            newer = Q(created_at__gt=cursor.created_at) | Q(created_at=cursor.created_at, pk__gt=cursor.pk)
            rows = list(queryset.filter(newer).order_by("created_at", "pk")[: self.page_size + 1])
            self.has_previous, self.has_next = len(rows) > self.page_size, True
            rows = rows[: self.page_size][::-1]
        else:
            older = Q(created_at__lt=cursor.created_at) | Q(created_at=cursor.created_at, pk__lt=cursor.pk)
            rows = list(queryset.filter(older).order_by("-created_at", "-pk")[: self.page_size + 1])
            self.has_previous, self.has_next = True, len(rows) > self.page_size
            rows = rows[: self.page_size]
        # The links: from the first row back, and from the last row on.
        if rows:
            self.first: _Cursor | None = _Cursor(True, rows[0].created_at, rows[0].pk)
            self.last: _Cursor | None = _Cursor(False, rows[-1].created_at, rows[-1].pk)
        else:  # back from where the cursor was
            self.first, self.last = (cursor._replace(backwards=True) if cursor else None), None
        return rows

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_next_link(self) -> str | None:
        return self._link(self.last) if self.has_next and self.last is not None else None

    def get_previous_link(self) -> str | None:
        return self._link(self.first) if self.has_previous and self.first is not None else None

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The cursor of a `next` or `previous` link.",
                "schema": {"type": "string"},
            }
        ]

    def _link(self, cursor: _Cursor) -> str:
        text = f"{'b' if cursor.backwards else 'a'}|{cursor.created_at.isoformat()}|{cursor.pk}"
        encoded = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
        return replace_query_param(self.base_url, self.cursor_query_param, encoded)

    def _decode(self, request: Request) -> _Cursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            text = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("ascii")
            direction, moment, pk = text.split("|")
            created_at = datetime.fromisoformat(moment)
            if direction not in ("a", "b") or created_at.tzinfo is None or not pk.isascii() or not pk.isdigit():
                raise ValueError(text)
            if int(pk) > LARGEST_ID:
                raise ValueError(text)
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise NotFound(_("Invalid cursor.")) from None
        return _Cursor(direction == "b", created_at, int(pk))


class _Cursor(NamedTuple):
    backwards: bool  # the page before the row, rather than the one after it
    created_at: datetime
    pk: int
