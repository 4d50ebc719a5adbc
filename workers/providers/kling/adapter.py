"""Kling: text2video, image2video, image generation and the newer operations (multi-image, effects,
avatar, audio, virtual try-on, and follow-ups on an earlier video), through CometAPI's pass-through
routes (`/kling/v1/...`, bearer key) or the vendor's own API (`/v1/...`, a JWT from access/secret key)."""

from __future__ import annotations

import json
import time

import httpx
import jwt
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
)
from workers.providers.kling import creates, wire
from workers.providers.kling.operations import INPUTS
from workers.providers.kling.routes import FAMILY
from workers.providers.kling.schemas import (
    KlingTask,
)
from workers.providers.kling.simulation import SIMULATION
from workers.providers.kling.videos import VIDEOS
from workers.providers.transport import (
    Phase,
    raise_for_transient_status,
    retry_after_seconds,
    translate_transport_errors,
)


class Kling(ProviderPlugin):
    name = "kling"
    title = "Kling"
    deadline_s = 1800.0
    queue_group = "video"
    operations = INPUTS
    # A follow-up names its parent's video by Kling's id, valid on the parent's account for 30 days.
    parent_operations = creates.PARENT_OPERATIONS
    status_map = wire.STATUS_MAP
    sends_callbacks = True
    finds_by_job_id = True  # external_task_id: unique per account, queryable
    compat = FAMILY
    simulation = SIMULATION
    videos = VIDEOS  # its models on the shared /v1/videos routes too

    def submit(self, http: httpx.Client, channel: Channel, request: SubmitRequest) -> str:
        body = creates.body(request)
        with translate_transport_errors(Phase.SUBMIT, self.name):
            response = http.post(
                self._url(channel, request.operation), json=body, headers=auth_headers(channel)
            )
        envelope = wire.envelope_of(response)
        if envelope is not None and envelope.code == 0 and envelope.data and envelope.data.get("task_id"):
            return str(envelope.data["task_id"])
        if envelope is not None and envelope.code != 0:
            wire.raise_for_code(envelope, retry_after_seconds(response))
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

    def parse_callback(self, body: bytes) -> ProviderUpdate:
        try:
            task = KlingTask.model_validate(json.loads(body))
        except (ValueError, ValidationError) as exc:
            raise InvalidCallbackError(f"not a Kling task object: {exc}") from exc
        return wire.update_from_task(task)

    def _query(
        self, http: httpx.Client, channel: Channel, operation: str, task_id: str
    ) -> ProviderUpdate | None:
        url = f"{self._url(channel, operation)}/{task_id}"
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.get(url, headers=auth_headers(channel))
        envelope = wire.envelope_of(response)
        if response.status_code == 404 or (envelope is not None and wire.is_not_found(envelope)):
            return None
        raise_for_transient_status(response, Phase.QUERY, self.name)
        if envelope is None or envelope.code != 0 or envelope.data is None:
            raise ProviderUnavailableError(f"kling: unreadable query answer (HTTP {response.status_code})")
        try:
            return wire.update_from_task(KlingTask.model_validate(envelope.data))
        except ValidationError as exc:
            raise ProviderUnavailableError(f"kling: malformed task object: {exc}") from exc

    @staticmethod
    def _url(channel: Channel, operation: str) -> str:
        prefix = "" if channel.mode == "vendor" else "/kling"
        return f"{channel.base_url.rstrip('/')}{prefix}/v1/{creates.path(operation)}"


JWT_LIFETIME_S = 1800


def auth_headers(channel: Channel) -> dict[str, str]:
    """CometAPI takes its key as a bearer token; Kling itself takes a short-lived HS256 JWT."""
    if channel.mode != "vendor":
        return {"Authorization": f"Bearer {channel.api_key}"}
    now = int(time.time())
    claims = {"iss": channel.api_key, "exp": now + JWT_LIFETIME_S, "nbf": now - 5}
    return {"Authorization": f"Bearer {jwt.encode(claims, channel.secret_key, algorithm='HS256')}"}
