"""Operators' view of the upstream channels and their changes to them (kept as overrides of the
channel file in `channel_states`, next to each channel's breaker)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from orchestrator.errors import NotFoundError
from orchestrator.models import ChannelState, Job
from orchestrator.pipeline import capacity, channels
from orchestrator.settings import Settings
from schemas.admin import ChannelBreaker, ChannelView
from workers.providers import PROVIDERS


def list_channels(session: Session, settings: Settings) -> list[ChannelView]:
    rows = session.execute(
        select(Job.provider, Job.channel, func.count())
        .where(Job.state.in_(capacity.ACTIVE_STATES))
        .group_by(Job.provider, Job.channel)
    ).all()
    active = {f"{provider}/{channel}": int(count) for provider, channel, count in rows}
    views = []
    for provider in sorted(PROVIDERS):
        for option in capacity.options(session, settings, provider):
            endpoint = channels.channel_for(settings, provider, option.name)
            state = option.state
            views.append(
                ChannelView(
                    provider=provider,
                    name=option.name,
                    base_url=endpoint.base_url,
                    mode=endpoint.mode,
                    enabled=option.enabled,
                    weight=option.weight,
                    max_concurrency=option.max_concurrency,
                    active_jobs=active.get(f"{provider}/{option.name}", 0),
                    breaker=ChannelBreaker(
                        consecutive_failures=state.consecutive_failures if state else 0,
                        open_until=state.open_until if state else None,
                        last_error=state.last_error if state else None,
                    ),
                )
            )
    return views


def update_channel(
    session: Session, settings: Settings, provider: str, name: str, changes: dict[str, Any]
) -> None:
    """Apply overrides (from `ChannelUpdate`, fields set explicitly) to a known channel."""
    known = (
        {option.name for option in capacity.options(session, settings, provider)}
        if provider in PROVIDERS
        else set()
    )
    if name not in known:
        raise NotFoundError(f"no channel {name!r} for provider {provider!r}; see GET /admin/v1/channels")
    statement = insert(ChannelState).values(provider=provider, name=name, **changes)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[ChannelState.provider, ChannelState.name],
            set_={**changes, "updated_at": func.now()},
        )
    )
