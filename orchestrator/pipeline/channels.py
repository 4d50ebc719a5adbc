"""Upstream channels: where each provider's jobs go (CometAPI, or the vendor's own API) and with
which credentials. Read from a channel file (`deploy/channels.toml` shape) validated at start;
without one, every provider has a single channel: CometAPI (or the simulator) from settings.

Keys never live in the file: it names the environment variables that hold them.
"""

from __future__ import annotations

import os
import random
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchestrator.settings import Settings
from workers.providers import PROVIDERS
from workers.providers.base import Channel

DEFAULT_CHANNEL = "default"


class ChannelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    base_url: str = Field(pattern=r"^https?://")
    mode: Literal["cometapi", "vendor"] = "cometapi"
    api_key_env: str = Field(description="Environment variable holding the key.")
    secret_key_env: str | None = Field(default=None, description="For vendors that sign (Kling's JWT).")
    weight: int = Field(default=1, ge=1)
    max_concurrency: int | None = Field(default=None, ge=1)
    enabled: bool = True

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value not in PROVIDERS:
            raise ValueError(f"unknown provider {value!r}; known: {sorted(PROVIDERS)}")
        return value

    def channel(self) -> Channel:
        key = os.environ.get(self.api_key_env, "")
        secret = os.environ.get(self.secret_key_env, "") if self.secret_key_env else ""
        return Channel(self.name, self.base_url, api_key=key, mode=self.mode, secret_key=secret)


class ChannelFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: list[ChannelConfig] = Field(default_factory=list)


@lru_cache(maxsize=4)
def load_channels(path: Path) -> tuple[ChannelConfig, ...]:
    """The channels of a file; ValueError naming the problem if it is not valid."""
    try:
        parsed = ChannelFile.model_validate(tomllib.loads(path.read_text()))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ValueError(f"invalid channel file {path}: {exc}") from exc
    names = [(c.provider, c.name) for c in parsed.channel]
    if len(names) != len(set(names)):
        raise ValueError(f"channel file {path} names a channel twice for one provider")
    return tuple(parsed.channel)


def configured(settings: Settings, provider: str) -> list[ChannelConfig]:
    if settings.channels_file is None:
        return []
    return [c for c in load_channels(settings.channels_file) if c.provider == provider]


def _default(settings: Settings) -> Channel:
    return Channel(
        name=DEFAULT_CHANNEL,
        base_url=settings.upstream_base_url,
        api_key=settings.upstream_api_key.get_secret_value(),
        mode="cometapi",
    )


def channel_for(settings: Settings, provider: str, name: str | None = None) -> Channel:
    """The named channel (the one that accepted a job), or one picked by weight among the enabled."""
    channels = configured(settings, provider)
    if not channels:
        return _default(settings)
    if name is not None:
        for config in channels:
            if config.name == name:
                return config.channel()
    enabled = [c for c in channels if c.enabled] or channels
    return random.choices(enabled, weights=[c.weight for c in enabled])[0].channel()  # noqa: S311


def upstream_callback_url(settings: Settings, provider: str, token: str) -> str:
    """The URL a provider calls back on: unguessable per job, so a callback cannot touch another job."""
    return f"{settings.public_base_url.rstrip('/')}/callbacks/{provider}/{token}"


def secrets_of(settings: Settings) -> list[str]:
    """Every upstream credential this deployment holds (the settings' key and each channel's)."""
    values = [settings.upstream_api_key.get_secret_value()]
    if settings.channels_file is not None:
        for config in load_channels(settings.channels_file):
            channel = config.channel()
            values += [channel.api_key, channel.secret_key]
    return [value for value in values if len(value) >= 6]


def redact(settings: Settings, text: str) -> str:
    """`text` (an upstream's error message, say) with any of our upstream credentials blanked out:
    providers sometimes echo the key they were given, and these messages reach tenants. Callers go
    through `failures.redacted` / `failures.failure_message`, which add the generic patterns."""
    for secret in secrets_of(settings):
        text = text.replace(secret, "[redacted]")
    return text
