from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from mbreak.http import AuthenticatedHttpRequest
from metrics.access import get_release
from metrics.models.gate import HISTORY_POINTS


@require_safe
def release_detail(request: AuthenticatedHttpRequest, release_id: int) -> HttpResponse:
    """A release's verdict now and per metric; how its bound metrics are pulled from their data
    sources; over time (each verdict a pipeline was answered, per metric too); and its observations."""
    release = get_release(request.user, release_id)
    observations = release.observations.select_related("metric", "verdict", "verdict__asked_by").order_by(
        "-observed_at", "-pk"
    )
    now = timezone.now()
    context = {
        "release": release,
        "now": now,
        "pulled_metrics": release.pulled_metrics(now, request.user) if release.is_pulled else None,
        "next_pull_words": release.next_pull_words(now),
        "verdict": release.verdict(),
        "history": release.history(),
        "history_points": HISTORY_POINTS,
        "observations": observations,
    }
    return render(request, "metrics/release_detail.html", context)
