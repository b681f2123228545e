from django import template
from django.template.defaultfilters import floatformat

register = template.Library()


@register.filter
def percent(share: float | None, digits: int = 1) -> str:
    """0.8154 -> "81.5%" (localised decimal separator)."""
    if share is None:
        return ""
    return f"{floatformat(share * 100, digits)}%"


@register.filter
def number(value: float | None) -> str:
    """A measured number without a pointless ".0": 500.0 -> "500", 1.25 -> "1.25"."""
    if value is None:
        return ""
    if float(value).is_integer():
        return floatformat(value, 0)
    return floatformat(value, -4)
