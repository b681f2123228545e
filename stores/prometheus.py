"""Prometheus' HTTP API (`/api/v1/query`, `/api/v1/query_range`), asked for one value or one series.

https://prometheus.io/docs/prometheus/latest/querying/api/ — queries are POSTed as a form
(a long PromQL fits), answers read as the API documents them. Every failure is a `StoreError`
of a known `Kind`, never a library's exception.
"""

from __future__ import annotations

import base64
import math
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from stores.errors import Kind, NoData, StoreError, caused_by
from stores.sample import Sample as Sample  # re-exported: it was first defined here

# What Prometheus says when its answer is refused, kept to this many characters.
_DETAIL_CHARS = 300
# Series named in a "several series" refusal.
_SERIES_NAMED = 3


@dataclass(frozen=True)
class Prometheus:
    """A Prometheus server at `url` (its base: what comes before `/api/v1/`), with optional
    credentials (a bearer token, or a user and password), a CA bundle to trust instead of the
    system's (a file path), and a timeout in seconds for each request."""

    url: str
    # Never in its repr: a source's secrets are never shown again, nor logged.
    bearer_token: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str = ""
    timeout: float = 10.0
    # The connections to keep between questions (`http_session`); without one, each question
    # opens its own and closes it.
    session: requests.Session | None = field(default=None, repr=False, compare=False)

    def value(self, query: str, at: datetime | None = None) -> Sample:
        """The one value `query` gives at `at` (now by default).

        Raises `NoData` when no series matches or the value is not a number (NaN, ±Inf), and
        `StoreError` when the store cannot be asked or the query gives more than one value.
        """
        form = {"query": query}
        if at is not None:
            form["time"] = _timestamp(at)
        data = self._ask("query", form)
        result_type, result = data.get("resultType"), data.get("result")
        if result_type == "scalar" and isinstance(result, list):
            return _sample(result)
        if result_type != "vector" or not isinstance(result, list):
            raise StoreError(Kind.NOT_A_VALUE, f"the query gives a {result_type}, not one number")
        return _sample(_one_series(result)["value"])

    def series(self, query: str, start: datetime, end: datetime, step_seconds: int) -> list[Sample]:
        """The values `query` gives every `step_seconds` from `start` to `end` (one range query):
        those of its one series, oldest first, without the steps where it had none or gave a
        value that is not a number.

        Raises `NoData` when no series matches, and `StoreError` when the store cannot be asked
        or the query gives several series.
        """
        form = {"query": query, "start": _timestamp(start), "end": _timestamp(end), "step": str(step_seconds)}
        data = self._ask("query_range", form)
        result = data.get("result")
        if data.get("resultType") != "matrix" or not isinstance(result, list):
            raise StoreError(Kind.NOT_A_VALUE, f"the query gives a {data.get('resultType')}, not a series")
        # As `_sample` reads each pair, inline: a fill reads some thousands of them.
        samples = []
        for pair in _one_series(result).get("values", []):
            try:
                seconds, text = pair
                value = float(text)
                at = datetime.fromtimestamp(float(seconds), tz=UTC)
            except (TypeError, ValueError) as unreadable:
                raise StoreError(Kind.NOT_A_STORE, f"a value reads {pair!r}") from unreadable
            if math.isfinite(value):  # else a step over no requests, say: missing there, not everywhere
                samples.append(Sample(value, at))
        return samples

    def _ask(self, endpoint: str, form: dict[str, str]) -> dict[str, Any]:
        """The `data` of Prometheus' answer to `form` POSTed to `/api/v1/{endpoint}`. What a
        failure says never holds the source's secrets, whatever the store (or a proxy in front of
        it) echoed back."""
        try:
            return self._answer(endpoint, form)
        except StoreError as error:
            detail = error.detail
            for secret in self._secrets():
                detail = detail.replace(secret, "…")
            if detail == error.detail:
                raise
            raise type(error)(error.kind, detail) from None

    def _secrets(self) -> list[str]:
        """The secrets as they may be echoed: the token, the password, and basic auth's header value."""
        secrets = [self.bearer_token, self.password]
        if self.username:
            secrets.append(base64.b64encode(f"{self.username}:{self.password}".encode()).decode())
        return [secret for secret in secrets if secret]

    def _answer(self, endpoint: str, form: dict[str, str]) -> dict[str, Any]:
        url = f"{self.url.rstrip('/')}/api/v1/{endpoint}"
        with _plain_words(self.url), self._session() as session:
            response = session.post(
                url,
                data=form,
                headers={"Authorization": f"Bearer {self.bearer_token}"} if self.bearer_token else {},
                auth=(self.username, self.password) if self.username else None,
                verify=self.ca_file or None,  # None: the session's (the system's CAs)
                timeout=self.timeout,
                allow_redirects=False,
            )
        if response.status_code in (401, 403):
            raise StoreError(Kind.UNAUTHORIZED, f"HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or "status" not in answer:
            raise StoreError(
                Kind.NOT_A_STORE if response.ok else Kind.HTTP_STATUS,
                f"HTTP {response.status_code}: {response.text[:_DETAIL_CHARS]}",
            )
        if answer["status"] != "success":
            # 400 bad_data (a query that does not parse), 422 execution, 503 timeout, ...
            detail = f"{answer.get('errorType', '')}: {answer.get('error', '')}"[:_DETAIL_CHARS]
            if answer.get("errorType") == "timeout":
                raise StoreError(Kind.TIMEOUT, detail)
            raise StoreError(Kind.BAD_QUERY if response.status_code in (400, 422) else Kind.HTTP_STATUS, detail)
        data = answer.get("data")
        if not isinstance(data, dict):
            raise StoreError(Kind.NOT_A_STORE, "the answer has no data")
        return data

    @contextmanager
    def _session(self) -> Iterator[requests.Session]:
        if self.session is not None:
            yield self.session
            return
        with http_session(self.url) as session:
            yield session

    def check(self) -> None:
        """Whether the store answers a query with these credentials (the instant query `1`):
        raises `StoreError` saying why not, as `value` does."""
        self.value("1")


@contextmanager
def http_session(url: str) -> Iterator[requests.Session]:
    """Connections to the store at `url` kept open between its questions (a history fill asks one
    range query per release: without them, each would open a connection, and a TLS handshake,
    of its own), closed at the end.

    What `requests` would read from the environment at each request is read once, here: the
    proxy for `url` (`HTTPS_PROXY`, `NO_PROXY`...) and a CA bundle to trust instead of the
    system's (`REQUESTS_CA_BUNDLE`). A `~/.netrc` is never read: a source is asked with its own
    credentials, never with ones the server keeps for that host."""
    with requests.Session() as session:
        found = session.merge_environment_settings(url, {}, None, None, None)
        session.proxies, session.verify = found["proxies"], found["verify"]
        session.trust_env = False
        yield session


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a moment without a time zone")
    return f"{moment.timestamp():.3f}"


def _one_series(result: list[Any]) -> dict[str, Any]:
    if not result:
        raise NoData(Kind.NO_DATA, "no series matches the query")
    if len(result) > 1:
        named = ", ".join(_labels(series.get("metric", {})) for series in result[:_SERIES_NAMED])
        more = f" and {len(result) - _SERIES_NAMED} more" if len(result) > _SERIES_NAMED else ""
        raise StoreError(Kind.SEVERAL_SERIES, f"{len(result)} series: {named}{more}")
    series = result[0]
    if not isinstance(series, dict):
        raise StoreError(Kind.NOT_A_STORE, "a series is not an object")
    return series


def _labels(metric: dict[str, str]) -> str:
    return "{" + ", ".join(f'{name}="{value}"' for name, value in sorted(metric.items())) + "}"


def _sample(pair: Any) -> Sample:
    """A `[unix time, "value"]` pair as Prometheus writes one."""
    try:
        seconds, text = pair
        value, at = float(text), datetime.fromtimestamp(float(seconds), tz=UTC)
    except (TypeError, ValueError) as unreadable:
        raise StoreError(Kind.NOT_A_STORE, f"a value reads {pair!r}") from unreadable
    if not math.isfinite(value):
        raise NoData(Kind.NOT_A_NUMBER, f"the query gives {text}")
    return Sample(value, at)


@contextmanager
def _plain_words(url: str) -> Iterator[None]:
    """`requests`' exceptions as the `StoreError` that says what went wrong."""
    try:
        yield
    except requests.exceptions.SSLError as error:
        raise StoreError(Kind.TLS, _cause(error)) from error
    except requests.exceptions.Timeout as error:
        raise StoreError(Kind.TIMEOUT, _cause(error)) from error
    except requests.exceptions.ConnectionError as error:
        if caused_by(error, socket.gaierror):
            raise StoreError(Kind.DNS, _cause(error)) from error
        if caused_by(error, ConnectionRefusedError):
            raise StoreError(Kind.REFUSED, _cause(error)) from error
        raise StoreError(Kind.HTTP_STATUS, _cause(error)) from error
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, ValueError) as error:
        raise StoreError(Kind.NOT_A_STORE, f"{url!r} is not a URL: {error}") from error
    except requests.exceptions.RequestException as error:  # e.g. a broken chunked or gzip answer
        raise StoreError(Kind.NOT_A_STORE, _cause(error)) from error


def _cause(error: BaseException) -> str:
    return str(error)[:_DETAIL_CHARS]
