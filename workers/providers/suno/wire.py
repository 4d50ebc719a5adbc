"""Reading Suno's answers: the `{code, message, data}` envelope, refusals, and a TaskDto (two clips,
or lyrics) as a ProviderUpdate with its files and the small result a Suno-shaped view is rebuilt from."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from workers.providers.base import OutputRef, ProviderUpdate, UpstreamStatus
from workers.providers.suno.schemas import (
    CLIP_TASK_STATUS,
    SunoClip,
    SunoEnvelope,
    SunoLyrics,
    SunoTask,
    task_status_from_clips,
)

STATUS_MAP: Mapping[str, UpstreamStatus] = {
    "NOT_START": UpstreamStatus.PENDING,
    "SUBMITTED": UpstreamStatus.PENDING,
    "QUEUED": UpstreamStatus.PENDING,
    "IN_PROGRESS": UpstreamStatus.RUNNING,
    "SUCCESS": UpstreamStatus.SUCCEEDED,
    "FAILURE": UpstreamStatus.FAILED,
    # The proxy counts UNKNOWN as finished; we can't tell how, so the job keeps waiting.
    "UNKNOWN": UpstreamStatus.UNKNOWN,
}
MODERATION_TEXT = re.compile(
    r"moderat|restricted|polic|inappropriate|violat|sensitive|banned|unsafe|safety|artist name|copyright"
    r"|offensive",
    re.IGNORECASE,
)
# Refusals that say "not now, nothing was created" rather than "never with this input".
NOT_NOW_TEXT = re.compile(
    r"rate[ _]?limit|too many|quota|insufficient|credit|balance|queue|busy|overload|try again later"
    r"|account",
    re.IGNORECASE,
)
NOT_FOUND_TEXT = re.compile(r"not[ _]?exist|not[ _]?found", re.IGNORECASE)
PERCENT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%?\s*")
# A clip that failed keeps an `audio_url` like "https://cdn1.suno.ai/None.mp3"; a streaming one
# points at Suno's live audio pipe. Neither is a file to keep.
NOT_A_FILE = re.compile(r"/None(\.\w+)?$|audiopipe", re.IGNORECASE)


def envelope(response: httpx.Response) -> SunoEnvelope | None:
    try:
        return SunoEnvelope.model_validate(response.json())
    except ValueError:  # a JSONDecodeError or a ValidationError
        return None


def refusal(response: httpx.Response, answer: SunoEnvelope | None) -> tuple[str, str]:
    """(code, message) of a refusal: Suno's envelope, CometAPI's OpenAI-style `{"error": ...}`, or the
    `{"detail": ...}` of Suno's own web API, which a proxy may pass through."""
    if answer is not None:
        return str(answer.code), answer.message or ""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or ""), str(error.get("message") or "")
    detail = body.get("detail") if isinstance(body, dict) else None
    return ("", str(detail)) if isinstance(detail, str | dict | list) else ("", "")


def task_id_of(data: Any) -> str | None:
    """The task id a create answered with: the envelope's `data` string (music, concat), or an object
    naming it (`task_id` or `id`), as a gateway may answer an upload."""
    if isinstance(data, dict):
        data = data.get("task_id") or data.get("id")
    return data if isinstance(data, str) and data else None


def is_not_found(response: httpx.Response, answer: SunoEnvelope | None) -> bool:
    """CometAPI's `task_not_exist` (HTTP 400), the proxy's "task not exist", or a plain 404."""
    if response.status_code == 404:
        return True
    code, message = refusal(response, answer)
    return response.status_code == 400 and bool(NOT_FOUND_TEXT.search(f"{code} {message}"))


def task_from_data(data: Any, task_id: str) -> SunoTask:
    """A TaskDto from a fetch's `data`; the Suno-API proxy's own single fetch answers with the task's
    bare `data` (a clip list, or lyrics) instead. Raises ValueError (pydantic's ValidationError)."""
    if isinstance(data, dict) and "task_id" in data:
        return SunoTask.model_validate(data)
    if isinstance(data, list):
        return SunoTask.model_validate({"task_id": task_id, "action": "MUSIC", "data": data})
    return SunoTask.model_validate({"task_id": task_id, "action": "LYRICS", "data": data})


def update_from_task(task: SunoTask) -> ProviderUpdate:
    raw = task.status or _derived_status(task)
    status = STATUS_MAP.get(raw, UpstreamStatus.UNKNOWN)
    clips = task.data if isinstance(task.data, list) else []
    lyrics = task.data if isinstance(task.data, SunoLyrics) else None
    outputs: tuple[OutputRef, ...] = ()
    if status is UpstreamStatus.SUCCEEDED:  # never earlier: a streaming link is no file
        outputs = _lyrics_outputs(lyrics) if lyrics is not None else _clip_outputs(clips)
    error_code = error_message = provider_code = None
    if status is UpstreamStatus.FAILED:
        error_code, error_message, provider_code = _failure(task, clips)
    return ProviderUpdate(
        status=status,
        raw_status=raw,
        progress=100 if status is UpstreamStatus.SUCCEEDED else _percent(task.progress),
        outputs=outputs,
        error_code=error_code,
        error_message=error_message,
        external_id=task.task_id,
        result=_result(task.task_id, clips, lyrics),
        provider_code=provider_code,
        provider_message=error_message,
    )


def _derived_status(task: SunoTask) -> str:
    if isinstance(task.data, list):
        return task_status_from_clips([clip.status for clip in task.data])
    if isinstance(task.data, SunoLyrics):
        return CLIP_TASK_STATUS.get(task.data.status or "", "UNKNOWN")
    return "UNKNOWN"


def _is_file(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("https://", "http://")) and not NOT_A_FILE.search(str(url))


def _clip_outputs(clips: Sequence[SunoClip]) -> tuple[OutputRef, ...]:
    """Each complete clip's mp3, cover and video, labelled by the clip's place in the task."""
    refs: list[OutputRef] = []
    for n, clip in enumerate(clips):
        if clip.status not in (None, "complete"):
            continue
        files = (
            (clip.audio_url, "audio/mpeg", "audio"),
            (clip.image_large_url or clip.image_url, "image/jpeg", "image"),
            (clip.video_url, "video/mp4", "video"),
        )
        refs.extend(
            OutputRef(url, kind, f"clip-{n}.{name}") for url, kind, name in files if url and _is_file(url)
        )
    return tuple(refs)


def _lyrics_outputs(lyrics: SunoLyrics) -> tuple[OutputRef, ...]:
    if not lyrics.text:
        return ()
    payload = base64.b64encode(lyrics.text.encode()).decode()
    return (OutputRef(f"data:text/plain;charset=utf-8;base64,{payload}", "text/plain", "lyrics"),)


def _failure(task: SunoTask, clips: Sequence[SunoClip]) -> tuple[str, str, str | None]:
    """(our code, the message, Suno's own code: the first clip's `error_type`) of a failed task."""
    metadata = [clip.metadata for clip in clips if clip.metadata is not None]
    message = task.fail_reason or next((m.error_message for m in metadata if m.error_message), None)
    message = message or "Suno reported the task failed"
    kinds = [m.error_type for m in metadata if m.error_type]
    blocked = MODERATION_TEXT.search(f"{' '.join(kinds)} {message}")
    code = "moderation_blocked" if blocked else "upstream_failed"
    return code, message, next(iter(kinds), None)


def _percent(value: str | float | None) -> int | None:
    if isinstance(value, str):
        match = PERCENT.fullmatch(value)
        value = float(match[1]) if match else None
    return None if value is None else max(0, min(100, int(value)))


def _result(task_id: str, clips: Sequence[SunoClip], lyrics: SunoLyrics | None) -> dict[str, Any] | None:
    if lyrics is not None:
        return {"title": lyrics.title or "", "text": lyrics.text or ""}
    if not clips:
        return None
    # `refs` name the clips, by which a follow-up on a compatible route finds this job.
    summaries = [_clip_summary(clip) for clip in clips]
    return {"task_id": task_id, "clips": summaries, "refs": [clip.id for clip in clips]}


def _clip_summary(clip: SunoClip) -> dict[str, Any]:
    metadata = clip.metadata
    summary = {
        "clip_id": clip.id,
        "title": clip.title,
        "status": clip.status,
        "model_name": clip.model_name,
        "major_model_version": clip.major_model_version,
        "created_at": clip.created_at,
        "tags": metadata.tags if metadata else None,
        "duration": metadata.duration if metadata else None,
        "prompt": metadata.prompt if metadata else None,
        "gpt_description_prompt": metadata.gpt_description_prompt if metadata else None,
        # What made the clip (gen, upload, concat, gen_stem) and, for a stem, the clip it came from.
        "type": (metadata.model_extra or {}).get("type") if metadata else None,
        "stem_from_id": (clip.model_extra or {}).get("stem_from_id"),
    }
    return {key: value for key, value in summary.items() if value is not None}
