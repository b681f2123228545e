"""Replays: a gate judged over its past releases, what-ifs with other settings, and applying them."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from mbreak.http import AuthenticatedHttpRequest
from metrics.access import get_gate_for_change, get_replay, get_replay_for_change
from metrics.exceptions import DomainError, NothingToReplay, ReplayNotFinished
from metrics.forms import ReplayForm, WhatIfForm
from metrics.models import Replay
from metrics.views.gates import render_gate
from predictor import charts


@require_POST
def replay_start(request: AuthenticatedHttpRequest, gate_id: int) -> HttpResponse:
    gate = get_gate_for_change(request.user, gate_id)
    form = ReplayForm(request.POST)
    if form.is_valid():
        since, until = form.range()
        try:
            replay = Replay.objects.start(gate, request.user, since=since, until=until)
        except ValidationError as error:  # the range ends before it starts
            form.refused(error)
        except NothingToReplay as error:
            form.refused(str(error))
        else:
            return redirect(replay)
    return render_gate(request, gate, form, status=400)


@require_safe
def replay_detail(request: AuthenticatedHttpRequest, replay_id: int) -> HttpResponse:
    replay = get_replay(request.user, replay_id)
    return render_replay(request, replay, WhatIfForm(replay, request.user))


def render_replay(
    request: AuthenticatedHttpRequest, replay: Replay, what_if_form: WhatIfForm, status: int = 200
) -> HttpResponse:
    """A replay's report (its job's progress until it ran), side by side with the replay it is
    compared with for a what-if; for the gate's owner, the what-if form and, on a what-if, Apply."""
    compared = replay.compared_with
    figures = replay.figures
    catch_bars = charts.minute_histogram(figures.caught_minutes)
    context = {
        "replay": replay,
        "gate": replay.gate,
        "job": replay.job,
        "figures": figures,
        "catch_bars": catch_bars,
        "most_caught": max((bar.count for bar in catch_bars), default=0),
        "replayed": replay.replayed.all() if replay.is_finished else (),
        "compared": compared,
        "compared_figures": compared.figures if compared is not None and compared.is_finished else None,
        "changes": replay.worded_changes(),
        "can_change": replay.can_change(request.user),
        "what_if_form": what_if_form,
    }
    return render(request, "metrics/replay_detail.html", context, status=status)


@require_POST
def replay_what_if(request: AuthenticatedHttpRequest, replay_id: int) -> HttpResponse:
    replay = get_replay_for_change(request.user, replay_id)
    if not replay.is_finished:  # its releases are those it replayed: none yet
        messages.error(request, str(ReplayNotFinished()))
        return redirect(replay)
    form = WhatIfForm(replay, request.user, request.POST)
    if form.is_valid():
        try:
            what_if = replay.what_if(request.user, form.changes())
        except ValidationError as error:
            form.refused(error)
        else:
            return redirect(what_if)
    return render_replay(request, replay, form, status=400)


@require_POST
def replay_apply(request: AuthenticatedHttpRequest, replay_id: int) -> HttpResponse:
    replay = get_replay_for_change(request.user, replay_id)
    try:
        change = replay.apply(request.user)
    except DomainError as refused:  # not finished, or the gate's metrics changed since
        messages.error(request, str(refused))
        return redirect(replay)
    count = len(change.differences())
    messages.success(
        request,
        ngettext(
            "The settings of replay %(number)s are now the gate's: %(count)s setting changed.",
            "The settings of replay %(number)s are now the gate's: %(count)s settings changed.",
            count,
        )
        % {"number": replay.pk, "count": count}
        if count
        else _("The gate already had the settings of replay %(number)s: nothing changed.") % {"number": replay.pk},
    )
    return redirect("metrics:gate", replay.gate_id)


@require_safe
def replay_timeline(request: AuthenticatedHttpRequest, replay_id: int, replayed_id: int) -> JsonResponse:
    """A replayed release's timeline chart, drawn when its reader opens it."""
    replay = get_replay(request.user, replay_id)
    return JsonResponse(get_object_or_404(replay.replayed, pk=replayed_id).timeline())
