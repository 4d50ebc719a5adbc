"""Tenant request rate: requests per second per API key, a token bucket in Redis shared by every API
process; without a Redis (a RabbitMQ broker and no REDIS_URL), a bucket in each API process, so N
processes let up to N times the rate through. (The other tenant limit, unfinished jobs per account, is
checked by `ledger.reserve`.)"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import OrderedDict

import redis
from redis.commands.core import Script

from orchestrator.errors import RateLimitedError

log = logging.getLogger(__name__)

# One request takes one token; the bucket holds `burst` and refills at `rate` per second. The clock is
# Redis's own, so API hosts with skewed clocks still share one bucket fairly. Returns
# {1, 0} when allowed, {0, microseconds until a token is there} when not.
BUCKET_SCRIPT = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]) or burst, tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000000)
local allowed, wait = 0, 0
if tokens >= 1 then
  tokens, allowed = tokens - 1, 1
else
  wait = math.ceil((1 - tokens) * 1000000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
"""
# While Redis is unreachable, requests go through unlimited (failing open) instead of every tenant
# being refused; it is tried again after this long, so a dead Redis costs one timeout per interval.
FAIL_OPEN_S = 5.0
REDIS_TIMEOUT_S = 0.5


# Keys whose buckets one process keeps without Redis; the least recently used beyond it are forgotten
# (a forgotten bucket starts full again, which only ever errs towards letting a request through).
LOCAL_KEYS = 100_000


class LocalBuckets:
    """The same token buckets as BUCKET_SCRIPT, in this process's memory."""

    def __init__(self) -> None:
        self._buckets: OrderedDict[uuid.UUID, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key_id: uuid.UUID, rate: int) -> int:
        """0 when a token was taken, else the microseconds until one is there."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.pop(key_id, (float(rate), now))
            tokens = min(float(rate), tokens + max(0.0, now - at) * rate)
            wait_us = 0 if tokens >= 1 else math.ceil((1 - tokens) * 1_000_000 / rate)
            self._buckets[key_id] = (tokens - 1 if wait_us == 0 else tokens, now)
            if len(self._buckets) > LOCAL_KEYS:
                self._buckets.popitem(last=False)
        return wait_us


class RateLimiter:
    """Per-API-key token buckets in Redis under the deployment's key prefix, or, with no `redis_url`,
    in this process."""

    def __init__(self, redis_url: str | None, key_prefix: str = "") -> None:
        self._redis = (
            redis.Redis.from_url(
                redis_url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
            )
            if redis_url
            else None
        )
        self._bucket = self._redis.register_script(BUCKET_SCRIPT) if self._redis is not None else None
        self._local = LocalBuckets()
        self._prefix = key_prefix
        self._open_until = 0.0
        if self._redis is None:
            log.warning(
                "rate limiter: no Redis (REDIS_URL unset, broker not Redis): each API process limits "
                "each key on its own, so N processes let up to N times the rate through"
            )

    @property
    def shared(self) -> bool:
        """Whether every API process draws from the same buckets."""
        return self._redis is not None

    def take(self, key_id: uuid.UUID, rate: int) -> None:
        """Spend one request of the key's bucket (burst = rate); RateLimitedError when it is empty."""
        bucket = self._bucket
        if bucket is None:
            wait_us = self._local.take(key_id, rate)
        else:
            wait_us = self._take_shared(bucket, key_id, rate)
        if wait_us:
            raise RateLimitedError(
                f"this API key may make {rate} requests per second; slow down and retry after the "
                "Retry-After header's seconds",
                retry_after_s=math.ceil(wait_us / 1_000_000),
            )

    def _take_shared(self, bucket: Script, key_id: uuid.UUID, rate: int) -> int:
        now = time.monotonic()
        if now < self._open_until:
            return 0
        try:
            allowed, wait_us = bucket(keys=[f"{self._prefix}ratelimit:{key_id}"], args=[rate, rate])
        except redis.RedisError as exc:
            self._open_until = now + FAIL_OPEN_S
            log.warning("rate limiter: Redis unreachable, not limiting for %.0f s: %s", FAIL_OPEN_S, exc)
            return 0
        return 0 if allowed else int(wait_us)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
