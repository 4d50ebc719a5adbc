"""A provider as another installed package ships one: registered under the `genrelay.providers` entry
point, built only on genrelay's provider seam, httpx and pydantic, with its price file beside it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workers.providers.base import (
    Channel,
    OutputRef,
    ProviderPlugin,
    ProviderUpdate,
    SubmitRequest,
    TaskRef,
    UpstreamStatus,
)
from workers.providers.errors import InvalidCallbackError, ProviderRejectedError, ProviderUnavailableError
from workers.providers.transport import Phase, raise_for_transient_status, translate_transport_errors

STATUS_MAP = {
    "queued": UpstreamStatus.PENDING,
    "working": UpstreamStatus.RUNNING,
    "done": UpstreamStatus.SUCCEEDED,
    "error": UpstreamStatus.FAILED,
}


class AcmeRenderInput(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"prompt": "a red kite"}]})

    prompt: str = Field(min_length=1, max_length=500)


class AcmeTask(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    status: str
    progress: int | None = None
    file_id: str | None = None  # the result, to be turned into a link when it is copied
    error: str | None = None


class Acme(ProviderPlugin):
    name = "acme"
    title = "Acme Studio"
    operations = {"render": AcmeRenderInput}
    status_map = STATUS_MAP
    sends_callbacks = True
    deadline_s = 600.0

    def submit(self, http: httpx.Client, channel: Channel, request: SubmitRequest) -> str:
        body: dict[str, Any] = {**request.input, "model": request.model, "reference": request.job_id}
        if request.callback_url:
            body["callback_url"] = request.callback_url
        with translate_transport_errors(Phase.SUBMIT, self.name):
            response = http.post(f"{channel.base_url}/acme/tasks", json=body, headers=_auth(channel))
        raise_for_transient_status(response, Phase.SUBMIT, self.name)
        if response.status_code != 201:
            raise ProviderRejectedError(
                "invalid_input", f"Acme refused the task (HTTP {response.status_code})"
            )
        return str(response.json()["id"])

    def poll(self, http: httpx.Client, channel: Channel, task: TaskRef) -> ProviderUpdate:
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.get(f"{channel.base_url}/acme/tasks/{task.external_id}", headers=_auth(channel))
        raise_for_transient_status(response, Phase.QUERY, self.name)
        try:
            return _update(AcmeTask.model_validate(response.json()))
        except (ValueError, ValidationError) as exc:
            raise ProviderUnavailableError(f"acme: unreadable task (HTTP {response.status_code})") from exc

    def parse_callback(self, body: bytes) -> ProviderUpdate:
        try:
            return _update(AcmeTask.model_validate_json(body))
        except ValidationError as exc:
            raise InvalidCallbackError(f"not an Acme task: {exc}") from exc

    def handshake(self, body: bytes) -> Mapping[str, Any] | None:
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        is_challenge = isinstance(payload, dict) and set(payload) == {"challenge"}
        return {"challenge": payload["challenge"]} if is_challenge else None

    def resolve_output(self, http: httpx.Client, channel: Channel, output: OutputRef) -> OutputRef:
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.get(f"{channel.base_url}/acme/files/{output.url}/link", headers=_auth(channel))
        raise_for_transient_status(response, Phase.QUERY, self.name)
        return OutputRef(str(response.json()["url"]), output.content_type, output.label)


def _auth(channel: Channel) -> dict[str, str]:
    return {"Authorization": f"Bearer {channel.api_key}"}


def _update(task: AcmeTask) -> ProviderUpdate:
    status = STATUS_MAP.get(task.status, UpstreamStatus.UNKNOWN)
    outputs = (OutputRef(task.file_id, "video/mp4", label="video", resolve=True),) if task.file_id else ()
    failed = status is UpstreamStatus.FAILED
    return ProviderUpdate(
        status=status,
        raw_status=task.status,
        progress=task.progress,
        outputs=outputs,
        error_code="upstream_failed" if failed else None,
        error_message=(task.error or "Acme reported the task failed") if failed else None,
        external_id=task.id,
    )
