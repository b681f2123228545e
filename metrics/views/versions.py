from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from mbreak.http import AuthenticatedHttpRequest
from metrics.access import get_metric_for_settings, get_trained_model, get_trained_model_for_activation
from metrics.exceptions import ModelUnusable
from metrics.models.verdict import Rule


@require_safe
def model_card(request: AuthenticatedHttpRequest, model_id: int) -> HttpResponse:
    model = get_trained_model(request.user, model_id)
    rules: list[Rule] = []
    refused: ModelUnusable | None = None
    try:
        rules = model.tree_rules()
    except ModelUnusable as unusable:
        refused = unusable
    return render(
        request,
        "metrics/model_card.html",
        {
            "model": model,
            "metric": model.metric,
            "rules": rules,
            "version_reasons": model.verdict_reason_texts(),
            "refused": refused,
            "can_change_settings": model.metric.can_change_settings(request.user),
        },
    )


@require_POST
def activate(request: AuthenticatedHttpRequest, model_id: int) -> HttpResponse:
    model = get_trained_model_for_activation(request.user, model_id)
    try:
        model.metric.activate(model, pin=True)
    except ModelUnusable as unusable:
        messages.error(request, str(unusable))
    else:
        messages.success(
            request,
            _("Version %(version)d now answers for “%(name)s”, pinned: later trainings will not replace it.")
            % {"version": model.version, "name": model.metric.name},
        )
    return redirect(model.metric)


@require_POST
def unpin(request: AuthenticatedHttpRequest, metric_id: int) -> HttpResponse:
    metric = get_metric_for_settings(request.user, metric_id)
    metric.unpin()
    messages.success(
        request,
        _("“%(name)s” is unpinned: the next training that is not worse will answer.") % {"name": metric.name},
    )
    return redirect(metric)
