"""What the commands share: finding the metric, the gate and the user a command line names."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.management.base import CommandError

from metrics.models import Gate, Metric
from metrics.models.metric import LARGEST_ID


def metric_named(reference: str) -> Metric:
    found = list(Metric.objects.named(reference).select_related("owner")[:10])
    if not found:
        raise CommandError(f"No metric {reference!r}: give its id or its name (see the metric list).")
    if len(found) > 1:
        choices = ", ".join(f"{metric.pk} ({metric.name}/{metric.category})" for metric in found)
        raise CommandError(f"{reference!r} names several metrics: {choices}. Give the id, or name/category.")
    return found[0]


def gate_named(reference: str) -> Gate:
    """The gate a command line names: its id (ASCII digits, when a gate has it), else its exact name."""
    text = reference.strip()
    if text.isascii() and text.isdigit() and int(text) <= LARGEST_ID:
        by_id = Gate.objects.select_related("owner").filter(pk=int(text)).first()
        if by_id is not None:
            return by_id
    found = list(Gate.objects.select_related("owner").filter(name=text).order_by("pk")[:10])
    if not found:
        raise CommandError(f"No gate {reference!r}: give its id or its exact name (see the gate list).")
    if len(found) > 1:
        choices = ", ".join(f"{gate.pk} (of {gate.owner.get_username()})" for gate in found)
        raise CommandError(f"{reference!r} names several gates: {choices}. Give the id.")
    return found[0]


def user_named(username: str) -> User:
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise CommandError(f"No user named {username!r}.") from None
