"""A gate's webhooks and their delivery log: its owner's alone (anyone else gets a 404 for a
webhook, and a 403 for adding one to a gate they may read but not change)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from mbreak.http import AuthenticatedHttpRequest, redirect_back
from metrics.access import get_delivery, get_gate_for_change, get_webhook
from metrics.forms import WebhookForm
from metrics.models import SecretUnreadable, Webhook

DELIVERIES_PER_PAGE = 25


@require_safe
def webhook_detail(request: AuthenticatedHttpRequest, webhook_id: int) -> HttpResponse:
    webhook = get_webhook(request.user, webhook_id)
    try:
        secret = webhook.read_secret()
    except SecretUnreadable:
        secret = ""
    page = Paginator(webhook.deliveries.logged(), DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    context = {"webhook": webhook, "gate": webhook.gate, "secret": secret, "page": page}
    return render(request, "metrics/webhook_detail.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
def webhook_create(request: AuthenticatedHttpRequest, gate_id: int) -> HttpResponse:
    return edit(request, Webhook(gate=get_gate_for_change(request.user, gate_id)))


@require_http_methods(["GET", "HEAD", "POST"])
def webhook_edit(request: AuthenticatedHttpRequest, webhook_id: int) -> HttpResponse:
    if request.method == "POST":
        # Saved with the row locked: a webhook deleted meanwhile is a 404, not saved back.
        with transaction.atomic():
            return edit(request, get_webhook(request.user, webhook_id, lock=True))
    return edit(request, get_webhook(request.user, webhook_id))


def edit(request: AuthenticatedHttpRequest, webhook: Webhook) -> HttpResponse:
    creating = webhook.pk is None
    form = WebhookForm(request.POST or None, instance=webhook)
    if request.method == "POST" and form.is_valid():
        webhook = form.save()
        if creating:
            message = _("Webhook added. Give its secret to the receiver, to verify each message's signature.")
        else:
            message = _("Webhook saved.")
        messages.success(request, message)
        return redirect("metrics:webhook", webhook.pk)
    context = {"form": form, "webhook": webhook, "gate": webhook.gate, "creating": creating}
    return render(request, "metrics/webhook_form.html", context, status=400 if request.method == "POST" else 200)


@require_POST
def webhook_delete(request: AuthenticatedHttpRequest, webhook_id: int) -> HttpResponse:
    webhook = get_webhook(request.user, webhook_id)
    webhook.delete()
    messages.success(request, _("Webhook “%(name)s” and its delivery log were deleted.") % {"name": webhook})
    return redirect("metrics:gate", webhook.gate_id)


@require_POST
def webhook_new_secret(request: AuthenticatedHttpRequest, webhook_id: int) -> HttpResponse:
    with transaction.atomic():
        webhook = get_webhook(request.user, webhook_id, lock=True)
        webhook.new_secret()
        webhook.save(update_fields=["secret"])
    messages.success(request, _("A new secret signs every message from now on: give it to the receiver."))
    return redirect("metrics:webhook", webhook.pk)


@require_POST
def delivery_send_again(request: AuthenticatedHttpRequest, delivery_id: int) -> HttpResponse:
    delivery = get_delivery(request.user, delivery_id)
    delivery.send_again()
    messages.success(request, _("Sent again: the same message, signed anew."))
    return redirect_back(request, delivery.webhook.get_absolute_url())
