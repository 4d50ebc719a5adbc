"""Runway's official API (image_to_video, text_to_image, text_to_video, video_to_video, video_upscale,
character_performance, tasks), through CometAPI's `/runwayml/v1/...` pass-through or Runway's own host
(`/v1/...`); both take a bearer key and `X-Runway-Version`."""

from __future__ import annotations

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
from workers.providers.errors import (
    InvalidCallbackError,
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)
from workers.providers.runway import routes
from workers.providers.runway.followup import PARENT_OPERATIONS, wire_body, with_parent_output
from workers.providers.runway.schemas import RUNWAY_VERSION, RunwayImageToVideoInput, RunwayTextToImageInput
from workers.providers.runway.schemas_video import (
    PARENT_FIELD,
    RunwayCharacterPerformanceInput,
    RunwayTextToVideoInput,
    RunwayVideoToVideoInput,
    RunwayVideoUpscaleInput,
)
from workers.providers.runway.simulation import SIMULATION
from workers.providers.runway.wire import (
    MODERATION_TEXT,
    NOT_NOW_TEXT,
    STATUS_MAP,
    created_id,
    error_text,
    is_not_found,
    read_update,
)
from workers.providers.transport import Phase, raise_for_transient_status, translate_transport_errors

# Runway refuses a create without `ratio` on newer models, and the allowed ratios depend on the model.
DEFAULT_RATIOS: Mapping[str, str] = {"gen3a_turbo": "1280:768"}
DEFAULT_RATIO = {
    "image_to_video": "1280:720",
    "text_to_image": "1024:1024",
    "text_to_video": "1280:720",
    "video_to_video": "1280:720",
}
# Answers that mean our channel or route is wrong, not the input: nothing was created.
CHANNEL_STATUSES = frozenset({401, 404, 405})


class Runway(ProviderPlugin):
    name = "runway"
    title = "Runway"
    deadline_s = 1800.0
    queue_group = "video"
    operations = {
        "image_to_video": RunwayImageToVideoInput,
        "text_to_image": RunwayTextToImageInput,
        "text_to_video": RunwayTextToVideoInput,
        "video_to_video": RunwayVideoToVideoInput,
        "video_upscale": RunwayVideoUpscaleInput,
        "character_performance": RunwayCharacterPerformanceInput,
    }
    # A follow-up takes an earlier job's output in place of its videoUri (or Act-Two's character).
    parent_operations = PARENT_OPERATIONS
    status_map = STATUS_MAP
    supports_cancel = True  # DELETE /v1/tasks/{id}
    sends_callbacks = False  # the official API has no webhooks: polling only
    # Runway carries no identifier of ours and lists no tasks: an ambiguous submit can't be found.
    finds_by_job_id = False
    compat = routes.FAMILY
    simulation = SIMULATION

    def submit(self, http: httpx.Client, channel: Channel, request: SubmitRequest) -> str:
        # request.callback_url has nowhere to go: the official format takes none.
        body: dict[str, Any] = {**wire_body(request.input), "model": request.model}
        ratio = DEFAULT_RATIOS.get(request.model, DEFAULT_RATIO.get(request.operation))
        if ratio is not None:
            body.setdefault("ratio", ratio)
        if request.input.get(PARENT_FIELD):
            body = self._with_parent(http, channel, request, body)
        with translate_transport_errors(Phase.SUBMIT, self.name):
            response = http.post(
                f"{_base(channel)}/{request.operation}", json=body, headers=auth_headers(channel)
            )
        task_id = created_id(response) if response.is_success else None
        if task_id is not None:
            return task_id
        raise_for_transient_status(response, Phase.SUBMIT, self.name)
        _raise_for_refusal(response)
        raise SubmitOutcomeUnknownError(f"runway: HTTP {response.status_code} without a task id")

    def _with_parent(
        self, http: httpx.Client, channel: Channel, request: SubmitRequest, body: dict[str, Any]
    ) -> dict[str, Any]:
        """The body with the parent task's output, read afresh from Runway: a stored link may have expired.
        A parent Runway cannot show is refused; one it cannot show now is retried (nothing was created)."""
        if not request.parent_external_id:
            raise ProviderRejectedError(
                "invalid_input", "a Runway follow-up needs its parent's upstream task id"
            )
        parent = self.poll(
            http, channel, TaskRef(request.job_id, request.operation, request.parent_external_id)
        )
        return with_parent_output(request.operation, body, parent, request.parent_result)

    def poll(self, http: httpx.Client, channel: Channel, task: TaskRef) -> ProviderUpdate:
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.get(_task_url(channel, task.external_id), headers=auth_headers(channel))
        if is_not_found(response):
            # CometAPI answers task_not_exist for a moment right after create.
            return ProviderUpdate(status=UpstreamStatus.UNKNOWN, raw_status="task_not_exist")
        raise_for_transient_status(response, Phase.QUERY, self.name)
        if not response.is_success:
            raise ProviderUnavailableError(f"runway: query answered HTTP {response.status_code}")
        try:
            return read_update(response.json(), task.operation)
        except (ValueError, ValidationError) as exc:
            raise ProviderUnavailableError(f"runway: unreadable task answer: {exc}") from exc

    def cancel(self, http: httpx.Client, channel: Channel, task: TaskRef) -> None:
        """Cancel a pending, throttled or running task (Runway deletes a finished one)."""
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.delete(_task_url(channel, task.external_id), headers=auth_headers(channel))
        if response.is_success or response.status_code == 404:
            return  # already gone: nothing left to stop
        raise_for_transient_status(response, Phase.QUERY, self.name)
        if response.status_code in CHANNEL_STATUSES:
            raise ProviderUnavailableError(f"runway: cancel answered HTTP {response.status_code}")
        raise ProviderRejectedError("cancel_refused", f"Runway refused the cancel: {error_text(response)}")

    def parse_callback(self, body: bytes) -> ProviderUpdate:
        raise InvalidCallbackError("Runway's official API sends no callbacks")


def auth_headers(channel: Channel) -> dict[str, str]:
    """CometAPI and Runway both take a bearer key; Runway also wants the API version it speaks."""
    return {"Authorization": f"Bearer {channel.api_key}", "X-Runway-Version": RUNWAY_VERSION}


def _base(channel: Channel) -> str:
    prefix = "" if channel.mode == "vendor" else "/runwayml"
    return f"{channel.base_url.rstrip('/')}{prefix}/v1"


def _task_url(channel: Channel, task_id: str) -> str:
    return f"{_base(channel)}/tasks/{task_id}"


def _raise_for_refusal(response: httpx.Response) -> None:
    """Refusals of a create that left nothing behind; returns for an answer it cannot read."""
    status, reason = response.status_code, error_text(response)
    if status in CHANNEL_STATUSES:
        raise ProviderUnavailableError(f"runway: create answered HTTP {status}: {reason}")
    if response.is_success and not _names_an_error(response):
        return
    if MODERATION_TEXT.search(reason):
        raise ProviderRejectedError(
            "moderation_blocked", f"Runway refused the content: {reason}", provider_message=reason
        )
    if response.is_success and NOT_NOW_TEXT.search(reason):
        # A gateway's business refusal inside HTTP 200 (quota, balance, busy): nothing was created.
        raise ProviderUnavailableError(f"runway: {reason}")
    raise ProviderRejectedError(
        "invalid_input", f"Runway rejected the request (HTTP {status}): {reason}", provider_message=reason
    )


def _names_an_error(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and bool(body.get("error") or body.get("code") not in (None, "success"))
