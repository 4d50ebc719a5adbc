"""Tenant request rate: requests per second per API key, a token bucket in Redis shared by every API
process. (The other tenant limit, unfinished jobs per account, is checked by `ledger.reserve`.)"""

from __future__ import annotations

import logging
import math
import time
import uuid

import redis

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


class RateLimiter:
    """Per-API-key token buckets in the broker's Redis, under the deployment's key prefix."""

    def __init__(self, redis_url: str, key_prefix: str = "") -> None:
        self._redis = redis.Redis.from_url(
            redis_url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
        )
        self._bucket = self._redis.register_script(BUCKET_SCRIPT)
        self._prefix = key_prefix
        self._open_until = 0.0

    def take(self, key_id: uuid.UUID, rate: int) -> None:
        """Spend one request of the key's bucket (burst = rate); RateLimitedError when it is empty."""
        now = time.monotonic()
        if now < self._open_until:
            return
        try:
            allowed, wait_us = self._bucket(keys=[f"{self._prefix}ratelimit:{key_id}"], args=[rate, rate])
        except redis.RedisError as exc:
            self._open_until = now + FAIL_OPEN_S
            log.warning("rate limiter: Redis unreachable, not limiting for %.0f s: %s", FAIL_OPEN_S, exc)
            return
        if not allowed:
            raise RateLimitedError(
                f"this API key may make {rate} requests per second; slow down and retry after the "
                "Retry-After header's seconds",
                retry_after_s=math.ceil(int(wait_us) / 1_000_000),
            )

    def close(self) -> None:
        self._redis.close()
