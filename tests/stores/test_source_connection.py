"""A data source's "Test connection", against a real Prometheus (and a secured one, a closed port,
a port that never answers, an unknown host) and a CloudWatch source against moto's server (a key
it knows, keys it refuses, nothing listening): each outcome said in plain words, on the source's
page and in the API, and the secret in no log."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import DataSource, SourceAuth
from stores.errors import Kind
from tests.api.test_gates import bearer
from tests.metrics.test_data_sources import make_source
from tests.pages import messages_of
from tests.stores.conftest import AccessKey, CloudWatchServer, SecuredPrometheus
from tests.stores.test_cloudwatch_sources import ANY_KEY, cloudwatch_source

WORKS = "It works: the source answered with these credentials."

# Each case: the fixture it needs, the source's fields from it, the result and the words said.
CASES: dict[str, tuple[str, Callable[[Any], dict[str, Any]], str, str]] = {
    "prometheus": ("prometheus", lambda server: {"url": server.url}, "ok", WORKS),
    "secured with its CA and password": (
        "secured_prometheus",
        lambda server: {
            "url": server.url,
            "auth": SourceAuth.BASIC,
            "username": server.username,
            "secret": server.password,
            "ca_certificate": Path(server.ca_file).read_text(),
        },
        "ok",
        WORKS,
    ),
    "behind a proxy, with its bearer token": (
        "token_prometheus",
        lambda server: {"url": server.url, "auth": SourceAuth.BEARER, "secret": server.token},
        "ok",
        WORKS,
    ),
    "behind a proxy, with a wrong bearer token": (
        "token_prometheus",
        lambda server: {"url": server.url, "auth": SourceAuth.BEARER, "secret": "not the token"},
        "unauthorized",
        "The source refused the credentials (401 or 403)",
    ),
    "secured without its CA": (
        "secured_prometheus",
        lambda server: {
            "url": server.url,
            "auth": SourceAuth.BASIC,
            "username": server.username,
            "secret": server.password,
        },
        "tls",
        "The secure connection failed (TLS)",
    ),
    "secured with a wrong password": (
        "secured_prometheus",
        lambda server: {
            "url": server.url,
            "auth": SourceAuth.BASIC,
            "username": server.username,
            "secret": "not the passphrase",
            "ca_certificate": Path(server.ca_file).read_text(),
        },
        "unauthorized",
        "The source refused the credentials (401 or 403)",
    ),
    "a closed port": (
        "closed_port",
        lambda port: {"url": f"http://127.0.0.1:{port}"},
        "refused",
        "The connection was refused",
    ),
    "a port that never answers": (
        "silent_port",
        lambda port: {"url": f"http://127.0.0.1:{port}", "timeout_seconds": 0.5},
        "timeout",
        "The source did not answer within its timeout.",
    ),
    "an unknown host": (
        "closed_port",  # none needed
        lambda _port: {"url": "http://prometheus.make-or-break.invalid:9090"},
        "dns",
        "The source's host name is not known (DNS)",
    ),
}


def source_for(request: pytest.FixtureRequest, owner: User, case: str) -> DataSource:
    fixture, fields, _result, _words = CASES[case]
    return make_source(owner, **fields(request.getfixturevalue(fixture)))


@pytest.mark.parametrize("case", list(CASES))
def test_the_api_answers_a_test_connection_in_plain_words(
    client: Client, owner: User, request: pytest.FixtureRequest, case: str
) -> None:
    source = source_for(request, owner, case)
    _fixture, _fields, result, words = CASES[case]

    response = client.post(reverse("api:source_test", args=[source.pk]), headers=bearer(owner))

    assert response.status_code == 200
    answer = response.json()
    assert (answer["ok"], answer["result"]) == (result == "ok", result)
    assert answer["detail"].startswith(words)
    assert answer["checked_at"].endswith("Z")
    source.refresh_from_db()
    assert (source.check_result, source.checked_at is not None) == (result, True)
    # Kept as the source's last check.
    shown = client.get(reverse("api:source", args=[source.pk]), headers=bearer(owner)).json()["last_check"]
    assert shown == answer


@pytest.mark.parametrize("case", list(CASES))
def test_the_page_says_what_came_of_a_test_connection_in_plain_words(
    client: Client, owner: User, request: pytest.FixtureRequest, case: str
) -> None:
    source = source_for(request, owner, case)
    _fixture, _fields, result, words = CASES[case]
    client.force_login(owner)

    response = client.post(reverse("metrics:source_test", args=[source.pk]), follow=True)

    assert response.redirect_chain[-1][0] == source.get_absolute_url()
    assert messages_of(response)[0].startswith(words)
    html = response.content.decode()
    assert words.replace("'", "&#x27;") in html  # and as its last test
    assert ("works" if result == "ok" else "failed") in html
    lists = client.get(reverse("metrics:sources")).content.decode()
    assert words.replace("'", "&#x27;") in lists


def test_a_source_whose_secret_no_key_reads_says_so_when_tested(
    client: Client, owner: User, secured_prometheus: SecuredPrometheus, settings
) -> None:
    settings.MBREAK_SECRETS_KEY = "a key that was lost"
    source = make_source(
        owner,
        url=secured_prometheus.url,
        auth=SourceAuth.BASIC,
        username=secured_prometheus.username,
        secret=secured_prometheus.password,
    )
    settings.MBREAK_SECRETS_KEY = "the new key"

    answer = client.post(reverse("api:source_test", args=[source.pk]), headers=bearer(owner)).json()

    assert (answer["ok"], answer["result"]) == (False, "unauthorized")
    assert "enter the secret again" in answer["detail"]


def test_the_secret_is_in_no_log_of_a_test_with_a_wrong_password_or_a_right_one(
    client: Client, owner: User, secured_prometheus: SecuredPrometheus, caplog: pytest.LogCaptureFixture
) -> None:
    fields = {
        "url": secured_prometheus.url,
        "auth": SourceAuth.BASIC,
        "username": secured_prometheus.username,
        "ca_certificate": Path(secured_prometheus.ca_file).read_text(),
    }
    wrong = make_source(owner, "Wrong", secret="a wrong s3cret passphrase", **fields)
    right = make_source(owner, "Right", secret=secured_prometheus.password, **fields)
    client.force_login(owner)

    with caplog.at_level(logging.DEBUG):
        client.post(reverse("metrics:source_test", args=[wrong.pk]))
        client.post(reverse("api:source_test", args=[right.pk]), headers=bearer(owner))
        client.post(reverse("metrics:source_test", args=[right.pk]))

    wrong.refresh_from_db()
    right.refresh_from_db()
    assert (wrong.check_result, right.check_result) == ("unauthorized", "ok")
    logged = caplog.text + "".join(repr(record.args) for record in caplog.records)
    assert "Data source" in logged  # the test was logged, at least
    for secret in ("a wrong s3cret passphrase", secured_prometheus.password, wrong.secret, right.secret):
        assert secret not in logged


def test_a_cloudwatch_source_with_a_key_cloudwatch_knows_works(
    client: Client, owner: User, cloudwatch: CloudWatchServer, cloudwatch_keys: dict[str, AccessKey]
) -> None:
    source = cloudwatch_source(owner, cloudwatch, cloudwatch_keys["reader"])

    with cloudwatch.checking_credentials():
        response = client.post(reverse("api:source_test", args=[source.pk]), headers=bearer(owner))

    assert response.status_code == 200
    assert (response.json()["ok"], response.json()["result"]) == (True, "ok")
    source.refresh_from_db()
    assert source.check_words == "It works: the source answered with these credentials."


@pytest.mark.parametrize("who", ["wrong secret", "unknown key", "user without a policy"])
def test_a_cloudwatch_source_with_a_key_cloudwatch_refuses_is_unauthorized_in_words(
    client: Client, owner: User, cloudwatch: CloudWatchServer, cloudwatch_keys: dict[str, AccessKey], who: str
) -> None:
    key = {
        "wrong secret": AccessKey(cloudwatch_keys["reader"].access_key_id, ANY_KEY.secret_access_key),
        "unknown key": ANY_KEY,
        "user without a policy": cloudwatch_keys["stranger"],
    }[who]
    source = cloudwatch_source(owner, cloudwatch, key)
    client.force_login(owner)

    with cloudwatch.checking_credentials():
        response = client.post(reverse("metrics:source_test", args=[source.pk]), follow=True)

    source.refresh_from_db()
    assert source.check_result == Kind.UNAUTHORIZED
    assert source.check_words.startswith("The source refused the credentials (401 or 403)")
    assert key.secret_access_key not in source.check_detail
    assert "The source refused the credentials" in response.content.decode()


def test_a_cloudwatch_endpoint_where_nothing_listens_is_refused(
    client: Client, owner: User, cloudwatch: CloudWatchServer, closed_port: int
) -> None:
    source = cloudwatch_source(owner, cloudwatch)
    DataSource.objects.filter(pk=source.pk).update(url=f"http://127.0.0.1:{closed_port}")

    answer = client.post(reverse("api:source_test", args=[source.pk]), headers=bearer(owner)).json()

    assert (answer["ok"], answer["result"]) == (False, "refused")
    assert answer["detail"].startswith("The connection was refused")


def test_a_cloudwatch_source_with_the_environments_credentials_uses_the_servers_keys(
    client: Client,
    owner: User,
    cloudwatch: CloudWatchServer,
    cloudwatch_keys: dict[str, AccessKey],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No key stored: boto3's own chain, here the server's environment (on AWS, its role)."""
    source = cloudwatch_source(owner, cloudwatch)
    DataSource.objects.filter(pk=source.pk).update(auth=SourceAuth.ENVIRONMENT, username="", secret="")
    User.objects.filter(pk=owner.pk).update(is_staff=True)  # the server's own identity is staff's
    answers = []
    with cloudwatch.checking_credentials():
        for key in (cloudwatch_keys["reader"], cloudwatch_keys["stranger"]):
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", key.access_key_id)
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key.secret_access_key)
            answer = client.post(reverse("api:source_test", args=[source.pk]), headers=bearer(owner)).json()
            answers.append(answer["result"])

    assert answers == ["ok", Kind.UNAUTHORIZED]


def test_a_test_connection_waits_no_longer_than_a_web_request_may_whatever_the_sources_timeout(
    owner: User, silent_port: int, settings: Any
) -> None:
    settings.MBREAK_SOURCE_REQUEST_TIMEOUT = 0.5
    source = DataSource.objects.create(
        owner=owner, name="slow", url=f"http://127.0.0.1:{silent_port}", timeout_seconds=60
    )
    started = time.monotonic()

    source.check_connection()

    assert source.check_result == Kind.TIMEOUT
    assert time.monotonic() - started < 10
    with source.store() as store:  # pulls and fills, in workers, wait the source's own timeout
        assert store.timeout == 60


class Recorder(ThreadingHTTPServer):
    """A real HTTP server that answers any POST as Prometheus answers the instant query `1`, and
    keeps what it was sent: the request line (a proxy is sent the whole URL) and the headers."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RecorderHandler)
        self.requests: list[tuple[str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class RecorderHandler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append((self.requestline, dict(self.headers.items())))
        body = b'{"status":"success","data":{"resultType":"scalar","result":[1767225600,"1"]}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_source_without_credentials_is_asked_without_any_even_when_the_server_has_a_netrc_for_its_host(
    owner: User, recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login the-servers-own password kept-for-something-else\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    source = DataSource.objects.create(owner=owner, name="no credentials", url=recorder.url)

    source.check_connection()

    assert source.check_result == "ok"
    [(_line, headers)] = recorder.requests
    assert "Authorization" not in headers


def test_a_source_is_asked_through_the_proxy_the_servers_environment_names(
    owner: User, recorder: Recorder, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", recorder.url)
    source = DataSource.objects.create(owner=owner, name="behind the proxy", url=f"http://127.0.0.1:{closed_port}")

    source.check_connection()

    assert source.check_result == "ok"  # nothing listens there: the proxy answered
    [(line, _headers)] = recorder.requests
    assert line == f"POST http://127.0.0.1:{closed_port}/api/v1/query HTTP/1.1"
