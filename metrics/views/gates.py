from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from mbreak.http import AuthenticatedHttpRequest
from metrics.access import get_gate, get_gate_for_change
from metrics.forms import GateForm, GateMetricFormSet
from metrics.models import Gate, Release


@require_safe
def gate_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    gates = Gate.objects.select_related("owner").prefetch_related("gate_metrics__metric")
    return render(request, "metrics/gate_list.html", {"gates": gates})


@require_safe
def gate_detail(request: AuthenticatedHttpRequest, gate_id: int) -> HttpResponse:
    gate = get_gate(request.user, gate_id)
    context = {
        "gate": gate,
        "gate_metrics": gate.gate_metrics.select_related("metric"),
        "releases": Release.objects.filter(gate=gate).select_related("created_by")[:50],
        "can_change": gate.can_change(request.user),
        "track_record": gate.track_record,
    }
    return render(request, "metrics/gate_detail.html", context)


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
