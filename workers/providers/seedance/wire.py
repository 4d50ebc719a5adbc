"""Seedance's wire format (Volcengine Ark and BytePlus ModelArk, and CometAPI's `/volc` pass-through) as
pure functions: status names, Ark's error codes and what each obliges us to do, and the answers read into
our types; `adapter` does the HTTP around them.

Where a shape is unconfirmed (§2.3-§2.5: the error envelope's keys, callbacks), the code is lenient: a
task object bare or under a gateway's `data`, an error under `error` or at the top, an error that is
only text, statuses in any case and spelling (`canceled`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import ValidationError

from workers.providers.base import OutputRef, ProviderUpdate, UpstreamStatus
from workers.providers.errors import (
    InvalidCallbackError,
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.seedance.schemas import ArkError, SeedanceTask
from workers.providers.transport import Phase, raise_for_transient_status, retry_after_seconds

PROVIDER = "seedance"
# Matched case-insensitively (§2.3); `cancelled` and `expired` end a job without a result (§6).
STATUS_MAP: Mapping[str, UpstreamStatus] = {
    "queued": UpstreamStatus.PENDING,
    "running": UpstreamStatus.RUNNING,
    "succeeded": UpstreamStatus.SUCCEEDED,
    "failed": UpstreamStatus.FAILED,
    "cancelled": UpstreamStatus.CANCELLED,
    "canceled": UpstreamStatus.CANCELLED,  # the American spelling, should a gateway use it [I]
    "expired": UpstreamStatus.EXPIRED,
}
# Ark's error codes (§2.5), matched exactly or as the prefix of a dotted sub-code; None: nothing was
# created, retry later. Codes naming sensitive content are moderation, whatever their suffix.
CODES: Mapping[str, str | None] = {
    **dict.fromkeys(("RateLimitExceeded", "QuotaExceeded", "ServerOverloaded", "InternalServiceError"), None),
    "InvalidEndpoint.ClosedEndpoint": None,  # disabled or temporarily unavailable
    "MissingParameter": "invalid_input",
    "InvalidParameter": "invalid_input",
    "AuthenticationError": "upstream_auth",
    "AccessDenied": "upstream_auth",
    "AccountOverdueError": "upstream_billing",
    "InvalidEndpoint.NotFound": "upstream_plan",  # no such endpoint, or the model is not activated
    "SetLimitExceeded": "upstream_quota",  # the account's own spending cap
}
SENSITIVE = "SensitiveContent"
HTTP_REASONS = {401: "upstream_auth", 402: "upstream_billing", 403: "upstream_auth"}
PROGRESS = {UpstreamStatus.SUCCEEDED: 100}
RESULT_FIELDS = ("seed", "resolution", "ratio", "duration", "framespersecond", "generate_audio")


def body_of(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def payload(body: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """Ark's own object: the body, or the `data` a gateway wrapped it in."""
    if body is None:
        return {}
    data = body.get("data")
    return data if isinstance(data, dict) and "id" not in body and "status" not in body else body


def error_of(body: Mapping[str, Any] | None) -> ArkError | None:
    """Ark's `error` object, or a gateway's top-level `code` and `message`; None when there is none."""
    if body is None:
        return None
    raw = body.get("error")
    if isinstance(raw, dict):
        return ArkError.model_validate(raw)
    if isinstance(raw, str) and raw:
        return ArkError(message=raw)
    if isinstance(body.get("code"), str) and body.get("message"):
        return ArkError(code=body["code"], message=str(body["message"]))
    return None


def reason_for(code: str) -> str | None:
    """What an Ark error code obliges us to do: a reason to fail with; None to retry later; "" unknown."""
    if SENSITIVE in code:
        return "moderation_blocked"
    for known, reason in CODES.items():
        if code == known or code.startswith(f"{known}."):
            return reason
    return ""


def raise_for_error(error: ArkError, response: httpx.Response, phase: Phase) -> None:
    """Raise what Ark's error obliges us to do; unknown codes are judged by the HTTP status (and return
    for a success status, whose body the caller reads)."""
    reason = reason_for(error.code)
    text = f"Seedance refused the request ({error.code or response.status_code}): {error.message}"
    if reason is None:
        raise ProviderUnavailableError(f"seedance: {text}", retry_after=retry_after_seconds(response))
    own = {"provider_code": error.code or None, "provider_message": error.message or None}
    if reason:
        raise ProviderRejectedError(reason, text, **own)
    raise_for_transient_status(response, phase, PROVIDER)
    if not response.is_success:
        raise ProviderRejectedError(HTTP_REASONS.get(response.status_code, "upstream_rejected"), text, **own)


def created_task_id(response: httpx.Response) -> str:
    """The task id of a create's bare `{"id": ...}` answer, or what its refusal obliges us to raise."""
    body = body_of(response)
    task_id = payload(body).get("id")
    if response.is_success and isinstance(task_id, str | int) and str(task_id):
        return str(task_id)
    error = error_of(body)
    if error is not None:
        raise_for_error(error, response, Phase.SUBMIT)
    raise_for_transient_status(response, Phase.SUBMIT, PROVIDER)
    if response.is_success:
        # Accepted, yet no id (or no readable body): a task may well exist, and be billed.
        raise SubmitOutcomeUnknownError(f"seedance: HTTP {response.status_code} and no task id for a create")
    reason = HTTP_REASONS.get(response.status_code, "upstream_rejected")
    raise ProviderRejectedError(reason, f"Seedance answered HTTP {response.status_code}")


def read_query(response: httpx.Response) -> ProviderUpdate:
    """A query answer: the task, "not there (yet)" for a 404, or the refusal raised."""
    body = body_of(response)
    task = payload(body)
    if response.is_success and task.get("status"):
        try:
            return update_from_task(task)
        except ValidationError as exc:
            raise ProviderUnavailableError(f"seedance: malformed task object: {exc}") from exc
    if response.status_code == 404:
        # CometAPI may not show a fresh task for a moment; a deleted record is gone for good, but
        # genrelay never deletes one, so the job keeps polling until its deadline.
        return ProviderUpdate(status=UpstreamStatus.UNKNOWN, raw_status="task_not_exist")
    error = error_of(body)
    if error is not None:
        raise_for_error(error, response, Phase.QUERY)
    raise_for_transient_status(response, Phase.QUERY, PROVIDER)
    raise ProviderUnavailableError(
        f"seedance: a query answer with no task in it (HTTP {response.status_code})"
    )


def update_from_task(obj: Mapping[str, Any]) -> ProviderUpdate:
    """A task object (raises ValidationError when it is none)."""
    task = SeedanceTask.model_validate(obj)
    status = STATUS_MAP.get(task.status.lower(), UpstreamStatus.UNKNOWN)
    outputs = _outputs(task) if status is UpstreamStatus.SUCCEEDED else ()
    if status is UpstreamStatus.SUCCEEDED and not outputs:
        status = UpstreamStatus.UNKNOWN  # a success that names no video: wait for a fuller answer
    error_code = error_message = None
    error = task.error or ArkError()
    if status is UpstreamStatus.FAILED:
        error_message = error.message or "Seedance reported the task failed"
        sensitive = SENSITIVE in error.code or "sensitive" in error_message.lower()
        error_code = "moderation_blocked" if sensitive else "upstream_failed"
    extra = task.model_extra or {}
    result = {name: extra[name] for name in RESULT_FIELDS if extra.get(name) is not None}
    if task.usage:
        result["usage"] = task.usage
    return ProviderUpdate(
        status=status,
        raw_status=task.status,
        progress=PROGRESS.get(status),
        outputs=outputs,
        error_code=error_code,
        error_message=error_message,
        external_id=task.id or None,
        result=result or None,
        provider_code=(error.code or None) if error_code else None,
        provider_message=(error.message or None) if error_code else None,
    )


def _outputs(task: SeedanceTask) -> tuple[OutputRef, ...]:
    """The video, then the last frame when one was asked for (its format is the link's to tell)."""
    content = task.content
    if content is None or not content.video_url:
        return ()
    video = OutputRef(content.video_url, "video/mp4", label="video")
    if not content.last_frame_url:
        return (video,)
    return (video, OutputRef(content.last_frame_url, None, label="last_frame"))


def parse_callback(body: bytes) -> ProviderUpdate:
    """A callback's body: the task object, as a query answers it [P]."""
    try:
        obj = json.loads(body)
        return update_from_task(payload(obj if isinstance(obj, dict) else None))
    except (ValueError, ValidationError) as exc:
        raise InvalidCallbackError(f"not a Seedance task: {exc}") from exc


def cancel_answer(response: httpx.Response) -> None:
    """A DELETE's answer: returns when the task is cancelled (or gone), raises otherwise."""
    if response.is_success or response.status_code == 404:
        return
    error = error_of(body_of(response)) or ArkError()
    if reason_for(error.code) is None:
        raise ProviderUnavailableError(f"seedance: cancel answered {error.code}: {error.message}")
    raise_for_transient_status(response, Phase.QUERY, PROVIDER)
    message = error.message or f"HTTP {response.status_code}"
    raise ProviderRejectedError("cancel_refused", f"Seedance refused the cancel: {message}")
