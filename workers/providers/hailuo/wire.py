"""MiniMax Hailuo's wire format as pure functions: status names, `base_resp` codes and what each obliges
us to do, and the answers read into our types; `adapter` does the HTTP around them.

Where CometAPI's live shape is unconfirmed (providers-more.md §1.7), both the vendor's bare answers and
a gateway's `{code, message, data}` wrapper around them are read."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, NoReturn

import httpx
from pydantic import ValidationError

from workers.providers.base import OutputRef, ProviderUpdate, UpstreamStatus
from workers.providers.errors import (
    InvalidCallbackError,
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.hailuo.schemas import HailuoFile, HailuoTask
from workers.providers.transport import Phase, raise_for_transient_status, retry_after_seconds

PROVIDER = "hailuo"
# Matched case-insensitively: the query says `Success`/`Fail`, callbacks also `success`/`failed`.
STATUS_MAP: Mapping[str, UpstreamStatus] = {
    "preparing": UpstreamStatus.PENDING,
    "queueing": UpstreamStatus.PENDING,
    "processing": UpstreamStatus.RUNNING,
    "success": UpstreamStatus.SUCCEEDED,
    "fail": UpstreamStatus.FAILED,
    "failed": UpstreamStatus.FAILED,  # gateway docs and callbacks [P]
    # A gateway's wrapped task speaks its own vocabulary [P] (`SUCCESS` is matched above).
    "not_start": UpstreamStatus.PENDING,
    "submitted": UpstreamStatus.PENDING,
    "queued": UpstreamStatus.PENDING,
    "in_progress": UpstreamStatus.RUNNING,
    "failure": UpstreamStatus.FAILED,
}
# base_resp.status_code (§1.5) as the reason we fail a job with; None: nothing was created, retry later.
MODERATION_CODES = frozenset({1026, 1027})
CODES: Mapping[int, str | None] = {
    **dict.fromkeys((1000, 1001, 1002, 1024, 1033, 1041), None),
    **dict.fromkeys(MODERATION_CODES, "moderation_blocked"),
    **dict.fromkeys((1039, 1042, 2013), "invalid_input"),
    **dict.fromkeys((1004, 2049), "upstream_auth"),
    2038: "upstream_account",  # real-name verification required
    1008: "upstream_billing",
    2056: "upstream_quota",
    2061: "upstream_plan",  # the model is not on the account's plan
}
HTTP_REASONS = {401: "upstream_auth", 403: "upstream_auth", 402: "upstream_billing"}
NOT_FOUND_TEXT = re.compile(r"not (found|exist)|no such|not_exist", re.IGNORECASE)
OK_CODES = (0, "0", "success", "SUCCESS", None)


def payload(body: Any) -> dict[str, Any] | None:
    """MiniMax's own object in an answer: the body, or the `data` a gateway wrapped it in."""
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    return body if "base_resp" in body or not isinstance(data, dict) else data


def payload_of(response: httpx.Response) -> dict[str, Any] | None:
    try:
        return payload(response.json())
    except ValueError:
        return None


def result_of(obj: Mapping[str, Any]) -> tuple[int, str]:
    """(code, message): `base_resp`'s, or a wrapper's own when it carries no `base_resp`."""
    base = obj.get("base_resp")
    if isinstance(base, dict):
        code, message = base.get("status_code", 0), base.get("status_msg", "")
    else:
        code, message = obj.get("code"), obj.get("message", "")
        code = 0 if code in OK_CODES else code
    number = int(code) if isinstance(code, int | str) and str(code).lstrip("-").isdigit() else -1
    return number, str(message or "no message")


def raise_for_code(code: int, message: str, retry_after: float | None = None) -> NoReturn:
    """Raise what a non-zero `base_resp.status_code` obliges us to do."""
    if code in CODES and CODES[code] is None:
        raise ProviderUnavailableError(f"hailuo: code {code}: {message}", retry_after=retry_after)
    reason = CODES.get(code) or "upstream_rejected"
    text = f"MiniMax refused the request (code {code}): {message}"
    raise ProviderRejectedError(reason, text, provider_code=code, provider_message=message)


def http_rejection(response: httpx.Response) -> ProviderRejectedError:
    """An answer in no MiniMax shape (a gateway's own error) with a non-transient HTTP status."""
    reason = HTTP_REASONS.get(response.status_code, "upstream_rejected")
    return ProviderRejectedError(reason, f"MiniMax answered HTTP {response.status_code}")


def created_task_id(response: httpx.Response) -> str:
    """The task id of a create's answer, or what its refusal obliges us to raise."""
    obj = payload_of(response)
    if obj is None or "base_resp" not in obj:
        # Not MiniMax's own answer: a gateway's status speaks first (a 502 is ambiguous, whatever it says).
        raise_for_transient_status(response, Phase.SUBMIT, PROVIDER)
    code, message = result_of(obj or {})
    if code != 0:
        raise_for_code(code, message, retry_after_seconds(response))
    if obj is not None and obj.get("task_id"):
        return str(obj["task_id"])
    if response.is_success and (obj is None or "base_resp" in obj):
        # An accepted create that names no task, or cannot be read: a task may well exist, and be billed.
        raise SubmitOutcomeUnknownError(f"hailuo: HTTP {response.status_code} and no task id for a create")
    raise http_rejection(response)


def update_from_task(obj: Mapping[str, Any]) -> ProviderUpdate:
    """A query answer or callback body (raises ValidationError when it is no task)."""
    task = HailuoTask.model_validate(obj)
    status = STATUS_MAP.get(task.status.lower(), UpstreamStatus.UNKNOWN)
    outputs = _outputs(task) if status is UpstreamStatus.SUCCEEDED else ()
    if status is UpstreamStatus.SUCCEEDED and not outputs:
        status = UpstreamStatus.UNKNOWN  # a success that names no file: wait for a fuller answer
    error_code = error_message = own_code = own_message = None
    if status is UpstreamStatus.FAILED:
        code, reason = (task.base_resp.status_code, task.base_resp.status_msg) if task.base_resp else (0, "")
        own_code, own_message = (str(code) if code else None), (task.fail_reason or reason or None)
        error_message = own_message or "MiniMax reported the task failed"
        error_code = "moderation_blocked" if code in MODERATION_CODES else "upstream_failed"
    size = {"video_width": task.video_width, "video_height": task.video_height}
    return ProviderUpdate(
        status=status,
        raw_status=task.status,
        progress={UpstreamStatus.PENDING: 5, UpstreamStatus.SUCCEEDED: 100}.get(status),
        outputs=outputs,
        error_code=error_code,
        error_message=error_message,
        external_id=task.task_id or None,
        result={k: v for k, v in size.items() if v} or None,
        provider_code=own_code,
        provider_message=own_message,
    )


def _outputs(task: HailuoTask) -> tuple[OutputRef, ...]:
    """The video: MiniMax's `file_id`, made a link when it is copied; a wrapper may nest the upstream's
    own answer or its file under `data`."""
    nested = (task.model_extra or {}).get("data")
    nested = nested if isinstance(nested, dict) else {}
    file = HailuoFile.model_validate(nested["file"] if isinstance(nested.get("file"), dict) else {})
    file_id = task.file_id or nested.get("file_id") or file.file_id
    if file_id:
        return (OutputRef(str(file_id), "video/mp4", label="video", resolve=True),)
    link = file.download_url or file.backup_download_url
    return (OutputRef(link, "video/mp4", label="video"),) if link else ()


def read_query(obj: Mapping[str, Any] | None, http_status: int) -> ProviderUpdate:
    """A query answer's object: the task, or "not there yet", or the refusal raised."""
    if obj is not None and obj.get("status"):
        try:
            return update_from_task(obj)
        except ValidationError as exc:
            raise ProviderUnavailableError(f"hailuo: malformed task object: {exc}") from exc
    code, message = result_of(obj or {})
    if http_status == 404 or NOT_FOUND_TEXT.search(message):
        return ProviderUpdate(status=UpstreamStatus.UNKNOWN, raw_status="task_not_exist")
    if code != 0:
        raise_for_code(code, message)
    raise ProviderUnavailableError(f"hailuo: a query answer with no task in it (HTTP {http_status})")


def download_link(obj: Mapping[str, Any] | None, http_status: int) -> str:
    """The link of a files/retrieve answer (the backup link when the main one is missing)."""
    code, message = result_of(obj or {})
    if code != 0:
        raise_for_code(code, message)
    file = (obj or {}).get("file")
    link = HailuoFile.model_validate(file if isinstance(file, dict) else {})
    url = link.download_url or link.backup_download_url
    if not url:
        raise ProviderUnavailableError(f"hailuo: files/retrieve gave no download link (HTTP {http_status})")
    return url


def parse_callback(body: bytes) -> ProviderUpdate:
    try:
        return update_from_task(payload(json.loads(body)) or {})
    except (ValueError, ValidationError) as exc:
        raise InvalidCallbackError(f"not a MiniMax task: {exc}") from exc


def challenge_answer(body: bytes) -> dict[str, Any] | None:
    """MiniMax's check of a callback address: `{"challenge": v}` is answered `{"challenge": v}`."""
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    if not isinstance(obj, dict) or "status" in obj or not isinstance(obj.get("challenge"), str | int):
        return None
    return {"challenge": obj["challenge"]}
