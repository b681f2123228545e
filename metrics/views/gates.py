from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from mbreak.http import AuthenticatedHttpRequest
from metrics.access import get_gate, get_gate_for_change
from metrics.forms import GateForm, GateMetricFormSet, ReplayForm
from metrics.models import Delivery, Gate, Job, Release, Replay
from metrics.models.notification import RECENT_DELIVERIES

# The replays, and the settings changes applied from them, the gate page lists.
RECENT_REPLAYS = 20


@require_safe
def gate_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    gates = Gate.objects.select_related("owner").prefetch_related("gate_metrics__metric")
    return render(request, "metrics/gate_list.html", {"gates": gates})


@require_safe
def gate_detail(request: AuthenticatedHttpRequest, gate_id: int) -> HttpResponse:
    return render_gate(request, get_gate(request.user, gate_id), ReplayForm())


def render_gate(
    request: AuthenticatedHttpRequest, gate: Gate, replay_form: ReplayForm, status: int = 200
) -> HttpResponse:
    """The gate page: its metrics, track record, releases and replays (with the replay form,
    bound when it was refused), and, for its owner, its webhooks."""
    can_change = gate.can_change(request.user)
    replays = list(
        Replay.objects.of_gate(gate)
        .select_related("compared_with")
        .prefetch_related(Prefetch("jobs", queryset=Job.objects.order_by("-created_at", "-pk")))[:RECENT_REPLAYS]
    )
    context = {
        "gate": gate,
        "gate_metrics": gate.gate_metrics.select_related("metric"),
        "releases": Release.objects.filter(gate=gate).select_related("created_by")[:50],
        "can_change": can_change,
        "track_record": gate.track_record,
        "replays": replays,
        "replays_running": any(not replay.is_finished for replay in replays),
        "replay_form": replay_form,
        "gate_changes": gate.changes.select_related("changed_by", "replay")[:RECENT_REPLAYS],
    }
    if can_change:  # a gate's webhooks and what they were sent are its owner's alone
        context["webhooks"] = gate.webhooks.all()
        context["deliveries"] = Delivery.objects.filter(webhook__gate=gate).logged()[:RECENT_DELIVERIES]
    return render(request, "metrics/gate_detail.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
def gate_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    return edit(request, Gate(owner=request.user))


@require_http_methods(["GET", "HEAD", "POST"])
def gate_edit(request: AuthenticatedHttpRequest, gate_id: int) -> HttpResponse:
    if request.method == "POST":
        # Checked and saved with the gate locked: a second submit at once (a double click,
        # another tab) is checked against what the first saved.
        with transaction.atomic():
            return edit(request, get_gate_for_change(request.user, gate_id, lock=True))
    return edit(request, get_gate_for_change(request.user, gate_id))


def edit(request: AuthenticatedHttpRequest, gate: Gate) -> HttpResponse:
    """The gate editor: its name, its two scores and its metrics, saved together or not at all."""
    creating = gate.pk is None
    form = GateForm(request.POST or None, instance=gate, localize_numbers=True)
    metrics = GateMetricFormSet(
        request.POST or None, instance=gate, prefix="metrics", form_kwargs={"localize_numbers": True}
    )
    if request.method == "POST":
        if form.is_valid() and metrics.is_valid():
            with transaction.atomic():
                gate = form.save()
                metrics.instance = gate
                metrics.save()
            if creating:
                messages.success(request, _("Gate “%(name)s” created.") % {"name": gate.name})
            else:
                messages.success(request, _("Gate “%(name)s” saved.") % {"name": gate.name})
            return redirect("metrics:gate", gate.pk)
        status = 400
    else:
        status = 200
    context = {"form": form, "metrics": metrics, "gate": gate, "creating": creating}
    return render(request, "metrics/gate_form.html", context, status=status)


@require_POST
def gate_delete(request: AuthenticatedHttpRequest, gate_id: int) -> HttpResponse:
    gate = get_gate_for_change(request.user, gate_id)
    releases = gate.releases.count()
    gate.delete()
    messages.success(
        request,
        ngettext(
            "Gate “%(name)s” and its %(count)d release were deleted.",
            "Gate “%(name)s” and its %(count)d releases were deleted.",
            releases,
        )
        % {"name": gate.name, "count": releases},
    )
    return redirect("metrics:gates")
