"""Midjourney's requests and answers in our terms: the submit call for each operation (and for a modal
continuation), what each business code obliges us to do, and a task object as a ProviderUpdate."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import ValidationError

from workers.providers.base import OutputRef, ProviderUpdate, SubmitRequest, UpstreamStatus
from workers.providers.errors import (
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.midjourney.schemas import MidjourneyAnswer, MidjourneyTask
from workers.providers.transport import Phase, raise_for_transient_status, retry_after_seconds

NAME = "midjourney"
CONTINUATION_KEY = "modal"  # where the orchestrator puts a modal step's input on the same job
STATUS_MAP: Mapping[str, UpstreamStatus] = {
    "NOT_START": UpstreamStatus.PENDING,
    "SUBMITTED": UpstreamStatus.PENDING,
    "IN_PROGRESS": UpstreamStatus.RUNNING,
    "MODAL": UpstreamStatus.ACTION_REQUIRED,
    "SUCCESS": UpstreamStatus.SUCCEEDED,
    "FAILURE": UpstreamStatus.FAILED,
    "CANCEL": UpstreamStatus.FAILED,  # some proxies can cancel a task; it will never finish
}
ACCEPTED_CODES = frozenset({1, 21, 22})  # submitted, already exists (same task), queued
NOT_NOW_CODES = frozenset({23, 9, 5})  # queue full, proxy system error, gateway unknown error
REFUSAL_CODES = frozenset({3, 4, 24})
# Model -> (bot, version flag, version) added to an imagine prompt that names no version itself.
MODEL_FLAGS: Mapping[str, tuple[str, str, str]] = {
    "midjourney-v6.1": ("MID_JOURNEY", "v", "6.1"),
    "midjourney-v7": ("MID_JOURNEY", "v", "7"),
    "niji-6": ("NIJI_JOURNEY", "niji", "6"),
}
VERSION_FLAG = re.compile(r"--(v|version|niji)\b(?:\s+([0-9][0-9.]*))?", re.IGNORECASE)
MODERATION_TEXT = re.compile(r"banned|moderat|community standards|sensitive|敏感|违规", re.IGNORECASE)


def submit_call(request: SubmitRequest) -> tuple[str, dict[str, Any]]:
    """The path and JSON body that create `request`'s task (or continue it after a modal step)."""
    data = dict(request.input)
    if CONTINUATION_KEY in data:
        modal = dict(data[CONTINUATION_KEY])
        body = {"taskId": _parent(request), **{k: v for k, v in modal.items() if v is not None}}
        return "/mj/submit/modal", body
    hook = {"notifyHook": request.callback_url} if request.callback_url else {}
    if request.operation == "action":
        body = {"taskId": _parent(request), "customId": data["custom_id"], "state": request.job_id, **hook}
        if data.get("enableRemix") is not None:
            body["enableRemix"] = data["enableRemix"]
        return "/mj/submit/action", body
    if request.operation in ("video", "edits"):
        body = (video_body if request.operation == "video" else edits_body)(request, data)
        return f"/mj/submit/{request.operation}", {**body, "state": request.job_id, **hook}
    body = {**data, "state": request.job_id, **hook}
    flags = MODEL_FLAGS.get(request.model)
    if flags is not None and body.get("botType") is None:
        body["botType"] = flags[0]
    if request.operation == "imagine" and flags is not None:
        body["prompt"] = _with_version(str(body["prompt"]), flags, request.model)
    return f"/mj/submit/{request.operation}", body


def video_body(request: SubmitRequest, data: Mapping[str, Any]) -> dict[str, Any]:
    """A new video from its first frame, or CometAPI's extension of one video of a parent video task:
    `action: "extend"`, `taskId` and a zero-based `index` [V; peers spell them task_id and "0" (P)]."""
    body: dict[str, Any] = {"motion": data["motion"]}
    if data.get("prompt"):
        body["prompt"] = data["prompt"]
    if not data.get("parent_job_id"):
        return {**body, "image": data["image"]}
    index, made = int(data["index"]), (request.parent_result or {}).get("videos")
    if isinstance(made, int) and not 0 <= index < made:
        raise ProviderRejectedError(
            "invalid_input", f"index {index}: the parent made {made} videos (0 to {made - 1})"
        )
    return {**body, "action": "extend", "taskId": _parent(request), "index": index}


def edits_body(request: SubmitRequest, data: Mapping[str, Any]) -> dict[str, Any]:
    """The editor's body: `action: "EDITS"`, the image as `base64Array` (a data URL, as new-api's relays
    document it) or `image` (a link, as other relays take it) [P: CometAPI names no field]."""
    image = str(data["image"])
    body: dict[str, Any] = {"action": "EDITS", "prompt": data["prompt"]}
    body.update({"base64Array": [image]} if image.startswith("data:") else {"image": image})
    return body | {key: data[key] for key in ("maskBase64", "remix") if data.get(key) is not None}


def _parent(request: SubmitRequest) -> str:
    if not request.parent_external_id:
        raise ProviderRejectedError("invalid_input", "a Midjourney follow-up needs its upstream task id")
    return request.parent_external_id


def _with_version(prompt: str, flags: tuple[str, str, str], model: str) -> str:
    """Add the model's version flag; refuse a prompt that asks for another version than it pays for."""
    _, family, version = flags
    asked = VERSION_FLAG.search(prompt)
    if asked is None:
        return f"{prompt} --{family} {version}"
    asked_family = {"version": "v"}.get(asked[1].lower(), asked[1].lower())
    if asked_family != family or (asked[2] is not None and asked[2] != version):
        raise ProviderRejectedError(
            "invalid_input", f"the prompt asks for {asked[0]!r} but the job's model is {model}"
        )
    return prompt


def task_id_from_answer(response: httpx.Response) -> str:
    """The task id of a submit answer, or the ProviderError its code or HTTP status means."""
    answer = _answer(response)
    if answer is None:
        raise_for_transient_status(response, Phase.SUBMIT, NAME)
        if response.status_code in (401, 403):
            raise ProviderUnavailableError(
                f"{NAME}: the channel's key was refused (HTTP {response.status_code})"
            )
        if response.is_success:
            raise SubmitOutcomeUnknownError(f"{NAME}: unreadable submit answer (HTTP {response.status_code})")
        raise ProviderRejectedError("invalid_input", f"Midjourney answered HTTP {response.status_code}")
    if answer.code in ACCEPTED_CODES:
        if answer.result:
            return answer.result
        raise SubmitOutcomeUnknownError(f"{NAME}: code {answer.code} but no task id in the answer")
    if answer.code not in REFUSAL_CODES | NOT_NOW_CODES:
        raise_for_transient_status(response, Phase.SUBMIT, NAME)  # an unknown code: trust HTTP first
    raise _error_for_code(answer, response)


def _answer(response: httpx.Response) -> MidjourneyAnswer | None:
    try:
        return MidjourneyAnswer.model_validate(response.json())
    except (ValueError, ValidationError):
        return None


def _error_for_code(answer: MidjourneyAnswer, response: httpx.Response) -> Exception:
    # `description` may be localised: shown to people, never branched on.
    code, why = answer.code, answer.description or "no description"
    properties = answer.properties or {}
    if code in NOT_NOW_CODES:
        return ProviderUnavailableError(
            f"{NAME}: code {code}: {why}", retry_after=retry_after_seconds(response)
        )
    if code == 24:
        word = properties.get("bannedWord") or properties.get("promptEn") or "unknown"
        reason, message = "moderation_blocked", f"Midjourney banned the prompt (word: {word})"
    elif code == 3:
        reason, message = "invalid_input", f"the parent task is unknown upstream or expired: {why}"
    else:
        reason, message = "invalid_input", f"Midjourney refused the request (code {code}): {why}"
    return ProviderRejectedError(
        reason, message, provider_code=code, provider_message=answer.description or None
    )


def update_from_task(task: MidjourneyTask) -> ProviderUpdate:
    raw = task.status or ""
    status = STATUS_MAP.get(raw, UpstreamStatus.UNKNOWN)
    error_code = error_message = None
    if status is UpstreamStatus.FAILED:
        error_message = task.failReason or f"Midjourney reported the task {raw.lower()}"
        error_code = "moderation_blocked" if MODERATION_TEXT.search(error_message) else "upstream_failed"
    progress = 100 if status is UpstreamStatus.SUCCEEDED else parse_progress(task.progress)
    return ProviderUpdate(
        status=status,
        raw_status=raw,
        progress=progress,
        outputs=outputs_of(task) if status is UpstreamStatus.SUCCEEDED else (),
        error_code=error_code,
        error_message=error_message,
        external_id=task.id,
        result=result_of(task),
        provider_message=(task.failReason or None) if status is UpstreamStatus.FAILED else None,
    )


def parse_progress(value: str | None) -> int | None:
    """`"58%"` -> 58; empty (a failed task's) or unreadable -> None."""
    digits = (value or "").strip().rstrip("%").strip()
    try:
        return max(0, min(100, round(float(digits))))
    except ValueError:
        return None


def prompt_text(task: MidjourneyTask) -> str:
    final = (task.properties or {}).get("finalPrompt")
    return str(final) if final else task.promptEn or ""


def outputs_of(task: MidjourneyTask) -> tuple[OutputRef, ...]:
    """A describe's prompts as inline text; otherwise the image (grid or single) and any videos."""
    if (task.action or "").upper() == "DESCRIBE":
        text = prompt_text(task)
        if not text:
            return ()
        data = base64.b64encode(text.encode()).decode()
        return (OutputRef(f"data:text/plain;charset=utf-8;base64,{data}", "text/plain", label="prompts"),)
    outputs = [OutputRef(task.imageUrl, "image/png", label="image")] if task.imageUrl else []
    outputs += [OutputRef(url, "video/mp4", label=f"video-{n}") for n, url in enumerate(video_urls(task))]
    return tuple(outputs)


def video_urls(task: MidjourneyTask) -> list[str]:
    """`videoUrls[]` (objects with a `url`, or bare links), else the one `videoUrl`."""
    listed = [v.get("url") if isinstance(v, dict) else v for v in task.videoUrls or []]
    return [str(url) for url in listed if url] or ([task.videoUrl] if task.videoUrl else [])


def result_of(task: MidjourneyTask) -> dict[str, Any] | None:
    """What a projection or a follow-up needs later: the buttons to press next, the prompts, the task's
    action, how many videos it made (an extension names one by index)."""
    result: dict[str, Any] = {
        "videos": len(video_urls(task)) or None,
        "action": task.action,
        "buttons": [
            b.model_dump(include={"customId", "label", "emoji", "type", "style"}) for b in task.buttons
        ]
        if task.buttons
        else None,
        "finalPrompt": (task.properties or {}).get("finalPrompt") or None,
        "promptEn": task.promptEn or None,
    }
    kept = {key: value for key, value in result.items() if value is not None}
    return kept or None
