"""The per-token rate: every request counted, also at once in several workers; a request
counts for one period (give or take a tenth of it); Retry-After says when one more may come."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
import redis
from django.contrib.auth.models import User
from django.core.cache.backends.redis import RedisCache
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, TokenScope
from api.throttling import PerTokenThrottle
from tests.concurrency import run_concurrently

REDIS_URL = os.environ.get("MBREAK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOT_URL = reverse("api:root")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The throttle's time, in seconds, set by the test."""
    now = [6_000_000.0]  # the start of a minute, and of a six-second bucket
    monkeypatch.setattr(PerTokenThrottle, "timer", lambda _self: now[0])
    return now


@pytest.fixture
def headers(owner: User) -> dict[str, str]:
    _token, secret = ApiToken.objects.issue(owner, "deploys", TokenScope.READ)
    return {"Authorization": f"Bearer {secret}"}


def statuses_at(client: Client, headers: dict[str, str], clock: list[float], times: Sequence[float]) -> list[int]:
    start = clock[0]
    answers = []
    for seconds in times:
        clock[0] = start + seconds
        answers.append(client.get(ROOT_URL, headers=headers).status_code)
    clock[0] = start
    return answers


def test_a_request_counts_until_about_a_period_after_it_was_made(
    client: Client, headers: dict[str, str], clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PerTokenThrottle, "THROTTLE_RATES", {"token": "3/minute"})

    # Three in the first half minute; the fourth waits until the first leaves the count.
    assert statuses_at(client, headers, clock, [0, 10, 20, 30, 59.9, 60]) == [200, 200, 200, 429, 429, 200]


def test_in_redis_a_request_counts_for_a_period_and_its_bucket_then_expires(
    client: Client, headers: dict[str, str], clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in production, where each request is counted in one round trip to Redis."""
    shared = RedisCache(REDIS_URL, {"KEY_PREFIX": f"throttle-test-{uuid.uuid4()}"})
    monkeypatch.setattr(PerTokenThrottle, "cache", shared)
    monkeypatch.setattr(PerTokenThrottle, "THROTTLE_RATES", {"token": "3/minute"})

    answers = statuses_at(client, headers, clock, [0, 10, 20, 30, 59.9, 60])

    assert answers == [200, 200, 200, 429, 429, 200]
    token = ApiToken.objects.get()
    first_bucket = f"throttle:token:{token.pk}:{int(clock[0] // 6)}"
    assert shared.get(first_bucket) == 1  # the refused requests were not counted
    assert 0 < redis.Redis.from_url(REDIS_URL).ttl(shared.make_and_validate_key(first_bucket)) <= 61


def test_retry_after_says_when_the_oldest_request_leaves_the_count(
    client: Client, headers: dict[str, str], clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PerTokenThrottle, "THROTTLE_RATES", {"token": "3/minute"})
    statuses_at(client, headers, clock, [0, 10, 20])

    clock[0] += 30
    refused = client.get(ROOT_URL, headers=headers)
    clock[0] += 31  # at 61 s, the request of 0 s has left; those of 10 and 20 s still count
    allowed = client.get(ROOT_URL, headers=headers)
    again = client.get(ROOT_URL, headers=headers)

    assert (refused.status_code, allowed.status_code, again.status_code) == (429, 200, 429)
    assert refused["Retry-After"] == "30"
    assert refused.json()["code"] == "throttled"
    assert again["Retry-After"] == "5"  # the request of 10 s leaves with its bucket, at 66 s


def test_a_refused_request_is_not_counted(
    client: Client, headers: dict[str, str], clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PerTokenThrottle, "THROTTLE_RATES", {"token": "2/minute"})

    # Ten refusals in the first minute do not delay the second one.
    times = [0, 1] + [2 + each for each in range(10)] + [60, 61, 62]
    assert statuses_at(client, headers, clock, times) == [200, 200] + [429] * 10 + [200, 200, 429]


def test_wrong_tokens_are_counted_against_their_address_and_slowed_down(
    client: Client, headers: dict[str, str], clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PerTokenThrottle, "THROTTLE_RATES", {"token": "3/minute"})
    wrong = {"Authorization": "Bearer mb_guessed"}

    refused = statuses_at(client, wrong, clock, [0, 1, 2, 3])
    throttled = client.get(ROOT_URL, headers=wrong)
    # A valid token from the same address has its own count.
    mine = statuses_at(client, headers, clock, [4, 5, 6])

    assert refused == [401, 401, 401, 429]
    assert (throttled.json()["code"], throttled["Retry-After"]) == ("throttled", "60")
    assert mine == [200, 200, 200]


def test_requests_made_at_once_in_several_workers_are_each_counted(owner: User) -> None:
    """Against Redis, as in production: 16 threads at once get exactly the rate, no more, no less."""
    token, _secret = ApiToken.objects.issue(owner, "pipeline", TokenScope.READ)
    shared = RedisCache(REDIS_URL, {"KEY_PREFIX": f"throttle-test-{uuid.uuid4()}"})
    request = SimpleNamespace(auth=token, user=owner)

    def worker() -> list[bool]:
        throttle = PerTokenThrottle()
        return [throttle.allow_request(request, None) for _ in range(10)]  # type: ignore[arg-type]

    with (
        mock.patch.object(PerTokenThrottle, "cache", shared),
        mock.patch.object(PerTokenThrottle, "THROTTLE_RATES", {"token": "50/hour"}),
    ):
        allowed = [answer for answers in run_concurrently(*[worker] * 16) for answer in answers]

    assert len(allowed) == 160
    assert allowed.count(True) == 50


def test_with_the_cache_unreachable_requests_are_answered_and_the_outage_logged(
    client: Client, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(PerTokenThrottle, "THROTTLE_RATES", {"token": "1/minute"})

    def unreachable(*_args: Any, **_kwargs: Any) -> None:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with mock.patch.multiple(PerTokenThrottle.cache, incr=unreachable, add=unreachable, get_many=unreachable):
        answers = [client.get(ROOT_URL, headers=headers).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert "cache unreachable: API request not throttled" in caplog.text
