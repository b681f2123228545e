"""Webhook receivers over HTTP: the one place that signs a body and POSTs it.

Pure (no Django, no model): the domain (`metrics.models.notification`) decides what to send,
when, and what an answer means for the next attempt. The signature is Stripe's scheme: an
HMAC-SHA256, with the webhook's secret, of the sending time and the exact body, so that a
receiver can tell the message is ours, unchanged, and recent.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

import requests

from stores.errors import caused_by

SIGNATURE_HEADER = "Mbreak-Signature"
EVENT_HEADER = "Mbreak-Event"
DELIVERY_HEADER = "Mbreak-Delivery"
USER_AGENT = "MakeOrBreak/1 (webhooks)"
# What is kept of a receiver's answer to a refused message: enough to read its complaint
# (Slack answers "invalid_payload" or "no_service"), short enough for the delivery log.
ANSWER_CHARS = 200
# The statuses worth trying again besides every 5xx: a receiver that timed out reading the
# request, or asks us to slow down. Any other 4xx would be refused again.
RETRIED_STATUSES = frozenset({408, 429})
# The longest wait a receiver's Retry-After is granted, in seconds: a longer one (a year, a
# number of 20 digits, a date in the year 9999) is waited this long.
LONGEST_RETRY_AFTER_SECONDS = 60 * 60
# Retry-After's seconds: ASCII digits only (str.isdigit also takes "²" and other scripts' digits).
_SECONDS = re.compile(r"[0-9]+")


class Failure(StrEnum):
    """Why no HTTP status came back."""

    TIMEOUT = "timeout"  # connected, but no answer within the timeout
    CONNECT_TIMEOUT = "connect_timeout"  # no connection within the timeout
    DNS = "dns"  # the host name is not known
    REFUSED = "refused"  # nothing listens at that address and port
    TLS = "tls"  # the secure connection failed (a certificate not trusted, or no TLS there)
    CONNECTION = "connection"  # the connection broke (reset, closed before an answer)
    INVALID_URL = "invalid_url"
    OTHER = "other"


@dataclass(frozen=True)
class Answer:
    """What came of one POST: the status answered (None when none came, then `failure` says
    why), the start of the receiver's answer to an error, and the wait a 429 or 503 asked for."""

    status: int | None
    failure: str = ""  # a Failure value when `status` is None
    said: str = ""  # the start of the receiver's answer, when it refused the message
    retry_after: float | None = None  # seconds, from a Retry-After header

    @property
    def is_delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def is_worth_retrying(self) -> bool:
        """A failure that may pass: no answer at all, a 5xx, a 408 or a 429. A redirect is not
        followed, and another 4xx would be refused again."""
        if self.status is None:
            return self.failure != Failure.INVALID_URL
        return self.status >= 500 or self.status in RETRIED_STATUSES


def signature(secret: str, timestamp: int, body: str) -> str:
    """The `Mbreak-Signature` header's value: `t=<timestamp>,v1=<hex HMAC-SHA256 of
    "<timestamp>.<body>" keyed with the secret>`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def post(url: str, body: str, *, secret: str, event: str, delivery_id: int, timeout: float) -> Answer:
    """POST `body` (JSON text, sent byte for byte as signed) to `url`, signed now with `secret`,
    waiting at most `timeout` seconds to connect and between bytes of the answer. Redirects are
    not followed (a receiver moved is the owner's to update, and a redirect must not carry the
    message elsewhere). Never raises for what the network or the receiver does: `Answer` says."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event,
        DELIVERY_HEADER: str(delivery_id),
        SIGNATURE_HEADER: signature(secret, int(time.time()), body),
    }
    try:
        with requests.post(
            url, data=body.encode(), headers=headers, timeout=timeout, allow_redirects=False, stream=True
        ) as response:
            status = response.status_code
            if 200 <= status < 300:
                return Answer(status)
            said = _start_of(response)
            return Answer(status, said=said, retry_after=_retry_after(response.headers.get("Retry-After", "")))
    except requests.exceptions.SSLError as error:
        return Answer(None, Failure.TLS, said=_tls_reason(error))
    except requests.exceptions.ConnectTimeout:
        return Answer(None, Failure.CONNECT_TIMEOUT)
    except requests.exceptions.Timeout:
        return Answer(None, Failure.TIMEOUT)
    except requests.exceptions.ConnectionError as error:
        if caused_by(error, socket.gaierror):
            return Answer(None, Failure.DNS)
        if caused_by(error, ConnectionRefusedError):
            return Answer(None, Failure.REFUSED)
        if caused_by(error, TimeoutError):
            return Answer(None, Failure.TIMEOUT)
        return Answer(None, Failure.CONNECTION)
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
        return Answer(None, Failure.INVALID_URL)
    except requests.exceptions.RequestException as error:  # e.g. a broken chunked answer
        # Its class only: requests' messages name the URL, which may hold a token (Slack's does).
        return Answer(None, Failure.OTHER, said=type(error).__name__)


def _start_of(response: requests.Response) -> str:
    """The first characters of the answer, on one line, printable only: what the receiver said."""
    try:
        raw = next(response.iter_content(ANSWER_CHARS * 4), b"")
    except requests.exceptions.RequestException:
        return ""
    text = raw.decode("utf-8", errors="replace")
    return " ".join("".join(character if character.isprintable() else " " for character in text).split())[:ANSWER_CHARS]


def _retry_after(value: str) -> float | None:
    """Seconds from a Retry-After header (a number of seconds, or an HTTP date), between 0 and
    `LONGEST_RETRY_AFTER_SECONDS`; None without one, or with one that is neither."""
    value = value.strip()
    if not value:
        return None
    if _SECONDS.fullmatch(value):
        # A number too long to be read at all (Python refuses over 4,300 digits) is a long wait.
        seconds = float(value) if len(value) <= 12 else float(LONGEST_RETRY_AFTER_SECONDS)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(0.0, seconds), float(LONGEST_RETRY_AFTER_SECONDS))


def _tls_reason(error: BaseException) -> str:
    """What TLS said (a certificate not trusted, a wrong version number): never the URL."""
    pending: list[BaseException | None] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return str(current.verify_message or current.reason or "")[:ANSWER_CHARS]
        if isinstance(current, ssl.SSLError):
            return str(current.reason or "")[:ANSWER_CHARS]
        pending.extend(
            [current.__cause__, current.__context__, *[a for a in current.args if isinstance(a, BaseException)]]
        )
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
    return ""
