"""OpenAI's video object and error answers read as our types, as pure functions (§3.2, §3.6): the four
statuses and the aggregators' own (cancelled, expired), failures told apart (moderation, a model the
upstream no longer serves), and a finished video's files as outputs fetched with the channel's key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import ValidationError

from workers.providers.base import OutputRef, ProviderUpdate, UpstreamStatus
from workers.providers.errors import (
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.sora.schemas import SoraVideo
from workers.providers.transport import Phase, raise_for_transient_status

STATUS_MAP: Mapping[str, UpstreamStatus] = {
    "queued": UpstreamStatus.PENDING,
    "in_progress": UpstreamStatus.RUNNING,
    "completed": UpstreamStatus.SUCCEEDED,
    "failed": UpstreamStatus.FAILED,
    # Gateways that pass OpenAI's shape on add these (OpenRouter [P]).
    "cancelled": UpstreamStatus.CANCELLED,
    "canceled": UpstreamStatus.CANCELLED,
    "expired": UpstreamStatus.EXPIRED,
    "pending": UpstreamStatus.PENDING,
}
# OpenAI publishes no catalogue of error codes [M]: moderation is told by its words in the code or message.
SAFETY_TEXT = re.compile(
    r"moderat|safety|content[ _]?polic|polic(y|ies)|violat|sensitive|prohibit|celebrit|likeness|blocked",
    re.IGNORECASE,
)
# How an upstream says it does not (any longer) serve a model: OpenAI's `model_not_found`, gateways'
# "no available channel" [P]; after 2026-09-24 every `sora-*` model answers so on OpenAI's own API.
GONE_TEXT = re.compile(
    r"model_not_found|does not exist|not (be )?available|no available channel|deprecated|shut ?down|"
    r"discontinued|unsupported model|model.{0,40}not (found|supported)",
    re.IGNORECASE,
)
NOT_FOUND_TEXT = ("not_found", "not found", "not_exist", "not exist")
# The `/content` variants stored besides the video: their labels are what the shared `/v1/videos`
# family serves as `?variant=` (thumbnail WebP, spritesheet JPEG [M: types read from the answer]).
VARIANTS = (("video", "video/mp4"), ("thumbnail", "image/webp"), ("spritesheet", "image/jpeg"))


def error_text(response: httpx.Response) -> str:
    """The message and code of an error answer: OpenAI's `{"error": {...}}` or a bare `{code, message}`."""
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:300] or f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return str(body)[:300]
    nested = body.get("error")
    error: dict[str, Any] = nested if isinstance(nested, dict) else body
    parts = (error.get("message") or (nested if isinstance(nested, str) else None), error.get("code"))
    return " ".join(str(part) for part in parts if part not in (None, "")) or f"HTTP {response.status_code}"


def created_id(response: httpx.Response) -> str:
    """The video id of a create's answer; a refusal raised as the error it proves."""
    if response.is_success:
        try:
            video = SoraVideo.model_validate(response.json())
        except (ValueError, ValidationError):
            video = None
        if video is None or not video.id:
            raise SubmitOutcomeUnknownError(
                f"sora: create answered HTTP {response.status_code} without an id"
            )
        return video.id
    raise refusal(response)


def refusal(response: httpx.Response) -> Exception:
    """What a create's error answer proves: nothing made and worth retrying, or a refusal for good."""
    message, status = error_text(response), response.status_code
    if status in (401, 403) and not GONE_TEXT.search(message):
        # The channel's key (or organisation) was refused: another channel may take it.
        return ProviderUnavailableError(f"sora: the channel refused its key: {message}")
    try:
        raise_for_transient_status(response, Phase.SUBMIT, "sora")
    except (ProviderUnavailableError, SubmitOutcomeUnknownError) as exc:
        return exc
    if status in (404, 410) or GONE_TEXT.search(message):
        # Never retried: a model that is gone stays gone (OpenAI's Sora API after 2026-09-24).
        return ProviderRejectedError(
            "model_not_available",
            f"the upstream no longer serves this model: {message}",
            provider_message=message,
        )
    code = "moderation_blocked" if SAFETY_TEXT.search(message) else "invalid_input"
    return ProviderRejectedError(code, f"Sora refused the request: {message}", provider_message=message)


def is_not_found(response: httpx.Response) -> bool:
    """An unknown video: right after a create on some gateways, so the job keeps waiting."""
    if response.status_code == 404:
        return True
    text = error_text(response).lower() if response.status_code == 400 else ""
    return any(marker in text for marker in NOT_FOUND_TEXT)


def read_query(response: httpx.Response, base_url: str) -> ProviderUpdate:
    if is_not_found(response):
        return ProviderUpdate(status=UpstreamStatus.UNKNOWN, raw_status="not_found")
    raise_for_transient_status(response, Phase.QUERY, "sora")
    try:
        if not response.is_success:
            raise ValueError(error_text(response))
        return update(SoraVideo.model_validate(response.json()), base_url)
    except (ValueError, ValidationError) as exc:
        raise ProviderUnavailableError(
            f"sora: unreadable query answer (HTTP {response.status_code}): {exc}"
        ) from exc


def update(video: SoraVideo, base_url: str) -> ProviderUpdate:
    status = STATUS_MAP.get(video.status.lower(), UpstreamStatus.UNKNOWN)
    if status in (UpstreamStatus.FAILED, UpstreamStatus.CANCELLED, UpstreamStatus.EXPIRED):
        return _ended(video, status)
    outputs = outputs_of(video.id, base_url) if status is UpstreamStatus.SUCCEEDED else ()
    return ProviderUpdate(
        status=status,
        raw_status=video.status,
        progress=100 if status is UpstreamStatus.SUCCEEDED else percent(video.progress),
        outputs=outputs,
        external_id=video.id,
        result=result_of(video),
    )


def _ended(video: SoraVideo, status: UpstreamStatus) -> ProviderUpdate:
    error = video.error
    code_text, message = (error.code or "", error.message or "") if error else ("", "")
    message = message or f"Sora reported the video {video.status}"
    moderated = bool(SAFETY_TEXT.search(f"{code_text} {message}"))
    code = (
        "moderation_blocked" if moderated else "upstream_failed" if status is UpstreamStatus.FAILED else None
    )
    return ProviderUpdate(
        status,
        video.status,
        error_code=code,
        error_message=message,
        external_id=video.id,
        provider_code=str(error.code) if error and error.code is not None else None,
        provider_message=(error.message or None) if error else None,
    )


def result_of(video: SoraVideo) -> dict[str, Any]:
    """What a follow-up names (the upstream video id) and what the projection reads back."""
    details = {
        "video_id": video.id,
        "model": video.model,
        "seconds": video.seconds,
        "size": video.size,
        "remixed_from_video_id": video.remixed_from_video_id,
    }
    return {key: value for key, value in details.items() if value not in (None, "")}


def outputs_of(video_id: str, base_url: str) -> tuple[OutputRef, ...]:
    """The video and its thumbnail and spritesheet from `/content`, each with the channel's key; the
    two extras are optional, since not every gateway serves them."""
    content = f"{base_url.rstrip('/')}/v1/videos/{video_id}/content"
    return tuple(
        OutputRef(
            content if label == "video" else f"{content}?variant={label}",
            mime,
            label,
            authenticated=True,
            optional=label != "video",
        )
        for label, mime in VARIANTS
    )


def percent(value: object) -> int | None:
    """An int 0-100 from OpenAI; tolerate "58%" and floats from gateways."""
    try:
        number = float(str(value).strip().rstrip("%")) if value not in (None, "") else None
    except ValueError:
        return None
    return None if number is None else max(0, min(100, int(number)))
