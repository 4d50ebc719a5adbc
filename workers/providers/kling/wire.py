"""Kling's wire format as pure functions: status names, body codes and what each obliges us to do,
and the task object read into a `ProviderUpdate`; `adapter` does the HTTP around them."""

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
from workers.providers.kling.schemas import KlingEnvelope, KlingTask, KlingTaskResult

STATUS_MAP: Mapping[str, UpstreamStatus] = {
    "submitted": UpstreamStatus.PENDING,
    "processing": UpstreamStatus.RUNNING,
    "succeed": UpstreamStatus.SUCCEEDED,
    "failed": UpstreamStatus.FAILED,
}
# Body codes (providers.md §2.5): which ones mean "nothing was created, try again later".
MODERATION_CODES = frozenset({1300, 1301})
NOT_NOW_CODES = frozenset({1000, 1001, 1002, 1003, 1004, 1100, 1101, 1102, 1302, 1303, 1304, 5001})
AMBIGUOUS_CODES = frozenset({5000, 5002})
MODERATION_TEXT = re.compile(r"risk|moderat|sensitive|safety|violat|polic", re.IGNORECASE)
DUPLICATE_TEXT = re.compile(r"external_task_id.*(exist|duplicate)", re.IGNORECASE)


def envelope_of(response: httpx.Response) -> KlingEnvelope | None:
    try:
        return KlingEnvelope.model_validate(response.json())
    except (ValueError, ValidationError):
        return None


def is_not_found(envelope: KlingEnvelope) -> bool:
    return envelope.code != 0 and "not_exist" in envelope.message.lower().replace(" ", "_")


def raise_for_code(envelope: KlingEnvelope, retry_after: float | None) -> None:
    code, message = envelope.code, envelope.message or "no message"
    own, words = str(code), envelope.message or None  # Kling's own code and message, for the tenant
    if code in MODERATION_CODES:
        raise ProviderRejectedError(
            "moderation_blocked",
            f"Kling refused the content: {message}",
            provider_code=own,
            provider_message=words,
        )
    if code in NOT_NOW_CODES:
        raise ProviderUnavailableError(f"kling: code {code}: {message}", retry_after=retry_after)
    if code in AMBIGUOUS_CODES or DUPLICATE_TEXT.search(message):
        # A duplicate external_task_id means an earlier attempt did create the task.
        raise SubmitOutcomeUnknownError(f"kling: code {code}: {message}")
    raise ProviderRejectedError(
        "invalid_input",
        f"Kling rejected the request (code {code}): {message}",
        provider_code=own,
        provider_message=words,
    )


def update_from_task(task: KlingTask) -> ProviderUpdate:
    status = STATUS_MAP.get(task.task_status, UpstreamStatus.UNKNOWN)
    error_code = error_message = None
    if status is UpstreamStatus.FAILED:
        error_message = task.task_status_msg or "Kling reported the task failed"
        error_code = "moderation_blocked" if MODERATION_TEXT.search(error_message) else "upstream_failed"
    progress = {UpstreamStatus.PENDING: 5, UpstreamStatus.SUCCEEDED: 100}.get(status)
    return ProviderUpdate(
        status=status,
        raw_status=task.task_status,
        progress=progress,
        outputs=outputs_of(task.task_result),
        error_code=error_code,
        error_message=error_message,
        external_id=task.task_id,
        result=result_of(task),
        # Kling's task failure is words only (`task_status_msg`): its numeric codes answer requests.
        provider_message=(task.task_status_msg or None) if status is UpstreamStatus.FAILED else None,
    )


def outputs_of(result: KlingTaskResult | None) -> tuple[OutputRef, ...]:
    """Every result file: videos, images, and each audio's MP3 and WAV."""
    if result is None:
        return ()
    videos = tuple(OutputRef(v.url, "video/mp4", label=f"video-{n}") for n, v in enumerate(result.videos))
    images = tuple(OutputRef(i.url, None, label=f"image-{n}") for n, i in enumerate(result.images))
    audios: list[OutputRef] = []
    for n, audio in enumerate(result.audios):
        if audio.url_mp3:
            audios.append(OutputRef(audio.url_mp3, "audio/mpeg", label=f"audio-{n}.mp3"))
        if audio.url_wav:
            audios.append(OutputRef(audio.url_wav, "audio/wav", label=f"audio-{n}.wav"))
        if audio.url and not (audio.url_mp3 or audio.url_wav):
            audios.append(OutputRef(audio.url, None, label=f"audio-{n}"))
    return videos + images + tuple(audios)


def result_of(task: KlingTask) -> dict[str, Any] | None:
    """The non-file result a follow-up names and a projection shows: Kling's ids of the task's videos
    and audios (a lip-sync or extension sends a parent's `video_id`), and the video an extension
    extended."""
    result: dict[str, Any] = {}
    if task.task_result is not None:
        if task.task_result.videos:
            result["videos"] = [{"id": v.id, "duration": v.duration} for v in task.task_result.videos]
        if task.task_result.audios:
            result["audios"] = [
                {"id": a.id, "duration": _seconds(a.duration_mp3 or a.duration_wav or a.duration)}
                for a in task.task_result.audios
            ]
    parent = task.task_info.parent_video if task.task_info is not None else None
    if parent and parent.get("id"):
        result["parent_video"] = {"id": str(parent["id"]), "duration": _seconds(parent.get("duration"))}
    return result or None


def _seconds(value: object) -> str | None:
    return None if value is None or value == "" else str(value)
