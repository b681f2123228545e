"""The client's address comes from our own proxies, never from a header anyone can send: a
new X-Forwarded-For on each request does not escape the wrong-token limit."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client, RequestFactory
from django.urls import reverse

from api.throttling import PerTokenThrottle
from mbreak.http import client_address

EB_CONFIG = Path(__file__).resolve().parent.parent / ".ebextensions" / "01_django.config"
WRONG_TOKEN = {"Authorization": "Bearer mb_guessed"}


@pytest.fixture
def behind_elastic_beanstalk(settings: Any) -> list[str]:
    """The proxies the deployment documents: what .ebextensions sets."""
    environment = yaml.safe_load(EB_CONFIG.read_text(encoding="utf-8"))["option_settings"][
        "aws:elasticbeanstalk:application:environment"
    ]
    settings.MBREAK_TRUSTED_PROXIES = environment["MBREAK_TRUSTED_PROXIES"].split(",")
    return list(settings.MBREAK_TRUSTED_PROXIES)


@pytest.fixture
def three_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PerTokenThrottle, "THROTTLE_RATES", {"token": "3/minute"})


def statuses(client: Client, requests: list[dict[str, Any]]) -> list[int]:
    return [client.get(reverse("api:root"), headers=WRONG_TOKEN, **meta).status_code for meta in requests]


def test_a_new_forwarded_for_on_each_request_does_not_escape_the_limit(
    client: Client, db: None, three_a_minute
) -> None:
    rotating = [{"HTTP_X_FORWARDED_FOR": f"198.51.100.{each}"} for each in range(1, 7)]
    assert statuses(client, rotating) == [401, 401, 401, 429, 429, 429]


def test_behind_the_documented_proxies_a_forged_address_left_of_the_real_one_does_not_escape_the_limit(
    client: Client, db: None, three_a_minute, behind_elastic_beanstalk
) -> None:
    # The load balancer appends the client's address; nginx appends the load balancer's.
    forged = [
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": f"198.51.100.{each}, 203.0.113.7, 172.31.5.6"}
        for each in range(1, 6)
    ]
    another_client = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.99, 172.31.5.6"}

    assert statuses(client, forged) == [401, 401, 401, 429, 429]
    assert statuses(client, [another_client]) == [401]  # a count of its own


@pytest.mark.parametrize(
    ("remote", "forwarded", "client"),
    [
        ("127.0.0.1", "203.0.113.7, 172.31.5.6", "203.0.113.7"),  # load balancer, then nginx
        ("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.1.2.3", "203.0.113.7"),  # a forged entry on the left
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),  # nginx alone
        ("127.0.0.1", "2001:db8::7, 172.31.5.6", "2001:db8::7"),
        ("127.0.0.1", "not an address, 172.31.5.6", "172.31.5.6"),  # the last address a proxy wrote
        ("127.0.0.1", "", "127.0.0.1"),  # from the instance itself
        ("203.0.113.7", "6.6.6.6", "203.0.113.7"),  # straight to the app: the header is the client's
    ],
)
def test_the_client_address_is_the_last_before_the_documented_proxies(
    behind_elastic_beanstalk, remote: str, forwarded: str, client: str
) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == client


def test_with_no_trusted_proxy_the_header_is_ignored(settings: Any) -> None:
    settings.MBREAK_TRUSTED_PROXIES = []
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert client_address(request) == "127.0.0.1"


def test_the_documented_proxies_are_nginx_and_private_networks_only(behind_elastic_beanstalk: list[str]) -> None:
    networks = [ipaddress.ip_network(entry) for entry in behind_elastic_beanstalk]
    assert all(network.is_private for network in networks)
    assert ipaddress.ip_address("127.0.0.1") in networks[0]
