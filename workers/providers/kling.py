"""Kling: text2video, image2video and image generation, through CometAPI's pass-through routes
(`/kling/v1/...`, bearer key) or the vendor's own API (`/v1/...`, a JWT from access/secret key)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx
import jwt
from pydantic import BaseModel, ValidationError

from schemas.kling import (
    KlingEnvelope,
    KlingImage2VideoInput,
    KlingImageInput,
    KlingTask,
    KlingText2VideoInput,
)
from workers.providers.base import (
    Channel,
    OutputRef,
    ProviderUpdate,
    SubmitRequest,
    TaskRef,
    UpstreamStatus,
)
from workers.providers.errors import (
    InvalidCallbackError,
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.transport import (
    Phase,
    raise_for_transient_status,
    retry_after_seconds,
    translate_transport_errors,
)

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


class Kling:
    name = "kling"
    operations: Mapping[str, type[BaseModel]] = {
        "text2video": KlingText2VideoInput,
        "image2video": KlingImage2VideoInput,
        "image_generation": KlingImageInput,
    }
    status_map = STATUS_MAP
    supports_cancel = False
    continuation_input: type[BaseModel] | None = None  # no step waits for more input
    sends_callbacks = True
    finds_by_job_id = True  # external_task_id: unique per account, queryable

    def submit(self, http: httpx.Client, channel: Channel, request: SubmitRequest) -> str:
        body: dict[str, Any] = {
            **request.input,
            "model_name": request.model,
            "external_task_id": request.job_id,
        }
        if request.callback_url:
            body["callback_url"] = request.callback_url
        with translate_transport_errors(Phase.SUBMIT, self.name):
            response = http.post(
                self._url(channel, request.operation), json=body, headers=auth_headers(channel)
            )
        envelope = _envelope(response)
        if envelope is not None and envelope.code == 0 and envelope.data and envelope.data.get("task_id"):
            return str(envelope.data["task_id"])
        if envelope is not None and envelope.code != 0:
            _raise_for_code(envelope, retry_after_seconds(response))
        raise_for_transient_status(response, Phase.SUBMIT, self.name)
        raise ProviderRejectedError("upstream_rejected", f"Kling answered HTTP {response.status_code}")

    def poll(self, http: httpx.Client, channel: Channel, task: TaskRef) -> ProviderUpdate:
        found = self._query(http, channel, task.operation, task.external_id)
        if found is None:
            # CometAPI answers task_not_exist for a moment right after create.
            return ProviderUpdate(status=UpstreamStatus.UNKNOWN, raw_status="task_not_exist")
        return found

    def find(
        self, http: httpx.Client, channel: Channel, job_id: str, operation: str
    ) -> ProviderUpdate | None:
        # Kling resolves a query path id as task_id or as the external_task_id we sent.
        return self._query(http, channel, operation, job_id)

    def cancel(self, http: httpx.Client, channel: Channel, task: TaskRef) -> None:
        raise ProviderRejectedError("not_supported", "Kling has no way to cancel a task")

    def download_headers(self, channel: Channel) -> Mapping[str, str]:
        return {}  # Kling's result URLs are public CDN links

    def parse_callback(self, body: bytes) -> ProviderUpdate:
        try:
            task = KlingTask.model_validate(json.loads(body))
        except (ValueError, ValidationError) as exc:
            raise InvalidCallbackError(f"not a Kling task object: {exc}") from exc
        return _update_from_task(task)

    def _query(
        self, http: httpx.Client, channel: Channel, operation: str, task_id: str
    ) -> ProviderUpdate | None:
        url = f"{self._url(channel, operation)}/{task_id}"
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.get(url, headers=auth_headers(channel))
        envelope = _envelope(response)
        if response.status_code == 404 or (envelope is not None and _is_not_found(envelope)):
            return None
        raise_for_transient_status(response, Phase.QUERY, self.name)
        if envelope is None or envelope.code != 0 or envelope.data is None:
            raise ProviderUnavailableError(f"kling: unreadable query answer (HTTP {response.status_code})")
        try:
            return _update_from_task(KlingTask.model_validate(envelope.data))
        except ValidationError as exc:
            raise ProviderUnavailableError(f"kling: malformed task object: {exc}") from exc

    @staticmethod
    def _url(channel: Channel, operation: str) -> str:
        family = "images/generations" if operation == "image_generation" else f"videos/{operation}"
        prefix = "" if channel.mode == "vendor" else "/kling"
        return f"{channel.base_url.rstrip('/')}{prefix}/v1/{family}"


JWT_LIFETIME_S = 1800


def auth_headers(channel: Channel) -> dict[str, str]:
    """CometAPI takes its key as a bearer token; Kling itself takes a short-lived HS256 JWT."""
    if channel.mode != "vendor":
        return {"Authorization": f"Bearer {channel.api_key}"}
    now = int(time.time())
    claims = {"iss": channel.api_key, "exp": now + JWT_LIFETIME_S, "nbf": now - 5}
    return {"Authorization": f"Bearer {jwt.encode(claims, channel.secret_key, algorithm='HS256')}"}


def _envelope(response: httpx.Response) -> KlingEnvelope | None:
    try:
        return KlingEnvelope.model_validate(response.json())
    except (ValueError, ValidationError):
        return None


def _is_not_found(envelope: KlingEnvelope) -> bool:
    return envelope.code != 0 and "not_exist" in envelope.message.lower().replace(" ", "_")


def _raise_for_code(envelope: KlingEnvelope, retry_after: float | None) -> None:
    code, message = envelope.code, envelope.message or "no message"
    if code in MODERATION_CODES:
        raise ProviderRejectedError("moderation_blocked", f"Kling refused the content: {message}")
    if code in NOT_NOW_CODES:
        raise ProviderUnavailableError(f"kling: code {code}: {message}", retry_after=retry_after)
    if code in AMBIGUOUS_CODES or DUPLICATE_TEXT.search(message):
        # A duplicate external_task_id means an earlier attempt did create the task.
        raise SubmitOutcomeUnknownError(f"kling: code {code}: {message}")
    raise ProviderRejectedError("invalid_input", f"Kling rejected the request (code {code}): {message}")


def _update_from_task(task: KlingTask) -> ProviderUpdate:
    status = STATUS_MAP.get(task.task_status, UpstreamStatus.UNKNOWN)
    outputs: tuple[OutputRef, ...] = ()
    if task.task_result is not None:
        outputs = tuple(
            OutputRef(v.url, "video/mp4", label=f"video-{n}") for n, v in enumerate(task.task_result.videos)
        ) + tuple(OutputRef(i.url, None, label=f"image-{n}") for n, i in enumerate(task.task_result.images))
    error_code = error_message = None
    if status is UpstreamStatus.FAILED:
        error_message = task.task_status_msg or "Kling reported the task failed"
        error_code = "moderation_blocked" if MODERATION_TEXT.search(error_message) else "upstream_failed"
    progress = {UpstreamStatus.PENDING: 5, UpstreamStatus.SUCCEEDED: 100}.get(status)
    return ProviderUpdate(
        status=status,
        raw_status=task.task_status,
        progress=progress,
        outputs=outputs,
        error_code=error_code,
        error_message=error_message,
        external_id=task.task_id,
    )
