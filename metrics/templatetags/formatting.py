"""`{% load formatting %}`: the plain wording functions of `metrics.formatting` as filters, and the
filters that only templates need. No rule or wording lives here."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django import template

from metrics import formatting

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from metrics.models import ImportBatch, Indicator, Metric

register = template.Library()

register.filter("percent", formatting.percent)
register.filter("number", formatting.number)
register.filter("grouped", formatting.grouped)
register.filter("ago", formatting.ago)
register.filter("minutes", formatting.minutes)
register.filter("rule_text", formatting.rule_text)


@register.filter
def deletable_by(obj: Metric | Indicator, user: User | AnonymousUser) -> bool:
    """`{% if metric|deletable_by:user %}`: the model's own rule, not a copy in the template."""
    return obj.can_delete(user)


@register.filter
def undoable_by(batch: ImportBatch, user: User | AnonymousUser) -> bool:
    return batch.can_undo(user)


@register.filter
def iso_datetime(text: str) -> datetime:
    """A datetime stored as ISO text (in a JSON field) back as a datetime, for the `date` filter."""
    return datetime.fromisoformat(text)
