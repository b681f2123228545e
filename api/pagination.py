from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class Pages(PageNumberPagination):
    """DRF's numbered pages, where `?page=` with no number is refused like any other bad page
    (DRF would answer the first page)."""

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        if request.query_params.get(self.page_query_param, None) == "":
            raise NotFound(_("Invalid page."))
        return super().get_page_number(request, paginator)
