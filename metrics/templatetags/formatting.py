from __future__ import annotations

from typing import TYPE_CHECKING

from django import template
from django.template.defaultfilters import floatformat

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from metrics.models import Indicator, Metric

register = template.Library()


@register.filter
def deletable_by(obj: Metric | Indicator, user: User | AnonymousUser) -> bool:
    """`{% if metric|deletable_by:user %}`: the model's own rule, not a copy in the template."""
    return obj.can_delete(user)


@register.filter
def percent(share: float | None, digits: int = 1) -> str:
    """0.8154 -> "81.5%" (localised decimal separator)."""
    if share is None:
        return ""
    return f"{floatformat(share * 100, digits)}%"


@register.filter
def number(value: float | None) -> str:
    """A measured number as typed: 500.0 -> "500", 873.63 -> "873.63" (up to 6 decimals, localised)."""
    if value is None:
        return ""
    fraction = f"{float(value):.6f}".rstrip("0").split(".")[1]
    return floatformat(value, len(fraction))
