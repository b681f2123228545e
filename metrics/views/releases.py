from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from mbreak.http import AuthenticatedHttpRequest
from metrics.access import get_release, get_release_for_outcome
from metrics.exceptions import OutcomeRefused
from metrics.formatting import grouped
from metrics.forms import OutcomeForm
from metrics.models import Outcome, OutcomeVia, Release
from metrics.models.gate import HISTORY_POINTS


@require_safe
def release_detail(request: AuthenticatedHttpRequest, release_id: int) -> HttpResponse:
    """A release's verdict now and per metric; what the team did in the end (its outcome) and
    whether the gate was right; how its bound metrics are pulled from their data sources; over
    time (each verdict a pipeline was answered, per metric too); and its observations."""
    return render_release(request, get_release(request.user, release_id), OutcomeForm())


def render_release(
    request: AuthenticatedHttpRequest, release: Release, outcome_form: OutcomeForm, status: int = 200
) -> HttpResponse:
    observations = release.observations.select_related("metric", "verdict", "verdict__asked_by").order_by(
        "-observed_at", "-pk"
    )
    now = timezone.now()
    labels = release.outcome_labels
    context = {
        "release": release,
        "now": now,
        "pulled_metrics": release.pulled_metrics(now, request.user) if release.is_pulled else None,
        "next_pull_words": release.next_pull_words(now),
        "verdict": release.verdict(),
        "history": release.history(),
        "history_points": HISTORY_POINTS,
        "observations": observations,
        "outcome_form": outcome_form,
        # Recording the first outcome: the gate's owner or whoever opened the release; changing it: the owner.
        "shows_outcome_form": release.can_record_outcome(request.user)
        and (not release.outcome or release.gate.can_change(request.user)),
        "other_outcome": (Outcome.ROLLOUT if release.outcome == Outcome.ROLLBACK else Outcome.ROLLBACK)
        if release.outcome
        else "",
        "outcome_changes": release.outcome_changes.select_related("recorded_by") if release.outcome else (),
        "labels": labels,
        "can_undo_labels": labels is not None and labels.can_undo(request.user),
        "fills_that_may_count_it_twice": release.fills_that_may_count_it_twice(),
    }
    return render(request, "metrics/release_detail.html", context, status=status)


@require_POST
def release_outcome(request: AuthenticatedHttpRequest, release_id: int) -> HttpResponse:
    release = get_release_for_outcome(request.user, release_id)
    form = OutcomeForm(request.POST)
    if not form.is_valid():
        return render_release(request, release, form, status=400)
    try:
        changed = release.record_outcome(
            form.cleaned_data["outcome"], request.user, via=OutcomeVia.PAGE, note=form.cleaned_data["note"]
        )
    except OutcomeRefused as refused:  # an outcome is recorded already, and changing it is the owner's
        raise PermissionDenied(str(refused)) from None
    outcome = release.get_outcome_display().lower()
    if changed:
        said = _("Recorded: the release was %(outcome)s.") % {"outcome": outcome}
        if (labels := release.outcome_labels) is not None:
            said += " " + ngettext(
                "Its %(count)s observation is now a labelled indicator for the next training.",
                "Its %(count)s observations are now labelled indicators for the next training.",
                labels.rows,
            ) % {"count": grouped(labels.rows)}
        messages.success(request, said)
    else:
        messages.info(
            request, _("The release was already recorded as %(outcome)s: nothing changed.") % {"outcome": outcome}
        )
    return redirect(release)
