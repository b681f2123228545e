"""Numbers, durations and decision rules as people read them, in the reader's language.

Plain functions: the models, forms, admin, views and API word their figures with them, and the
`formatting` template tag library only registers them as filters."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.template.defaultfilters import floatformat
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.timesince import timesince
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from predictor.explain import Condition, WrittenSplit, written_split


def percent(share: float | None, digits: int = 1) -> str:
    """0.8154 -> "81.5%" (localised decimal separator)."""
    if share is None:
        return ""
    return f"{floatformat(share * 100, digits)}%"


def number(value: float | None) -> str:
    """A measured number as typed: 500.0 -> "500", 873.63 -> "873.63" (up to 6 decimals, localised)."""
    if value is None:
        return ""
    if not math.isfinite(value):  # never stored by the forms; shown rather than failing the page
        return "—" if math.isnan(value) else ("∞" if value > 0 else "−∞")
    fraction = f"{float(value):.6f}".rstrip("0").split(".")[1]
    return floatformat(value, len(fraction))


def grouped(count: int | None) -> str:
    """A count with the language's thousands separator: 120000 -> "120,000" (en), "120.000" (pt-BR).

    Only for text people read: never for a form value, a URL, a data attribute or JSON."""
    if count is None:
        return ""
    return number_format(count, force_grouping=True)


def ago(moment: datetime | None) -> str:
    """How long ago, in words: "just now" under a minute, else "5 minutes ago"."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(moment)}


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


def threshold(split: WrittenSplit) -> str:
    """A split point as people write it (`explain.written_split`), in the reader's language:
    "449.6" in English, "449,6" in Portuguese."""
    return floatformat(split.number, len(split.text.partition(".")[2]))


def _bound_text(split: WrittenSplit, *, is_lower: bool) -> str:
    # Each number on the tree's side: the written number itself goes left or right.
    if is_lower:
        return (_("above %(number)s") if split.goes_left else _("at least %(number)s")) % {"number": threshold(split)}
    return (_("at most %(number)s") if split.goes_left else _("below %(number)s")) % {"number": threshold(split)}


def _condition_text(condition: Condition) -> str:
    bounds = [
        _bound_text(written_split(bound), is_lower=is_lower)
        for bound, is_lower in ((condition.lower, True), (condition.upper, False))
        if bound is not None
    ]
    if len(bounds) == 2:
        if condition.feature == "value":
            return _("value %(low)s and %(high)s") % {"low": bounds[0], "high": bounds[1]}
        return _("time %(low)s and %(high)s minutes") % {"low": bounds[0], "high": bounds[1]}
    if condition.feature == "value":
        return _("value %(bound)s") % {"bound": bounds[0]}
    return _("time %(bound)s minutes") % {"bound": bounds[0]}


def rule_text(conditions: Sequence[Condition]) -> str:
    """The path to a leaf in words: "value above 449.6 and time at most 9.5 minutes".

    Worded once per path and language in a process: every verdict of a leaf has the same
    path, and wording its numbers cost a tenth of a verdict's answer."""
    return _worded_rule(tuple(conditions), get_language())


@functools.lru_cache(maxsize=1024)
def _worded_rule(conditions: tuple[Condition, ...], _language: str | None) -> str:
    parts = [_condition_text(condition) for condition in conditions]
    if not parts:
        return _("any value at any time")
    if len(parts) == 1:
        return parts[0]
    return _("%(first)s and %(second)s") % {"first": parts[0], "second": parts[1]}
