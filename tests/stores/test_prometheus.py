"""Asking a real Prometheus for one value or one series, and every way that can fail, in plain kinds."""

from __future__ import annotations

import base64
import http.server
import json
import math
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from stores.errors import Kind, NoData, StoreError
from stores.prometheus import Prometheus
from tests.stores.conftest import HISTORY_END, HISTORY_START, PrometheusServer, SecuredPrometheus, history_value


def test_a_query_of_one_series_gives_its_value_now(prometheus: PrometheusServer) -> None:
    prometheus.set('mb_live_error_ratio{release="v41"}', "0.075")
    prometheus.wait_for('mb_live_error_ratio{release="v41"}', "0.075")

    sample = Prometheus(prometheus.url).value('mb_live_error_ratio{release="v41"}')

    assert sample.value == 0.075
    assert abs((datetime.now(UTC) - sample.at).total_seconds()) < 60


def test_a_scalar_query_gives_its_number(prometheus: PrometheusServer) -> None:
    assert Prometheus(prometheus.url).value("scalar(vector(2.5))").value == 2.5


def test_a_query_at_a_past_moment_gives_the_value_then(prometheus: PrometheusServer) -> None:
    moment = HISTORY_START + timedelta(minutes=7)

    sample = Prometheus(prometheus.url).value('mb_history_error_ratio{service="checkout"}', at=moment)

    assert sample.value == history_value(7)
    assert sample.at == moment


def test_a_query_matching_no_series_is_no_data_with_what_the_store_said(prometheus: PrometheusServer) -> None:
    with pytest.raises(NoData) as refused:
        Prometheus(prometheus.url).value('mb_live_error_ratio{release="never-deployed"}')

    assert refused.value.kind == Kind.NO_DATA


def test_a_query_of_several_series_is_refused_naming_them(prometheus: PrometheusServer) -> None:
    moment = HISTORY_START + timedelta(minutes=1)

    with pytest.raises(StoreError) as refused:
        Prometheus(prometheus.url).value("mb_history_error_ratio", at=moment)

    assert refused.value.kind == Kind.SEVERAL_SERIES
    assert not isinstance(refused.value, NoData)
    assert 'service="checkout"' in refused.value.detail
    assert 'service="search"' in refused.value.detail


@pytest.mark.parametrize("query", ["vector(0) / vector(0)", "vector(1) / vector(0)"])
def test_a_value_that_is_not_a_number_is_no_data(prometheus: PrometheusServer, query: str) -> None:
    """An error ratio over no requests is 0/0: NaN, which no tree can judge."""
    with pytest.raises(NoData) as refused:
        Prometheus(prometheus.url).value(query)

    assert refused.value.kind == Kind.NOT_A_NUMBER


def test_a_query_that_does_not_parse_is_refused_with_prometheus_words(prometheus: PrometheusServer) -> None:
    with pytest.raises(StoreError) as refused:
        Prometheus(prometheus.url).value("rate(mb_history_error_ratio[5m]")

    assert refused.value.kind == Kind.BAD_QUERY
    assert "bad_data" in refused.value.detail
    assert "parse error" in refused.value.detail


def test_a_range_where_one_value_is_asked_for_is_refused(prometheus: PrometheusServer) -> None:
    with pytest.raises(StoreError) as refused:
        Prometheus(prometheus.url).value('mb_history_error_ratio{service="checkout"}[5m]', at=HISTORY_END)

    assert refused.value.kind == Kind.NOT_A_VALUE


def test_a_range_query_gives_the_series_minute_by_minute(prometheus: PrometheusServer) -> None:
    start = HISTORY_START + timedelta(minutes=10)

    samples = Prometheus(prometheus.url).series(
        'mb_history_error_ratio{service="checkout"}', start, start + timedelta(minutes=59), step_seconds=60
    )

    assert [sample.at for sample in samples] == [start + timedelta(minutes=m) for m in range(60)]
    assert [sample.value for sample in samples] == [history_value(10 + m) for m in range(60)]


def test_a_range_query_leaves_out_the_steps_whose_value_is_not_a_number(prometheus: PrometheusServer) -> None:
    start = HISTORY_START + timedelta(minutes=10)
    query = 'mb_history_error_ratio{service="checkout"} / (mb_history_error_ratio{service="checkout"} > 0.02)'

    samples = Prometheus(prometheus.url).series(query, start, start + timedelta(minutes=29), step_seconds=60)

    # Steps where the ratio is at most 0.02 have no series in the filter: no sample, not a NaN.
    assert all(math.isfinite(sample.value) for sample in samples)
    assert [sample.at for sample in samples] == [
        start + timedelta(minutes=m) for m in range(30) if history_value(10 + m) > 0.02
    ]


def test_a_range_query_of_several_series_is_refused(prometheus: PrometheusServer) -> None:
    with pytest.raises(StoreError) as refused:
        Prometheus(prometheus.url).series("mb_history_error_ratio", HISTORY_START, HISTORY_END, step_seconds=60)

    assert refused.value.kind == Kind.SEVERAL_SERIES


def test_a_range_query_matching_nothing_is_no_data(prometheus: PrometheusServer) -> None:
    with pytest.raises(NoData):
        Prometheus(prometheus.url).series('mb_history_error_ratio{service="nope"}', HISTORY_START, HISTORY_END, 60)


def test_nothing_listening_is_refused(closed_port: int) -> None:
    with pytest.raises(StoreError) as refused:
        Prometheus(f"http://127.0.0.1:{closed_port}", timeout=2).value("up")

    assert refused.value.kind == Kind.REFUSED


def test_an_unknown_host_is_a_dns_failure() -> None:
    with pytest.raises(StoreError) as refused:
        Prometheus("http://prometheus.make-or-break.invalid:9090", timeout=2).value("up")

    assert refused.value.kind == Kind.DNS


def test_a_store_that_never_answers_times_out(silent_port: int) -> None:
    with pytest.raises(StoreError) as refused:
        Prometheus(f"http://127.0.0.1:{silent_port}", timeout=0.5).value("up")

    assert refused.value.kind == Kind.TIMEOUT


def test_https_to_a_plain_http_store_is_a_tls_failure(prometheus: PrometheusServer) -> None:
    with pytest.raises(StoreError) as refused:
        Prometheus(prometheus.url.replace("http://", "https://"), timeout=2).value("up")

    assert refused.value.kind == Kind.TLS


def test_a_page_that_is_not_prometheus_is_said_so(prometheus: PrometheusServer) -> None:
    """The exporter's address, given by mistake for the server's: it answers, but not JSON."""
    with pytest.raises(StoreError) as refused:
        Prometheus(f"http://127.0.0.1:{prometheus.exporter.port}", timeout=2).value("up")

    assert refused.value.kind == Kind.NOT_A_STORE


def test_a_moment_without_a_time_zone_is_a_programming_error(prometheus: PrometheusServer) -> None:
    with pytest.raises(ValueError, match="time zone"):
        Prometheus(prometheus.url).value("up", at=datetime(2026, 1, 1))  # noqa: DTZ001 - the point


def test_a_store_over_tls_with_its_own_ca_and_a_password_answers(secured_prometheus: SecuredPrometheus) -> None:
    store = Prometheus(
        secured_prometheus.url,
        username=secured_prometheus.username,
        password=secured_prometheus.password,
        ca_file=secured_prometheus.ca_file,
    )

    assert store.value("scalar(vector(1))").value == 1


def test_a_certificate_the_system_does_not_trust_is_a_tls_failure(secured_prometheus: SecuredPrometheus) -> None:
    store = Prometheus(
        secured_prometheus.url, username=secured_prometheus.username, password=secured_prometheus.password
    )

    with pytest.raises(StoreError) as refused:
        store.value("scalar(vector(1))")

    assert refused.value.kind == Kind.TLS


@pytest.mark.parametrize(("username", "password"), [("", ""), ("make-or-break", "not the passphrase")])
def test_missing_or_wrong_credentials_are_unauthorized(
    secured_prometheus: SecuredPrometheus, username: str, password: str
) -> None:
    store = Prometheus(secured_prometheus.url, username=username, password=password, ca_file=secured_prometheus.ca_file)

    with pytest.raises(StoreError) as refused:
        store.value("scalar(vector(1))")

    assert refused.value.kind == Kind.UNAUTHORIZED
    assert secured_prometheus.password not in str(refused.value)


def test_a_store_shown_or_logged_does_not_show_its_secrets() -> None:
    store = Prometheus("https://prometheus.example", bearer_token="t0ken-s3cret", username="u", password="pa55-s3cret")

    assert "s3cret" not in repr(store)
    assert "s3cret" not in str(store)


@contextmanager
def answering(answer: bytes) -> Iterator[str]:
    """A server that answers one question with `answer`, as it is (status line, headers and
    body): its URL."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def send() -> None:
            connection, _address = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(answer)

        threading.Thread(target=send, daemon=True).start()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_an_answer_broken_half_way_is_not_a_store() -> None:
    """A server whose answer breaks off (a chunk that is not one): said so, as any other
    answer that is not Prometheus', never a library's exception."""
    broken = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n"

    with answering(broken) as url, pytest.raises(StoreError) as refused:
        Prometheus(url, timeout=5).value("up")

    assert refused.value.kind == Kind.NOT_A_STORE


def test_what_a_store_echoes_back_never_holds_the_sources_secrets() -> None:
    """A proxy in front of Prometheus that answers an error with the request it got, headers
    and all: the failure's detail (kept with a pull, shown on the source's page) says what it
    said, without the token or the password."""
    token, password = "a-bearer-token-never-shown", "a-password-never-shown"

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = str(self.headers).encode()
            self.send_response(502)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for store in (Prometheus(url, bearer_token=token), Prometheus(url, username="u", password=password)):
            with pytest.raises(StoreError) as refused:
                store.value("up")
            assert refused.value.kind == Kind.HTTP_STATUS
            assert "HTTP 502" in refused.value.detail
            for secret in (token, password, base64.b64encode(f"u:{password}".encode()).decode()):
                assert secret not in str(refused.value)
    finally:
        server.shutdown()
        server.server_close()


def test_a_series_with_a_value_that_is_not_one_is_not_a_store_naming_the_first_such_value() -> None:
    values = [[1767225600, "NaN"], [1767225660, "0.5"], [1767225720, "half"], [1767225780, "many"]]
    series = [{"metric": {}, "values": values}]
    body = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": series}}).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    start = datetime(2026, 1, 1, tzinfo=UTC)

    with answering(head.encode() + body) as url, pytest.raises(StoreError) as refused:
        Prometheus(url, timeout=5).series("up", start, start + timedelta(minutes=3), step_seconds=60)

    assert refused.value.kind == Kind.NOT_A_STORE
    assert refused.value.detail == "a value reads [1767225720, 'half']"
