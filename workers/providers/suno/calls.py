"""Where Suno's routes are and how they are called (a bearer key, on CometAPI or a self-hosted Suno-API
proxy), and what a refusal of a call means: another channel may serve it, never with this input, or
the content was refused."""

from __future__ import annotations

import httpx

from workers.providers.base import Channel
from workers.providers.errors import ProviderError, ProviderRejectedError, ProviderUnavailableError
from workers.providers.suno.wire import MODERATION_TEXT, NOT_NOW_TEXT
from workers.providers.transport import retry_after_seconds

PROVIDER = "suno"


def auth_headers(channel: Channel) -> dict[str, str]:
    """CometAPI and the Suno-API proxy (its SECRET_TOKEN) both take a bearer key."""
    return {"Authorization": f"Bearer {channel.api_key}"}


def base(channel: Channel) -> str:
    return f"{channel.base_url.rstrip('/')}/suno"


def refusal_error(
    response: httpx.Response, reason: tuple[str, str], refused: str = "invalid_input"
) -> ProviderError:
    """What an answer other than "success" means, once gateway statuses are ruled out; `refused` is the
    code of a request Suno will never serve as it is (the caller's input, or a persona it won't make)."""
    status, (code, message) = response.status_code, reason
    text = f"{code} {message}".strip() or f"HTTP {status}"
    retry_after = retry_after_seconds(response)
    if status in (401, 402):
        # A key this channel can't use, or upstream credits exhausted: another channel may serve it.
        return ProviderUnavailableError(f"suno: HTTP {status}: {text}", retry_after=retry_after)
    own = {"provider_code": code or None, "provider_message": message or None}
    if MODERATION_TEXT.search(message):
        return ProviderRejectedError("moderation_blocked", f"Suno refused the content: {message}", **own)
    if NOT_NOW_TEXT.search(text):
        return ProviderUnavailableError(f"suno: {text}", retry_after=retry_after)
    return ProviderRejectedError(refused, f"Suno rejected the request (HTTP {status}): {text}", **own)
