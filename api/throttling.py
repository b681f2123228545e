from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.utils.connection import ConnectionProxy
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiToken
from mbreak.http import client_address

logger = logging.getLogger(__name__)

# The rate's period is counted in this many buckets.
BUCKETS = 10


class PerTokenThrottle(SimpleRateThrottle):
    """`MBREAK_API_RATE` requests per token (per user for a browser session, per address for
    anonymous requests and refused tokens), counted in the shared cache. Over it: 429 with
    Retry-After.

    The period is counted in ten buckets, a tenth of it each: a request counts from when it
    is made until its bucket is ten buckets old, 0.9 to 1 period later. Each request adds
    itself to its bucket with one atomic increment, so requests that arrive at once in
    several workers are all counted. (DRF's own throttle reads the list of a token's
    request times, adds one and writes the list back: requests at once overwrote each
    other's entries, and 16 connections got a token twice its rate.) A refused request is
    not counted.
    """

    scope = "token"
    retry_after = 0.0  # seconds, once a request is refused
    # Set from the rate by DRF (None when there is no rate, and then nothing is counted).
    num_requests: int
    duration: int

    def get_cache_key(self, request: Request, view: Any) -> str:
        if isinstance(request.auth, ApiToken):
            return f"throttle:token:{request.auth.pk}"
        if request.user and request.user.is_authenticated:
            return f"throttle:user:{request.user.pk}"
        return f"throttle:address:{self.get_ident(request)}"

    def get_ident(self, request: Request) -> str:
        """The client's address, read past our own proxies only (DRF's reads X-Forwarded-For
        as sent: a new address in each request escaped the limit)."""
        return client_address(request)

    def allow_request(self, request: Request, view: Any) -> bool:
        return self._allowed(lambda: self.get_cache_key(request, view))

    def allow_refused_token(self, request: Request) -> bool:
        """For a request whose token is refused (unknown, expired or revoked), counted against
        its address's anonymous rate: DRF answers 401 before any throttle runs, so a client
        sending wrong tokens was never slowed down."""
        return self._allowed(lambda: f"throttle:address:{self.get_ident(request)}")

    def _allowed(self, key: Callable[[], str]) -> bool:
        if self.rate is None:
            return True
        try:
            return self._admit(key())
        except Exception:
            # The cache (Redis) unreachable: answer rather than fail; the outage is logged.
            logger.warning("cache unreachable: API request not throttled", exc_info=True)
            return True

    def _admit(self, key: str) -> bool:
        width = self.duration / BUCKETS
        now = self.timer()
        current = int(now // width)
        mine = f"{key}:{current}"
        earlier_keys = [f"{key}:{bucket}" for bucket in range(current - BUCKETS + 1, current)]
        counter = counter_for(self.cache)
        position, earlier = counter.count(mine, earlier_keys, int(self.duration) + 1)
        # This request's own position in its bucket, not the bucket's count read afterwards:
        # requests counted meanwhile would make both refuse where one had room.
        counts = [*earlier, position]
        if sum(counts) <= self.num_requests:
            return True
        counter.uncount(mine)
        counts[-1] -= 1
        # Room for one more request once enough of the oldest buckets have left the count:
        # the bucket `age` places after the oldest counted leaves it `age + 1` widths after
        # the current one began.
        self.retry_after = float(self.duration)
        excess = sum(counts) + 1 - self.num_requests
        for age, count in enumerate(counts):
            excess -= count
            if excess <= 0:
                self.retry_after = (current + age + 1) * width - now
                break
        return False

    def wait(self) -> float:
        return self.retry_after


class CacheCounter:
    """The buckets in any Django cache (the local memory of development and tests)."""

    def __init__(self, cache: BaseCache) -> None:
        self.cache = cache

    def count(self, key: str, earlier_keys: list[str], seconds: int) -> tuple[int, list[int]]:
        """Add a request to the bucket `key`: its position there, and the counts of the
        buckets `earlier_keys`. The key outlives the period (`seconds`), so no increment
        meets an expiring key."""
        position = self._increment(key, seconds)
        earlier = self.cache.get_many(earlier_keys)
        return position, [int(earlier.get(each, 0)) for each in earlier_keys]

    def _increment(self, key: str, seconds: int) -> int:
        try:
            return int(self.cache.incr(key))
        except ValueError:  # the bucket's first request
            if self.cache.add(key, 1, timeout=seconds):
                return 1
            return int(self.cache.incr(key))  # another worker's request began it meanwhile

    def uncount(self, key: str) -> None:
        self.cache.decr(key)


class RedisCounter(CacheCounter):
    """The buckets in Redis, counted in one round trip: INCR (which begins a missing bucket at
    1), EXPIRE and MGET of the earlier buckets, sent together as one transaction (no bucket
    is left without its expiry). Through the cache's own interface it took three round trips
    (Django's `incr` asks whether the key exists first, then increments; then `get_many`).
    The values are the plain integers Django's Redis cache stores and reads for an integer."""

    cache: RedisCache

    def count(self, key: str, earlier_keys: list[str], seconds: int) -> tuple[int, list[int]]:
        name = self.cache.make_and_validate_key(key)
        earlier_names = [self.cache.make_and_validate_key(each) for each in earlier_keys]
        pipeline = self._client(key).pipeline(transaction=True)
        pipeline.incr(name)
        # Renewed at each increment: a bucket is counted into only during its own tenth of
        # the period, so it still outlives the period.
        pipeline.expire(name, seconds)
        pipeline.mget(earlier_names)
        position, _renewed, earlier = pipeline.execute()
        return int(position), [int(each) if each is not None else 0 for each in earlier]

    def uncount(self, key: str) -> None:
        self._client(key).decr(self.cache.make_and_validate_key(key))

    def _client(self, key: str) -> Any:
        """The cache's own Redis client (its connection pool and timeouts), of its first server:
        Django's Redis cache writes there (any others are read replicas)."""
        return self.cache._cache.get_client(key, write=True)  # type: ignore[attr-defined]  # not in django-stubs


def counter_for(cache: BaseCache) -> CacheCounter:
    """Where the buckets are counted: in one round trip when the cache is Redis."""
    # DRF's throttles use `django.core.cache.cache`, a proxy to the default cache.
    backend = caches[DEFAULT_CACHE_ALIAS] if isinstance(cache, ConnectionProxy) else cache
    return RedisCounter(backend) if isinstance(backend, RedisCache) else CacheCounter(cache)
