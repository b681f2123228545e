"""Log records as one JSON object a line, for Elastic Beanstalk's (or any) log collection."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from django.http import HttpRequest

# Attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({key: _loggable(value) for key, value in record.__dict__.items() if key not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def _loggable(value: object) -> object:
    """A request (Django's error log passes it along) as its method and path: its query string
    may hold what a client should not have put there (a token, a password), and logs are
    kept and read by more people than the database."""
    if isinstance(value, HttpRequest):
        return f"{value.method} {value.path}"
    return value
