"""Suno: music (two clips per task; inspiration, custom and continuation modes, a persona's voice),
lyrics, clips uploaded from a URL, and what acts on a clip of an earlier job (a full song joined from an
extension, stems, a persona, and the WAV, MP4, MIDI and aligned-lyrics conversions), through CometAPI's
`/suno/...` routes or a self-hosted Suno-API proxy ("vendor": same routes and bearer key)."""

from __future__ import annotations

import json
from collections.abc import Sequence

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
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.suno import routes, synchronous
from workers.providers.suno.bodies import task_request
from workers.providers.suno.calls import auth_headers, base, refusal_error
from workers.providers.suno.schemas import SunoLyricsInput, SunoMusicInput, SunoTask
from workers.providers.suno.schemas_ops import ACT_KINDS, FOLLOW_UP_INPUTS, PARENT_OPERATIONS, SunoUploadInput
from workers.providers.suno.simulation import SIMULATION
from workers.providers.suno.wire import (
    STATUS_MAP,
    envelope,
    is_not_found,
    refusal,
    task_from_data,
    task_id_of,
    update_from_task,
)
from workers.providers.suno.wire_sync import persona_update
from workers.providers.transport import Phase, raise_for_transient_status, translate_transport_errors

# A batch fetch names the kind of task it wants: lyrics are LYRICS, every clip-making task MUSIC.
ACTIONS = {"lyrics": "LYRICS"}


class Suno(ProviderPlugin):
    name = "suno"
    title = "Suno"
    deadline_s = 900.0
    queue_group = "image-music"
    operations = {
        "music": SunoMusicInput,
        "lyrics": SunoLyricsInput,
        "upload": SunoUploadInput,
        **FOLLOW_UP_INPUTS,
    }
    parent_operations = PARENT_OPERATIONS
    result_operations = frozenset({"persona"})  # its id is what it makes: no file
    status_map = STATUS_MAP
    sends_callbacks = True  # `notify_hook`: honoured by the Suno-API proxies, undocumented on CometAPI
    finds_by_job_id = False  # nothing in a Suno task echoes an id of ours
    compat = routes.FAMILY
    simulation = SIMULATION

    def submit(self, http: httpx.Client, channel: Channel, request: SubmitRequest) -> str:
        if request.operation in ACT_KINDS:
            return synchronous.act_target(request)
        if request.operation == "persona":
            return synchronous.create_persona(http, channel, request)
        path, body = task_request(request)
        if request.callback_url:
            body["notify_hook"] = request.callback_url
        with translate_transport_errors(Phase.SUBMIT, self.name):
            response = http.post(f"{base(channel)}{path}", json=body, headers=auth_headers(channel))
        answer = envelope(response)
        if answer is not None and answer.ok:
            task_id = task_id_of(answer.data)
            if task_id is not None:
                return task_id
            raise SubmitOutcomeUnknownError("suno: submit answered success without a task id")
        raise_for_transient_status(response, Phase.SUBMIT, self.name)
        raise refusal_error(response, refusal(response, answer))

    def poll(self, http: httpx.Client, channel: Channel, task: TaskRef) -> ProviderUpdate:
        if task.operation in ACT_KINDS:
            return synchronous.convert(http, channel, task)
        if task.operation == "persona":
            return persona_update(task.external_id)
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
        body = {"ids": list(external_ids), "action": ACTIONS.get(operation, "MUSIC")}
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.post(f"{base(channel)}/fetch", json=body, headers=auth_headers(channel))
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
            response = http.get(f"{base(channel)}/fetch/{task_id}", headers=auth_headers(channel))
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
