"""Prometheus' HTTP API (`/api/v1/query`, `/api/v1/query_range`), asked for one value or one series.

https://prometheus.io/docs/prometheus/latest/querying/api/ — queries are POSTed as a form
(a long PromQL fits), answers read as the API documents them. Every failure is a `StoreError`
of a known `Kind`, never a library's exception.
"""

from __future__ import annotations

import base64
import json
import math
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import certifi
import urllib3
from requests.utils import get_environ_proxies, select_proxy
from urllib3 import exceptions as http

from stores.errors import Kind, NoData, StoreError, caused_by
from stores.sample import Sample as Sample  # re-exported: it was first defined here

# What Prometheus says when its answer is refused, kept to this many characters.
_DETAIL_CHARS = 300
# Series named in a "several series" refusal.
_SERIES_NAMED = 3
# How the store sees who asks (in its logs, or a proxy's).
_USER_AGENT = "make-or-break"


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
    # The connections to keep between questions (`http_session(url, ca_file)`); without them,
    # each question opens its own and closes it.
    session: urllib3.PoolManager | None = field(default=None, repr=False, compare=False)

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
        pairs = _one_series(result).get("values", [])
        try:  # each pair as `_sample` reads it, at once: a fill reads some thousands of them
            read = [(float(text), float(seconds)) for seconds, text in pairs]
        except (TypeError, ValueError):
            for pair in pairs:
                with suppress(NoData):
                    _sample(pair)  # raises `StoreError`, naming the first pair it cannot read
            raise
        # Without the steps whose value is not a number (over no requests, say): missing there.
        at = datetime.fromtimestamp
        return [Sample(value, at(seconds, tz=UTC)) for value, seconds in read if math.isfinite(value)]

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
            secrets.append(_basic(self.username, self.password))
        return [secret for secret in secrets if secret]

    def _answer(self, endpoint: str, form: dict[str, str]) -> dict[str, Any]:
        url = f"{self.url.rstrip('/')}/api/v1/{endpoint}"
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": _USER_AGENT,
        }
        if self.bearer_token:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        elif self.username:
            headers["Authorization"] = f"Basic {_basic(self.username, self.password)}"
        with _plain_words(self.url), self._session() as session:
            response = session.request(
                "POST",
                url,
                body=urlencode(form),
                headers=headers,
                timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                retries=False,
                redirect=False,
                preload_content=False,
            )
            body = _body(response)
        if response.status in (401, 403):
            raise StoreError(Kind.UNAUTHORIZED, f"HTTP {response.status}")
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or "status" not in answer:
            kind = Kind.NOT_A_STORE if response.status < 400 else Kind.HTTP_STATUS
            text = body.decode("utf-8", "replace")[:_DETAIL_CHARS]
            raise StoreError(kind, f"HTTP {response.status}: {text}")
        if answer["status"] != "success":
            # 400 bad_data (a query that does not parse), 422 execution, 503 timeout, ...
            detail = f"{answer.get('errorType', '')}: {answer.get('error', '')}"[:_DETAIL_CHARS]
            if answer.get("errorType") == "timeout":
                raise StoreError(Kind.TIMEOUT, detail)
            raise StoreError(Kind.BAD_QUERY if response.status in (400, 422) else Kind.HTTP_STATUS, detail)
        data = answer.get("data")
        if not isinstance(data, dict):
            raise StoreError(Kind.NOT_A_STORE, "the answer has no data")
        return data

    @contextmanager
    def _session(self) -> Iterator[urllib3.PoolManager]:
        if self.session is not None:
            yield self.session
            return
        with http_session(self.url, self.ca_file) as session:
            yield session

    def check(self) -> None:
        """Whether the store answers a query with these credentials (the instant query `1`):
        raises `StoreError` saying why not, as `value` does."""
        self.value("1")


@contextmanager
def http_session(url: str, ca_file: str = "") -> Iterator[urllib3.PoolManager]:
    """Connections to the store at `url` kept open between its questions (a history fill asks one
    range query per release: without them, each would open a connection, and a TLS handshake,
    of its own), closed at the end; its certificate checked against `ca_file` (a path), or else
    the CA bundle `REQUESTS_CA_BUNDLE` names, or else certifi's.

    Through the proxy the environment names for `url` (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
    unless `NO_PROXY` names its host), with the proxy URL's user and password if it has them:
    read once, here. A `~/.netrc` is never read: a source is asked with its own credentials,
    never with ones the server keeps for that host."""
    bundle = ca_file or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    trusted = {"ca_cert_dir": bundle} if os.path.isdir(bundle) else {"ca_certs": bundle}
    settings: dict[str, Any] = {"num_pools": 2, "cert_reqs": "CERT_REQUIRED", **trusted}
    with _plain_words(url):  # a proxy URL it cannot use, say
        proxy = select_proxy(url, get_environ_proxies(url))
        if not proxy:
            pool = urllib3.PoolManager(**settings)
        else:
            parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            if parts.username is not None:
                credentials = _basic(unquote(parts.username), unquote(parts.password or ""))
                settings["proxy_headers"] = {"Proxy-Authorization": f"Basic {credentials}"}
            pool = urllib3.ProxyManager(parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl(), **settings)
    with pool:
        yield pool


def _body(response: urllib3.BaseHTTPResponse) -> bytes:
    """The answer's body, decompressed. One that breaks off half way is no store's answer; one
    that stops coming, a timeout."""
    try:
        return response.read(decode_content=True)
    except http.ReadTimeoutError as error:
        raise StoreError(Kind.TIMEOUT, _cause(error)) from error
    except (http.HTTPError, OSError) as error:  # a chunk that is not one, broken gzip...
        raise StoreError(Kind.NOT_A_STORE, _cause(error)) from error
    finally:
        response.release_conn()


def _basic(username: str, password: str) -> str:
    """HTTP basic authentication's credentials (RFC 7617, in UTF-8)."""
    return base64.b64encode(f"{username}:{password}".encode()).decode()


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
    """urllib3's exceptions as the `StoreError` that says what went wrong."""
    try:
        yield
    except http.SSLError as error:
        raise StoreError(Kind.TLS, _cause(error)) from error
    except (http.NewConnectionError, http.ProxyError, http.ProtocolError) as error:
        # Before `TimeoutError`: a connection that could not be made is one (in urllib3).
        if caused_by(error, socket.gaierror) or isinstance(error, http.NameResolutionError):
            raise StoreError(Kind.DNS, _cause(error)) from error
        if caused_by(error, ConnectionRefusedError):
            raise StoreError(Kind.REFUSED, _cause(error)) from error
        if caused_by(error, TimeoutError):  # the socket's (a proxy that did not answer in time)
            raise StoreError(Kind.TIMEOUT, _cause(error)) from error
        raise StoreError(Kind.HTTP_STATUS, _cause(error)) from error
    except http.TimeoutError as error:
        raise StoreError(Kind.TIMEOUT, _cause(error)) from error
    except ValueError as error:  # urllib3's LocationValueError, a scheme it does not know...
        raise StoreError(Kind.NOT_A_STORE, f"{url!r} is not a URL: {error}") from error
    except http.HTTPError as error:  # e.g. a broken chunked or gzip answer
        raise StoreError(Kind.NOT_A_STORE, _cause(error)) from error


def _cause(error: BaseException) -> str:
    return str(error)[:_DETAIL_CHARS]
