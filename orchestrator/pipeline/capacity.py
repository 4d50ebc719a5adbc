"""Admission: which channel a queued job goes to, under each channel's global concurrency cap.

The cap counts a channel's upstream-active jobs in PostgreSQL under a per-channel advisory lock
held to the end of the claiming transaction, so it holds across every worker on every host and a
crashed worker can never leak a slot: a slot is freed by its job's own state change. A job no
channel can take stays `queued` (no worker waits for it) and is admitted first in, first out.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from orchestrator.models import ChannelState, Job, table
from orchestrator.pipeline import channel_health, channels
from orchestrator.settings import Settings

ACTIVE_STATES = ("submitting", "submitted", "running", "action_required")


@dataclass(frozen=True)
class Option:
    """A channel as admission sees it: the file's settings with operators' overrides applied."""

    name: str
    enabled: bool
    weight: int
    max_concurrency: int | None
    state: ChannelState | None


def options(session: Session, settings: Settings, provider: str) -> list[Option]:
    configs = channels.configured(settings, provider)
    states = {
        state.name: state
        for state in session.execute(select(ChannelState).where(ChannelState.provider == provider)).scalars()
    }
    if not configs:
        state = states.get(channels.DEFAULT_CHANNEL)
        return [_option(channels.DEFAULT_CHANNEL, True, 1, None, state)]
    return [_option(c.name, c.enabled, c.weight, c.max_concurrency, states.get(c.name)) for c in configs]


def _option(name: str, enabled: bool, weight: int, cap: int | None, state: ChannelState | None) -> Option:
    if state is not None:
        enabled = state.enabled if state.enabled is not None else enabled
        weight = state.weight or weight
        cap = state.max_concurrency if state.max_concurrency is not None else cap
    return Option(name, enabled, weight, cap, state)


def is_capped(session: Session, settings: Settings, provider: str) -> bool:
    return any(option.max_concurrency is not None for option in options(session, settings, provider))


def choose(session: Session, settings: Settings, provider: str, only: str | None = None) -> str | None:
    """A channel that can take one more job now (picked by weight), or None: wait for capacity.
    `only` names the one channel a job may go to (a follow-up on its parent's upstream account).

    Locks every capped candidate (in name order, so claimers never deadlock) until the caller's
    transaction ends: the count and the claim that follows are one atomic step per channel.
    """
    now = datetime.now(UTC)
    healthy = [
        o
        for o in options(session, settings, provider)
        if o.enabled and channel_health.allows(o.state, now) and only in {None, o.name}
    ]
    free = []
    for option in sorted(healthy, key=lambda o: o.name):
        if option.max_concurrency is None or _active(session, provider, option) < option.max_concurrency:
            free.append(option)
    if not free:
        return None
    return random.choices(free, weights=[o.weight for o in free])[0].name  # noqa: S311 - load spreading


def is_configured(session: Session, settings: Settings, provider: str, name: str) -> bool:
    return any(option.name == name for option in options(session, settings, provider))


def has_other_healthy(session: Session, settings: Settings, provider: str, exclude: str | None) -> bool:
    """Whether another enabled channel with a closed breaker could serve the provider (failover)."""
    now = datetime.now(UTC)
    return any(
        o.enabled and o.name != exclude and channel_health.allows(o.state, now)
        for o in options(session, settings, provider)
    )


def _active(session: Session, provider: str, option: Option) -> int:
    key = int.from_bytes(
        hashlib.sha256(f"channel:{provider}:{option.name}".encode()).digest()[:8], "big", signed=True
    )
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    return int(
        session.execute(
            select(func.count())
            .select_from(Job)
            .where(Job.provider == provider, Job.channel == option.name, Job.state.in_(ACTIVE_STATES))
        ).scalar_one()
    )


_jobs = table(Job)
_OLDEST_WAITING = (
    select(_jobs.c.job_id)
    .where(
        _jobs.c.provider == bindparam("waiting_provider"),
        _jobs.c.state == "queued",
        _jobs.c.awaiting_capacity.is_(True),
    )
    .order_by(_jobs.c.created_at)
    .limit(1)
    .with_for_update(skip_locked=True)
)


def oldest_waiting(session: Session, provider: str) -> uuid.UUID | None:
    """The job that has waited longest for capacity, locked for this transaction."""
    return session.execute(_OLDEST_WAITING, {"waiting_provider": provider}).scalar()


def providers_waiting(session: Session) -> list[str]:
    rows = session.execute(
        select(Job.provider)
        .where(Job.state == "queued", Job.awaiting_capacity.is_(True))
        .group_by(Job.provider)
    )
    return [str(row.provider) for row in rows]
