"""The circuit breaker of each upstream channel, kept in PostgreSQL so every worker sees it.

Consecutive transient failures open a channel for a cool-down (a 429's Retry-After rests it at
least that long); then it is tried again (half-open): a success closes it, a failure reopens it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, or_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from orchestrator.models import ChannelState, table
from orchestrator.settings import Settings


def allows(state: ChannelState | None, now: datetime) -> bool:
    return state is None or state.open_until is None or state.open_until <= now


def record_failure(
    session: Session, settings: Settings, provider: str, name: str, error: str, retry_after: float | None
) -> None:
    upsert = insert(ChannelState).values(
        provider=provider, name=name, consecutive_failures=1, last_error=error[:500]
    )
    row = session.execute(
        upsert.on_conflict_do_update(
            index_elements=[ChannelState.provider, ChannelState.name],
            set_={
                "consecutive_failures": ChannelState.consecutive_failures + 1,
                "last_error": error[:500],
                "updated_at": func.now(),
            },
        ).returning(ChannelState.consecutive_failures, ChannelState.open_until)
    ).one()
    now = datetime.now(UTC)
    candidates = [row.open_until or now]
    if row.consecutive_failures >= settings.breaker_failures:
        candidates.append(now + timedelta(seconds=settings.breaker_cooldown_s))
    if retry_after:
        candidates.append(now + timedelta(seconds=retry_after))
    open_until = max(candidates)
    if open_until > now:
        session.execute(
            update(ChannelState)
            .where(ChannelState.provider == provider, ChannelState.name == name)
            .values(open_until=open_until)
        )


_channels = table(ChannelState)
# Only a channel that had failures is written to: on a healthy channel this changes no row.
_CLOSE = (
    update(_channels)
    .where(
        _channels.c.provider == bindparam("closing_provider"),
        _channels.c.name == bindparam("closing_name"),
        or_(_channels.c.consecutive_failures > 0, _channels.c.open_until.is_not(None)),
    )
    .values(consecutive_failures=0, open_until=None, updated_at=func.now())
)


def record_success(session: Session, provider: str, name: str) -> None:
    session.execute(_CLOSE, {"closing_provider": provider, "closing_name": name})
