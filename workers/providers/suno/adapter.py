"""Suno: music (two clips per task; inspiration, custom and continuation modes) and lyrics, through
CometAPI's `/suno/...` routes or a self-hosted Suno-API proxy ("vendor": same routes and bearer key)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import ValidationError

from workers.providers.base import (
    Channel,
    ProviderPlugin,
    ProviderUpdate,
    SubmitRequest,
    TaskRef,
    UpstreamStatus,
)
from workers.providers.errors import (
    InvalidCallbackError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.suno import routes
from workers.providers.suno.schemas import SunoLyricsInput, SunoMusicInput, SunoTask
from workers.providers.suno.simulation import SIMULATION
from workers.providers.suno.wire import (
    MODERATION_TEXT,
    NOT_NOW_TEXT,
    STATUS_MAP,
    envelope,
    is_not_found,
    refusal,
    task_from_data,
    update_from_task,
)
from workers.providers.transport import (
    Phase,
    raise_for_transient_status,
    retry_after_seconds,
    translate_transport_errors,
)

ACTIONS = {"music": "MUSIC", "lyrics": "LYRICS"}
# Fields of our input that are not Suno's: `mode` is derived, for prices and projections.
NOT_SENT = frozenset({"mode"})


class Suno(ProviderPlugin):
    name = "suno"
    title = "Suno"
    deadline_s = 900.0
    queue_group = "image-music"
    operations = {"music": SunoMusicInput, "lyrics": SunoLyricsInput}
    status_map = STATUS_MAP
    sends_callbacks = True  # `notify_hook`: honoured by the Suno-API proxies, undocumented on CometAPI
    finds_by_job_id = False  # nothing in a Suno task echoes an id of ours
    compat = routes.FAMILY
    simulation = SIMULATION

    def submit(self, http: httpx.Client, channel: Channel, request: SubmitRequest) -> str:
        body: dict[str, Any] = {k: v for k, v in request.input.items() if k not in NOT_SENT}
        if request.operation == "music":
            body["mv"] = request.model
        if request.callback_url:
            body["notify_hook"] = request.callback_url
        with translate_transport_errors(Phase.SUBMIT, self.name):
            response = http.post(
                f"{_base(channel)}/submit/{request.operation}", json=body, headers=auth_headers(channel)
            )
        answer = envelope(response)
        if answer is not None and answer.ok:
            if isinstance(answer.data, str) and answer.data:
                return answer.data
            raise SubmitOutcomeUnknownError("suno: submit answered success without a task id")
        raise_for_transient_status(response, Phase.SUBMIT, self.name)
        raise _refusal_error(response, refusal(response, answer))

    def poll(self, http: httpx.Client, channel: Channel, task: TaskRef) -> ProviderUpdate:
        if channel.mode == "vendor":
            # The proxy's own single fetch answers with the bare clips; its batch fetch with TaskDtos.
            found = self.fetch_many(http, channel, task.operation, [task.external_id]).get(task.external_id)
        else:
            found = self._fetch(http, channel, task.external_id)
        if found is None:
            # CometAPI answers task_not_exist for a moment right after create.
            return ProviderUpdate(UpstreamStatus.UNKNOWN, "task_not_exist", external_id=task.external_id)
        return found

    def fetch_many(
        self, http: httpx.Client, channel: Channel, operation: str, external_ids: Sequence[str]
    ) -> dict[str, ProviderUpdate]:
        """Several tasks in one request (`POST /suno/fetch`); ids upstream doesn't know are left out."""
        body = {"ids": list(external_ids), "action": ACTIONS.get(operation, operation.upper())}
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.post(f"{_base(channel)}/fetch", json=body, headers=auth_headers(channel))
        raise_for_transient_status(response, Phase.QUERY, self.name)
        answer = envelope(response)
        if answer is None or not answer.ok or not isinstance(answer.data, list | None):
            raise ProviderUnavailableError(
                f"suno: unreadable batch fetch answer (HTTP {response.status_code})"
            )
        try:
            tasks = [SunoTask.model_validate(item) for item in answer.data or []]
        except ValidationError as exc:
            raise ProviderUnavailableError(f"suno: malformed task object: {exc}") from exc
        return {task.task_id: update_from_task(task) for task in tasks}

    def parse_callback(self, body: bytes) -> ProviderUpdate:
        """A TaskDto, bare as the proxies send it, or wrapped in `{code, message, data}`."""
        try:
            payload = json.loads(body)
            if isinstance(payload, dict) and isinstance(payload.get("data"), dict) and "code" in payload:
                payload = payload["data"]
            task = SunoTask.model_validate(payload)
        except (ValueError, ValidationError) as exc:
            raise InvalidCallbackError(f"not a Suno task object: {exc}") from exc
        return update_from_task(task)

    def _fetch(self, http: httpx.Client, channel: Channel, task_id: str) -> ProviderUpdate | None:
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.get(f"{_base(channel)}/fetch/{task_id}", headers=auth_headers(channel))
        answer = envelope(response)
        if is_not_found(response, answer):
            return None
        raise_for_transient_status(response, Phase.QUERY, self.name)
        if answer is None or not answer.ok:
            raise ProviderUnavailableError(f"suno: unreadable fetch answer (HTTP {response.status_code})")
        if answer.data is None:
            return None
        try:
            return update_from_task(task_from_data(answer.data, task_id))
        except ValidationError as exc:
            raise ProviderUnavailableError(f"suno: malformed task object: {exc}") from exc


def auth_headers(channel: Channel) -> dict[str, str]:
    """CometAPI and the Suno-API proxy (its SECRET_TOKEN) both take a bearer key."""
    return {"Authorization": f"Bearer {channel.api_key}"}


def _base(channel: Channel) -> str:
    return f"{channel.base_url.rstrip('/')}/suno"


def _refusal_error(response: httpx.Response, reason: tuple[str, str]) -> ProviderError:
    """What a submit answer other than "success" means, once gateway statuses are ruled out."""
    status, (code, message) = response.status_code, reason
    text = f"{code} {message}".strip() or f"HTTP {status}"
    retry_after = retry_after_seconds(response)
    if status in (401, 402):
        # A key this channel can't use, or upstream credits exhausted: another channel may serve it.
        return ProviderUnavailableError(f"suno: HTTP {status}: {text}", retry_after=retry_after)
    if MODERATION_TEXT.search(message):
        return ProviderRejectedError("moderation_blocked", f"Suno refused the content: {message}")
    if NOT_NOW_TEXT.search(text):
        return ProviderUnavailableError(f"suno: {text}", retry_after=retry_after)
    return ProviderRejectedError("invalid_input", f"Suno rejected the request (HTTP {status}): {text}")
