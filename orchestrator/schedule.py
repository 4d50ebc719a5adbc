"""When to look at a job again: poll cadence and retry back-off, with jitter so herds spread out."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from orchestrator.settings import PollPolicy


def poll_delay(policy: PollPolicy, polls_done: int) -> float:
    """Seconds until the next poll: `initial_s`, growing by `factor` per poll, capped at `max_s`."""
    delay = policy.initial_s * policy.factor ** max(0, polls_done)
    return min(delay, policy.max_s)


def retry_delay(
    attempt: int, *, base_s: float = 2.0, cap_s: float = 300.0, retry_after: float | None = None
) -> float:
    """Exponential back-off with full jitter, never sooner than the provider's `Retry-After`."""
    backoff = min(cap_s, base_s * 2 ** max(0, attempt - 1))
    delay = random.uniform(backoff / 2, backoff)  # noqa: S311 - jitter, not security
    return max(delay, retry_after or 0.0)


def at_most(when: datetime, deadline: datetime) -> datetime:
    return min(when, deadline)


def after(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)
