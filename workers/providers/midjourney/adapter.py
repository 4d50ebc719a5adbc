"""Midjourney: imagine, blend, describe, video (and its extension), the editor and button actions (with
their MODAL step), through CometAPI's `/mj/...` routes (bearer key) or a midjourney-proxy host (same
paths, `mj-api-secret` header)."""

from __future__ import annotations

import json
from collections.abc import Mapping
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
from workers.providers.errors import InvalidCallbackError, ProviderUnavailableError
from workers.providers.midjourney import routes
from workers.providers.midjourney.schemas import (
    MidjourneyActionInput,
    MidjourneyBlendInput,
    MidjourneyDescribeInput,
    MidjourneyImagineInput,
    MidjourneyModalInput,
    MidjourneyTask,
    action_kind,
)
from workers.providers.midjourney.schemas_video_edits import MidjourneyEditsInput, MidjourneyVideoInput
from workers.providers.midjourney.simulation import SIMULATION
from workers.providers.midjourney.wire import (
    NAME,
    STATUS_MAP,
    submit_call,
    task_id_from_answer,
    update_from_task,
)
from workers.providers.transport import Phase, raise_for_transient_status, translate_transport_errors

# A fetch of an unknown id: new-api answers code 4 "task_no_found", the proxies code 3 or null.
NOT_FOUND_CODES = frozenset({3, 4})


class Midjourney(ProviderPlugin):
    """Midjourney tasks by their numeric-string id. We send our job id as `state`, which the task and
    every callback echo back."""

    name = NAME
    title = "Midjourney"
    deadline_s = 1200.0
    queue_group = "image-music"
    operations = {
        "imagine": MidjourneyImagineInput,
        "blend": MidjourneyBlendInput,
        "describe": MidjourneyDescribeInput,
        "action": MidjourneyActionInput,
        "video": MidjourneyVideoInput,
        "edits": MidjourneyEditsInput,
    }
    status_map = STATUS_MAP
    continuation_input = MidjourneyModalInput  # Vary Region / Custom Zoom after MODAL
    # Buttons come with grids, upscales, edits and videos; a describe answers with text only. An
    # extension continues one of a video task's videos.
    parent_operations = {
        "action": frozenset({"imagine", "blend", "action", "edits", "video"}),
        "video": frozenset({"video"}),
    }
    compat = routes.FAMILY  # `/mj/...` as CometAPI serves midjourney-proxy
    sends_callbacks = True
    simulation = SIMULATION
    # `find` asks list-by-condition for our `state`, a tolerant proxy's extension: stock midjourney-proxy
    # and new-api (CometAPI) read only `ids` and answer [] to anything else, which would look like
    # "no such task" and get an ambiguous submit sent (and paid) twice.
    finds_by_job_id = False

    def submit(self, http: httpx.Client, channel: Channel, request: SubmitRequest) -> str:
        path, body = submit_call(request)
        with translate_transport_errors(Phase.SUBMIT, self.name):
            response = http.post(_url(channel, path), json=body, headers=auth_headers(channel))
        return task_id_from_answer(response)

    def poll(self, http: httpx.Client, channel: Channel, task: TaskRef) -> ProviderUpdate:
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.get(
                _url(channel, f"/mj/task/{task.external_id}/fetch"), headers=auth_headers(channel)
            )
        found = _fetched_task(response)
        if found is None:
            # A fresh task is briefly unknown to CometAPI: keep waiting, never fail on it.
            return ProviderUpdate(status=UpstreamStatus.UNKNOWN, raw_status="task_not_exist")
        return update_from_task(found)

    def find(
        self, http: httpx.Client, channel: Channel, job_id: str, operation: str
    ) -> ProviderUpdate | None:
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.post(
                _url(channel, "/mj/task/list-by-condition"),
                json={"state": job_id},
                headers=auth_headers(channel),
            )
        raise_for_transient_status(response, Phase.QUERY, self.name)
        listed = _json(response)
        if not response.is_success or not isinstance(listed, list):
            raise ProviderUnavailableError(f"{self.name}: unreadable task list (HTTP {response.status_code})")
        # Only tasks that really carry our state: a proxy ignoring the filter must not match others.
        tasks = [task for task in map(_task_or_none, listed) if task is not None and task.state == job_id]
        if not tasks:
            return None
        return update_from_task(max(tasks, key=lambda task: task.submitTime or 0))

    def parse_callback(self, body: bytes) -> ProviderUpdate:
        try:
            task = MidjourneyTask.model_validate(json.loads(body))
        except (ValueError, ValidationError) as exc:
            raise InvalidCallbackError(f"not a Midjourney task object: {exc}") from exc
        if task.status is None:
            raise InvalidCallbackError("a Midjourney task object without a status")
        return update_from_task(task)

    def follow_up_example(
        self, operation: str, parent_result: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        """An action presses a button the parent offers: the example's kind of button, if it has one."""
        sample = super().follow_up_example(operation, parent_result)
        offered = [str(b.get("customId")) for b in (parent_result or {}).get("buttons", [])]
        if operation != "action" or sample is None or not offered:
            return sample
        wanted = action_kind(str(sample["custom_id"]))
        sample["custom_id"] = next((c for c in offered if action_kind(c) == wanted), offered[0])
        return sample


def auth_headers(channel: Channel) -> dict[str, str]:
    """CometAPI takes a bearer key; a midjourney-proxy host its `mj-api-secret` header."""
    if channel.mode == "vendor":
        return {"mj-api-secret": channel.api_key}
    return {"Authorization": f"Bearer {channel.api_key}"}


def _url(channel: Channel, path: str) -> str:
    # A mode prefix (`/mj-relax`, `/mj-fast`) can be part of the channel's base URL.
    return f"{channel.base_url.rstrip('/')}{path}"


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _task_or_none(raw: Any) -> MidjourneyTask | None:
    try:
        return MidjourneyTask.model_validate(raw)
    except ValidationError:
        return None


def _fetched_task(response: httpx.Response) -> MidjourneyTask | None:
    """The task a fetch answered with; None when the id is unknown (404, null, or a not-found code)."""
    if response.status_code == 404:
        return None
    raise_for_transient_status(response, Phase.QUERY, NAME)
    if response.is_success and response.content.strip() in (b"", b"null"):
        return None  # midjourney-proxy answers an unknown id with an empty or `null` body
    body = _json(response)
    if isinstance(body, dict) and "status" not in body and body.get("code") in NOT_FOUND_CODES:
        return None
    task = _task_or_none(body) if response.is_success else None
    if task is None:
        raise ProviderUnavailableError(f"{NAME}: unreadable fetch answer (HTTP {response.status_code})")
    return task
