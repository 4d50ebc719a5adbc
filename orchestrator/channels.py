"""Which upstream channel serves a provider. One channel per provider, from settings, for now."""

from __future__ import annotations

from orchestrator.settings import Settings
from workers.providers.base import Channel

DEFAULT_CHANNEL = "default"


def channel_for(settings: Settings, provider: str, name: str | None = None) -> Channel:
    """The channel a job goes to (`name` is the one that accepted it, when it has been submitted)."""
    return Channel(
        name=name or DEFAULT_CHANNEL,
        base_url=settings.upstream_base_url,
        api_key=settings.upstream_api_key.get_secret_value(),
        mode="cometapi",
    )


def upstream_callback_url(settings: Settings, provider: str, token: str) -> str:
    """The URL a provider calls back on: unguessable per job, so a callback cannot touch another job."""
    return f"{settings.public_base_url.rstrip('/')}/callbacks/{provider}/{token}"
