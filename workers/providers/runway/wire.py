"""Reading Runway's answers: the bare task object, CometAPI's new-api envelope around it, error bodies,
and what each says in our terms (status, progress, outputs, failure class)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import ValidationError

from workers.providers.base import OutputRef, ProviderUpdate, UpstreamStatus
from workers.providers.runway.schemas import RunwayTask, UnifiedEnvelope, UnifiedTask

STATUS_MAP: Mapping[str, UpstreamStatus] = {
    # Runway's own task statuses (the union on `status`).
    "PENDING": UpstreamStatus.PENDING,
    "THROTTLED": UpstreamStatus.PENDING,  # over the org's concurrency: stored, starts later
    "RUNNING": UpstreamStatus.RUNNING,
    "SUCCEEDED": UpstreamStatus.SUCCEEDED,
    "FAILED": UpstreamStatus.FAILED,
    "CANCELLED": UpstreamStatus.FAILED,  # cancelled or deleted upstream
    # new-api's unified words, for an envelope that arrives without the inner Runway object.
    "NOT_START": UpstreamStatus.PENDING,
    "SUBMITTED": UpstreamStatus.PENDING,
    "QUEUED": UpstreamStatus.PENDING,
    "IN_PROGRESS": UpstreamStatus.RUNNING,
    "SUCCESS": UpstreamStatus.SUCCEEDED,
    "FAILURE": UpstreamStatus.FAILED,
}
# (content type, label stem) of each operation's files.
OUTPUT_KINDS: Mapping[str, tuple[str, str]] = {
    "image_to_video": ("video/mp4", "video"),
    "text_to_image": ("image/png", "image"),
    "text_to_video": ("video/mp4", "video"),
    "video_to_video": ("video/mp4", "video"),
    "video_upscale": ("video/mp4", "video"),
    "character_performance": ("video/mp4", "video"),
}
MODERATION_TEXT = re.compile(r"safety|moderat|content polic|flagged|sensitive|nsfw|public figure", re.I)
NOT_NOW_TEXT = re.compile(r"rate|quota|limit|busy|overload|balance|insufficient|concurren|try again", re.I)
NOT_FOUND_TEXT = re.compile(r"not[ _]?exist|not[ _]found", re.I)
URL_FIELDS = ("result_url", "video_url", "image_url", "url")


def error_text(response: httpx.Response) -> str:
    """The human-readable reason in an error body (`{"error": ...}` from Runway, `message` from new-api)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        for key in ("error", "message", "detail", "msg"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if value:
                return str(value)
        if body.get("code"):
            return str(body["code"])
    return str(body)[:300]


def created_id(response: httpx.Response) -> str | None:
    """The task id of a create answer: Runway's `{"id"}`, or a gateway's `data.task_id`."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    candidates = [body.get("id"), *([data.get("task_id"), data.get("id")] if isinstance(data, dict) else [])]
    return next((str(value) for value in candidates if isinstance(value, str | int) and value), None)


def is_not_found(response: httpx.Response) -> bool:
    """A task id the provider does not know (yet: CometAPI says so for a moment after create)."""
    if response.status_code == 404:
        return True
    return 400 <= response.status_code < 500 and bool(NOT_FOUND_TEXT.search(error_text(response)))


def failure_code(code: str | None, text: str) -> str:
    """Our error code for a failed task: Runway's SAFETY.* family (any segment) is moderation, its
    ASSET.* family an input it cannot use (sent again, it fails again); INTERNAL.* and the rest failed."""
    if code:
        families = code.upper().split(".")
        if "SAFETY" in families:
            return "moderation_blocked"
        return "invalid_input" if families[0] == "ASSET" else "upstream_failed"
    return "moderation_blocked" if MODERATION_TEXT.search(text) else "upstream_failed"


def percent(value: float | str | None) -> int | None:
    """Runway's 0-1 float, or new-api's "30%" string, as an int 0-100."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    try:
        number = float(text.rstrip("%"))
    except ValueError:
        return None
    if not text.endswith("%") and 0 <= number <= 1:
        number *= 100
    return max(0, min(100, round(number)))


def read_update(body: Any, operation: str) -> ProviderUpdate:
    """A query answer: the bare task object, or the new-api envelope (its inner task preferred)."""
    if isinstance(body, dict) and "status" in body and "id" in body:
        return task_update(RunwayTask.model_validate(body), operation)
    envelope = UnifiedEnvelope.model_validate(body)
    if envelope.data is None:
        raise ValueError(f"no task in the answer (code {envelope.code!r}: {envelope.message!r})")
    inner = envelope.data.data
    if inner and "status" in inner and "id" in inner:
        try:
            return task_update(RunwayTask.model_validate(inner), operation)
        except ValidationError:
            pass  # fall back to new-api's own fields
    return unified_update(envelope.data, operation)


def task_update(task: RunwayTask, operation: str) -> ProviderUpdate:
    status = STATUS_MAP.get(task.status, UpstreamStatus.UNKNOWN)
    outputs = outputs_of(task.output or [], operation) if status is UpstreamStatus.SUCCEEDED else ()
    error_code = error_message = None
    if task.status == "CANCELLED":
        error_code, error_message = "upstream_cancelled", task.failure or "Runway cancelled the task"
    elif status is UpstreamStatus.FAILED:
        error_message = task.failure or task.failure_code or "Runway reported the task failed"
        error_code = failure_code(task.failure_code, error_message)
    progress = {UpstreamStatus.PENDING: 0, UpstreamStatus.SUCCEEDED: 100}.get(status)
    if status is UpstreamStatus.RUNNING:
        progress = percent(task.progress)
    return ProviderUpdate(
        status=status,
        raw_status=task.status,
        progress=progress,
        outputs=outputs,
        error_code=error_code,
        error_message=error_message,
        external_id=task.task_id,
        result={"failure_code": task.failure_code}
        if task.failure_code
        else success_result(status, operation),
        provider_code=task.failure_code if error_code else None,
        provider_message=task.failure if error_code else None,
    )


def unified_update(task: UnifiedTask, operation: str) -> ProviderUpdate:
    """new-api's own view, when the Runway object is missing: enough to keep waiting or to fail."""
    raw = task.status or ""
    status = STATUS_MAP.get(raw, UpstreamStatus.UNKNOWN)
    extra = task.model_extra or {}
    urls = [str(extra[key]) for key in URL_FIELDS if isinstance(extra.get(key), str) and extra[key]]
    reason = task.fail_reason or ""
    if status is UpstreamStatus.SUCCEEDED and not urls and reason.startswith("https://"):
        urls = [reason]  # new-api parks a video task's result URL in fail_reason
    if status is UpstreamStatus.SUCCEEDED and not urls:
        status = UpstreamStatus.UNKNOWN  # success without a file: wait for a fuller answer
    failed = status is UpstreamStatus.FAILED
    message = (reason or "Runway reported the task failed") if failed else None
    return ProviderUpdate(
        status=status,
        raw_status=raw or "missing",
        progress=percent(task.progress) if status is not UpstreamStatus.FAILED else None,
        outputs=outputs_of(urls, operation) if status is UpstreamStatus.SUCCEEDED else (),
        error_code=failure_code(None, message) if message else None,
        error_message=message,
        external_id=task.task_id,
        result=success_result(status, operation),
        provider_message=(task.fail_reason or None) if failed else None,
    )


def success_result(status: UpstreamStatus, operation: str) -> dict[str, Any] | None:
    """What a succeeded task made ("video" or "image"), for a follow-up that takes it as its input."""
    if status is not UpstreamStatus.SUCCEEDED:
        return None
    return {"media": OUTPUT_KINDS.get(operation, ("", "video"))[1]}


def outputs_of(urls: list[str], operation: str) -> tuple[OutputRef, ...]:
    content_type, stem = OUTPUT_KINDS.get(operation, (None, "output"))
    return tuple(OutputRef(url, content_type, label=f"{stem}-{n}") for n, url in enumerate(urls))
