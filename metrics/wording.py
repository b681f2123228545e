"""Text that can be worded again in another language: what a job words as it runs (why an
upload was refused, line by line) is stored with its message ids and values, so that each
reader reads it in their own language, whatever the language of the page that sent the file.

`gettext` and `ngettext` here are Django's, but what they return (and what `%` makes of it)
is a `Worded`: a plain string in the active language that also remembers how it was made.
Pure: no model, no request.
"""

from __future__ import annotations

import math
from typing import Any

from django.utils import translation
from django.utils.formats import number_format


class Worded(str):
    """A string in the active language, with its message id (and plural and count) and the
    values put into it, to word it again later (`as_json`, then `word_again`)."""

    msgid: str
    msgid_plural: str
    number: int | None  # what chose the plural
    values: dict[str, Any] | None

    def __new__(
        cls, text: str, singular: str, plural: str = "", count: int | None = None, values: dict[str, Any] | None = None
    ) -> Worded:
        worded = super().__new__(cls, text)
        worded.msgid, worded.msgid_plural, worded.number, worded.values = singular, plural, count, values
        return worded

    def __mod__(self, values: Any) -> str:
        formatted = str.__mod__(self, values)
        if not isinstance(values, dict):
            return formatted
        return Worded(formatted, self.msgid, self.msgid_plural, self.number, values)

    def as_json(self) -> dict[str, Any]:
        values = None if self.values is None else {name: _as_json(value) for name, value in self.values.items()}
        return {"msgid": self.msgid, "plural": self.msgid_plural, "count": self.number, "values": values}


class Grouped(int):
    """A whole number shown with the reader's thousands separator (10,000 / 10.000), as a
    value of a `Worded`: kept as the number, and grouped again in each reader's language
    (grouped once and stored as text, "10,000" read as ten in Portuguese)."""

    def __str__(self) -> str:
        return number_format(int(self), force_grouping=True)


def gettext(message: str) -> Worded:
    return Worded(translation.gettext(message), message)


def ngettext(singular: str, plural: str, count: int) -> Worded:
    return Worded(translation.ngettext(singular, plural, count), singular, plural, count)


def as_stored(text: str) -> dict[str, Any] | None:
    """How `text` can be worded again (for a JSON field); None for text that cannot."""
    return text.as_json() if isinstance(text, Worded) else None


def word_again(stored: dict[str, Any] | None, fallback: str) -> str:
    """What `as_stored` kept, in the active language; `fallback` (the text as it was worded
    then) when nothing was kept (stored before) or it no longer fits the catalogue."""
    if not stored:
        return fallback
    try:
        return _word(stored)
    except (KeyError, TypeError, ValueError):
        return fallback


def _word(stored: dict[str, Any]) -> str:
    if stored["plural"]:
        text = translation.ngettext(stored["msgid"], stored["plural"], stored["count"])
    else:
        text = translation.gettext(stored["msgid"])
    values = stored["values"]
    if values is None:
        return text
    return text % {name: _value(value) for name, value in values.items()}


def _value(stored: Any) -> Any:
    if not isinstance(stored, dict):
        return stored
    if "grouped" in stored:
        return Grouped(stored["grouped"])
    return _word(stored["worded"])


def _as_json(value: Any) -> Any:
    if isinstance(value, Worded):
        return {"worded": value.as_json()}
    if isinstance(value, Grouped):
        return {"grouped": int(value)}
    if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return str(value)  # an exception's text, a file's cell: as it was
