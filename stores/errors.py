"""What can go wrong when asking a metric store, each with a `kind` the pages word for people."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    # The store could not be asked.
    DNS = "dns"  # its host name is not known
    REFUSED = "refused"  # nothing listens at that address and port
    TLS = "tls"  # its certificate is not trusted (or it does not speak TLS)
    TIMEOUT = "timeout"  # no answer within the source's timeout
    UNAUTHORIZED = "unauthorized"  # 401 or 403: the credentials are missing or wrong
    HTTP_STATUS = "http_status"  # another error status
    NOT_A_STORE = "not_a_store"  # it answered, but not as the store's API does
    NOT_ALLOWED = "not_allowed"  # the server does not ask a source there, or with those credentials
    # The store answered, but the query cannot give one value.
    BAD_QUERY = "bad_query"  # the store refused the query (its own message is kept)
    SEVERAL_SERIES = "several_series"  # one value was asked for and several series came
    NOT_A_VALUE = "not_a_value"  # a range of values, or a string, where one number was asked for
    # The store answered, with no usable value.
    NO_DATA = "no_data"  # no series matched
    NOT_A_NUMBER = "not_a_number"  # NaN or ±Inf (e.g. a ratio over no requests)


class StoreError(Exception):
    """The store could not be asked, or its answer gives no value; `detail` says what it said."""

    def __init__(self, kind: Kind, detail: str = "") -> None:
        super().__init__(f"{kind.value}: {detail}" if detail else kind.value)
        self.kind = kind
        self.detail = detail


class NoData(StoreError):
    """The store answered, with no usable value (`Kind.NO_DATA` or `Kind.NOT_A_NUMBER`): recorded
    as "no data" with the store's answer, not as a failure to reach it."""


def caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is anywhere in `error`'s chain of causes (urllib3 and botocore wrap the socket's)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return True
        pending.extend(
            [current.__cause__, current.__context__, *[a for a in current.args if isinstance(a, BaseException)]]
        )
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
    return False
