"""When to look at a job again: poll cadence and retry back-off, with jitter so herds spread out."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from orchestrator.settings import PollPolicy


def poll_delay(policy: PollPolicy, polls_done: int) -> float:
    """Seconds until the next poll: `initial_s`, growing by `factor` per poll, capped at `max_s`."""
    delay = policy.initial_s * policy.factor ** max(0, polls_done)
    return min(delay, policy.max_s)


# A poll placed by progress lands a little after the predicted end rather than just before it.
ETA_MARGIN = 1.05
ETA_MARGIN_S = 0.2
MIN_ETA_DELAY_S = 1.0


def progress_eta_s(progress: int, previous_progress: int, seconds_since_previous: float) -> float | None:
    """Seconds until the task reaches 100 %, if its progress keeps rising as it did since the previous
    report; None when it did not rise (nothing to extrapolate)."""
    rise = progress - previous_progress
    if rise <= 0 or seconds_since_previous <= 0 or progress >= 100:
        return None
    return (100 - progress) * seconds_since_previous / rise


def next_poll_delay(policy: PollPolicy, polls_done: int, eta_s: float | None = None) -> float:
    """The policy's delay, or, when the provider's progress predicts the end, a poll just after it
    (sooner than the policy for a task about to finish, later for one far from it; never past `max_s`)."""
    if eta_s is None:
        return poll_delay(policy, polls_done)
    return min(max(eta_s * ETA_MARGIN + ETA_MARGIN_S, MIN_ETA_DELAY_S), policy.max_s)


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
