"""What the commands share: finding the metric and the user a command line names."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.management.base import CommandError

from metrics.models import Metric


def metric_named(reference: str) -> Metric:
    found = list(Metric.objects.named(reference).select_related("owner")[:10])
    if not found:
        raise CommandError(f"No metric {reference!r}: give its id or its name (see the metric list).")
    if len(found) > 1:
        choices = ", ".join(f"{metric.pk} ({metric.name}/{metric.category})" for metric in found)
        raise CommandError(f"{reference!r} names several metrics: {choices}. Give the id, or name/category.")
    return found[0]


def user_named(username: str) -> User:
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise CommandError(f"No user named {username!r}.") from None
