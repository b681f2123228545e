from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
from django import template
from django.template.defaultfilters import floatformat
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from predictor.explain import Condition

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from metrics.models import ImportBatch, Indicator, Metric

register = template.Library()


@register.filter
def deletable_by(obj: Metric | Indicator, user: User | AnonymousUser) -> bool:
    """`{% if metric|deletable_by:user %}`: the model's own rule, not a copy in the template."""
    return obj.can_delete(user)


@register.filter
def undoable_by(batch: ImportBatch, user: User | AnonymousUser) -> bool:
    return batch.can_undo(user)


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
    if not math.isfinite(value):  # never stored by the forms; shown rather than failing the page
        return "—" if math.isnan(value) else ("∞" if value > 0 else "−∞")
    fraction = f"{float(value):.6f}".rstrip("0").split(".")[1]
    return floatformat(value, len(fraction))


@register.filter
def grouped(count: int | None) -> str:
    """A count with the language's thousands separator: 120000 -> "120,000" (en), "120.000" (pt-BR).

    Only for text people read: never for a form value, a URL, a data attribute or JSON."""
    if count is None:
        return ""
    return number_format(count, force_grouping=True)


@register.filter
def ago(moment: datetime | None) -> str:
    """How long ago, in words: "just now" under a minute, else "5 minutes ago"."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(moment)}


@register.filter
def minutes(value: float | None) -> str:
    """Minutes as people say them: 0.4 -> "under 1 min", 12.48 -> "12 min", 125 -> "2 h 5 min",
    3000 -> "2 d 2 h" (whole minutes, rounded down: 59.9 is not yet an hour)."""
    if value is None or not math.isfinite(value):
        return "" if value is None else number(value)
    if value < 1:
        return _("under 1 min")
    whole = int(value)
    days, hours, mins = whole // 1440, whole % 1440 // 60, whole % 60
    if days:
        return _("%(days)s d %(hours)s h") % {"days": grouped(days), "hours": hours}
    if hours:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": mins}
    return _("%(minutes)s min") % {"minutes": mins}


def threshold(value: float) -> str:
    """A split point as people write it: the fewest significant digits (four at least) that
    split numbers as the tree does. The tree compares each number as a 32-bit float with
    `value`; the number shown, read as a 32-bit float, must be the largest one at or below
    `value`, so that a number is "at most" it exactly when the tree sends it left
    (1000.1000061 -> "1000.1", 12345.5 -> "12345.5", never "12346": 12346 goes right)."""
    if value == 0 or not math.isfinite(value):
        return number(value)
    below = np.float32(value)
    if float(below) > value:  # compared as 64-bit floats (NumPy would round `value` to 32 bits)
        below = np.nextafter(below, np.float32(-np.inf))
    for digits in range(4, 10):
        text = f"{value:.{digits}g}"
        if np.float32(float(text)) == below:
            break
    else:
        text = repr(float(below))
    # As many decimals as those digits need (0.000123456 keeps its 6), in the reader's language.
    plain = format(Decimal(text), "f")
    return floatformat(float(text), len(plain.partition(".")[2]))


def _condition_text(condition: Condition) -> str:
    low = None if condition.lower is None else threshold(condition.lower)
    high = None if condition.upper is None else threshold(condition.upper)
    if condition.feature == "value":
        if low is not None and high is not None:
            return _("value above %(low)s and at most %(high)s") % {"low": low, "high": high}
        if low is not None:
            return _("value above %(low)s") % {"low": low}
        return _("value at most %(high)s") % {"high": high}
    if low is not None and high is not None:
        return _("time above %(low)s and at most %(high)s minutes") % {"low": low, "high": high}
    if low is not None:
        return _("time above %(low)s minutes") % {"low": low}
    return _("time at most %(high)s minutes") % {"high": high}


@register.filter
def rule_text(conditions: Sequence[Condition]) -> str:
    """The path to a leaf in words: "value above 449.6 and time at most 9.5 minutes"."""
    parts = [_condition_text(condition) for condition in conditions]
    if not parts:
        return _("any value at any time")
    if len(parts) == 1:
        return parts[0]
    return _("%(first)s and %(second)s") % {"first": parts[0], "second": parts[1]}


@register.filter
def iso_datetime(text: str) -> datetime:
    """A datetime stored as ISO text (in a JSON field) back as a datetime, for the `date` filter."""
    return datetime.fromisoformat(text)
