"""A real Prometheus server for the store tests: Debian's `prometheus` (installed by `make test`),
its history backfilled with `promtool tsdb create-blocks-from openmetrics`, scraping a small
exporter whose values each test sets (`stores.local_prometheus`, which the worked example and
the benchmarks use too)."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from stores import local_prometheus
from stores.local_prometheus import Exporter, Point, free_port, running_prometheus

# The backfilled history: one point a minute from HISTORY_START to HISTORY_END.
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
HISTORY_START = NOW - timedelta(hours=6)
HISTORY_END = NOW - timedelta(hours=4)


def history_value(minute: int) -> float:
    """The backfilled error ratio `minute` minutes after HISTORY_START."""
    return round(0.01 + 0.001 * (minute % 30), 6)


def prometheus_binary(tool: str = "prometheus") -> str:
    try:
        return local_prometheus.binary(tool)
    except local_prometheus.NotInstalled as error:
        pytest.fail(str(error))


def openmetrics_history() -> str:
    minutes = int((HISTORY_END - HISTORY_START).total_seconds() // 60)
    points = []
    for minute in range(minutes + 1):
        at = HISTORY_START + timedelta(minutes=minute)
        points.append(Point('mb_history_error_ratio{service="checkout"}', history_value(minute), at))
        points.append(Point('mb_history_error_ratio{service="search"}', 0.5, at))
    return local_prometheus.openmetrics(points, ["mb_history_error_ratio"])


@dataclass
class PrometheusServer:
    url: str
    exporter: Exporter

    def set(self, series: str, value: str) -> None:
        self.exporter.set(series, value)

    def wait_for(self, query: str, expected: str, seconds: float = 20) -> None:
        """Until Prometheus has scraped the exporter's current values (an instant query of
        `query` gives `expected`)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            answer = requests.post(f"{self.url}/api/v1/query", data={"query": query}, timeout=5).json()
            results = answer["data"]["result"]
            if results and results[0]["value"][1] == expected:
                return
            time.sleep(0.2)
        raise AssertionError(f"Prometheus did not scrape {query} = {expected} within {seconds} s")


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    prometheus_binary()
    folder = tmp_path_factory.mktemp("prometheus")
    local_prometheus.backfill(folder / "data", openmetrics_history())
    with Exporter().serving() as exporter:
        config = local_prometheus.scrape_config(exporter)
        with running_prometheus(folder, config, "--storage.tsdb.retention.time=30d") as url:
            yield PrometheusServer(url=url, exporter=exporter)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a store that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on."""
    return free_port()


@dataclass
class TokenPrometheus:
    """The test Prometheus behind a proxy that asks for a bearer token, as a managed Prometheus
    or an authenticating proxy in front of one does: `token` passes, anything else is a 401."""

    url: str
    token: str


@pytest.fixture(scope="session")
def token_prometheus(prometheus: PrometheusServer) -> Iterator[TokenPrometheus]:
    token = "mb-test-token-that-the-proxy-expects"

    class Proxy(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.headers.get("Authorization") != f"Bearer {token}":
                self.answer(401, b"Unauthorized", "text/plain")
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {"Content-Type": self.headers.get("Content-Type", "")}
            forwarded = requests.post(prometheus.url + self.path, data=body, headers=headers, timeout=10)
            self.answer(forwarded.status_code, forwarded.content, forwarded.headers.get("Content-Type", ""))

        def answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield TokenPrometheus(url=f"http://127.0.0.1:{server.server_address[1]}", token=token)
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SecuredPrometheus:
    """A Prometheus served over TLS with a certificate of a CA of the test's own, which asks
    for a user and password."""

    url: str
    ca_file: str
    username: str
    password: str


def certificate_authority(folder: Path) -> tuple[Path, Path, Path]:
    """A CA's certificate, and a certificate and key it signed for 127.0.0.1: (ca, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    start, end = datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=30)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Make or Break test CA"))
        .issuer_name(name("Make or Break test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@pytest.fixture(scope="session")
def secured_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredPrometheus]:
    import bcrypt

    folder = tmp_path_factory.mktemp("secured-prometheus")
    ca, cert, key = certificate_authority(folder)
    username, password = "make-or-break", "a long passphrase for the store"
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    (folder / "web.yml").write_text(
        f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\nbasic_auth_users:\n  {username}: '{hashed}'\n"
    )
    flags = (f"--web.config.file={folder / 'web.yml'}",)
    asked: dict[str, Any] = {"verify": str(ca), "auth": (username, password)}
    with running_prometheus(folder, "global:\n  scrape_interval: 1m\n", *flags, scheme="https", asked=asked) as url:
        yield SecuredPrometheus(url=url, ca_file=str(ca), username=username, password=password)


# CloudWatch's history: one datapoint a minute of two series, from CLOUDWATCH_START (on the
# hour, so that 5-minute periods start with it) to CLOUDWATCH_END.
CLOUDWATCH_NAMESPACE = "MakeOrBreak/Test"
CLOUDWATCH_START = NOW.replace(minute=0) - timedelta(hours=3)
CLOUDWATCH_END = CLOUDWATCH_START + timedelta(minutes=60)
CHECKOUT = (("Service", "checkout"),)
# Three requests in one minute, taking 1, 2 and 6 seconds.
REQUESTS_MINUTE = CLOUDWATCH_START + timedelta(minutes=3)
REQUEST_SECONDS = (1.0, 2.0, 6.0)
SEARCH = (("Service", "search"),)


@dataclass
class CloudWatchServer:
    """moto's server, standing in for CloudWatch (and IAM, for credentials) at `url`: a real
    HTTP endpoint that boto3 signs its requests for, in the test's own process."""

    url: str

    def client(self, service: str = "cloudwatch") -> Any:
        import boto3

        return boto3.client(
            service,
            region_name="eu-west-1",
            endpoint_url=self.url,
            # moto takes any key until told to check them.
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def put(self, metric_name: str, dimensions: tuple[tuple[str, str], ...], values: dict[datetime, float]) -> None:
        """Datapoints of `metric_name` with `dimensions`, one for each moment in `values`."""
        data = [
            {
                "MetricName": metric_name,
                "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions],
                "Timestamp": moment,
                "Value": value,
            }
            for moment, value in values.items()
        ]
        self.client().put_metric_data(Namespace=CLOUDWATCH_NAMESPACE, MetricData=data)

    @contextmanager
    def checking_credentials(self) -> Iterator[None]:
        """moto checks every request's signature against the access keys its IAM made, and the
        key's user's policies, until the block ends (its own `/moto-api/reset-auth`)."""
        requests.post(f"{self.url}/moto-api/reset-auth", data=b"0", timeout=5).raise_for_status()
        try:
            yield
        finally:
            requests.post(f"{self.url}/moto-api/reset-auth", data=b"inf", timeout=5).raise_for_status()


@pytest.fixture(scope="session")
def cloudwatch() -> Iterator[CloudWatchServer]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    store = CloudWatchServer(url=f"http://{host}:{port}")
    minutes = [CLOUDWATCH_START + timedelta(minutes=minute) for minute in range(60)]
    store.put("ErrorRatio", CHECKOUT, {moment: history_value(minute) for minute, moment in enumerate(minutes)})
    store.put("ErrorRatio", SEARCH, dict.fromkeys(minutes, 0.5))
    seconds = {REQUESTS_MINUTE + timedelta(seconds=10 * n): value for n, value in enumerate(REQUEST_SECONDS)}
    store.put("RequestSeconds", CHECKOUT, seconds)
    try:
        yield store
    finally:
        server.stop()


@dataclass
class AccessKey:
    access_key_id: str
    secret_access_key: str = field(repr=False)


@pytest.fixture(scope="session")
def cloudwatch_keys(cloudwatch: CloudWatchServer) -> dict[str, AccessKey]:
    """Access keys moto's IAM made: "reader" may do anything, "stranger" nothing."""
    iam = cloudwatch.client("iam")
    keys = {}
    for user in ("reader", "stranger"):
        iam.create_user(UserName=user)
        made = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = AccessKey(made["AccessKeyId"], made["SecretAccessKey"])
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="reader", PolicyName="everything", PolicyDocument=json.dumps(policy))
    return keys
