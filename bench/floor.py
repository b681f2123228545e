"""The floor of a verdict: what any endpoint that logs a verdict must do, and nothing more.

This module is also the benchmark's URLconf (production's URLs and the floor), selected by
`bench/settings.py` only: production's URLs and the API schema do not have the floor.
`bench/api_verdicts.py` compares the verdict endpoint with it. Like the verdict,
it authenticates the token and counts the request (the API's default authentication,
permission and throttle classes), reads the observation sent and the metric through the one
access helper (404/403), and stores one verdict-sized row; it answers a small JSON object.
It judges nothing: the row it stores is a copy of one of the metric's verdicts, so its
INSERT writes what a verdict's does (the same table, indexes and JSON sizes), without a
migration of its own.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.urls import path
from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from api.views.common import Conflict, UnderMetric, caller, request_body
from mbreak.urls import handler400, handler500
from mbreak.urls import urlpatterns as app_urlpatterns
from metrics.models import Verdict

__all__ = ["VerdictFloor", "handler400", "handler500", "urlpatterns"]


@functools.lru_cache(maxsize=16)
def verdict_row(metric_id: int) -> dict[str, Any] | None:
    """The columns of the metric's first verdict, read once per process (as a verdict reads its
    version once): copying it costs the floor no query beyond its INSERT."""
    row = Verdict.objects.filter(metric_id=metric_id).order_by("pk").values().first()
    return None if row is None else dict(row)


class VerdictFloor(UnderMetric):
    def post(self, request: Request, metric_id: int) -> Response:
        observation = request_body(request)
        metric = self.metric()
        row = verdict_row(metric.pk)
        if row is None:
            raise Conflict("Ask the metric for one verdict first: the floor stores a copy of it.")
        fields = {name: value for name, value in row.items() if name != "id"}
        fields.update(
            value=observation.get("value"),
            minutes=observation.get("minutes"),
            asked_by_id=caller(request).pk,
            asked_at=timezone.now(),
        )
        verdict = Verdict.objects.create(**fields)
        return Response({"id": verdict.pk}, status=status.HTTP_201_CREATED)


urlpatterns = [
    # Under /api/, as the verdict: the same middleware treats both alike.
    path("api/bench/metrics/<int:metric_id>/floor/", login_not_required(VerdictFloor.as_view()), name="bench_floor"),
    *app_urlpatterns,
]
