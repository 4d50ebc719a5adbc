"""MiniMax Hailuo: text2video and image2video through CometAPI, which mirrors MiniMax's paths at its root
[I], or the vendor's own API (`api.minimax.io`): the same three paths and a bearer key on both."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from workers.providers.base import (
    Channel,
    OutputRef,
    ProviderPlugin,
    ProviderUpdate,
    SubmitRequest,
    TaskRef,
)
from workers.providers.errors import ProviderRejectedError
from workers.providers.hailuo import wire
from workers.providers.hailuo.routes import FAMILY
from workers.providers.hailuo.schemas import HailuoImage2VideoInput, HailuoText2VideoInput, model_problem
from workers.providers.hailuo.simulation import SIMULATION
from workers.providers.hailuo.videos import VIDEOS
from workers.providers.transport import Phase, raise_for_transient_status, translate_transport_errors

CREATE = "/v1/video_generation"
QUERY = "/v1/query/video_generation"
RETRIEVE = "/v1/files/retrieve"


class Hailuo(ProviderPlugin):
    name = "hailuo"
    title = "MiniMax Hailuo"
    deadline_s = 1800.0
    queue_group = "video"
    operations = {"text2video": HailuoText2VideoInput, "image2video": HailuoImage2VideoInput}
    status_map = wire.STATUS_MAP
    sends_callbacks = True
    # MiniMax echoes no id of ours, so a lost submit answer cannot be looked up: the job keeps its hold
    # until its deadline and is never sent again.
    finds_by_job_id = False
    supports_cancel = False
    poll_hint = None
    compat = FAMILY
    simulation = SIMULATION
    videos = VIDEOS  # its models on the shared /v1/videos routes too

    def submit(self, http: httpx.Client, channel: Channel, request: SubmitRequest) -> str:
        problem = model_problem(request.model, request.operation, request.input)
        if problem is not None:
            raise ProviderRejectedError("invalid_input", problem)
        body: dict[str, Any] = {"model": request.model, **request.input}
        if request.callback_url:
            body["callback_url"] = request.callback_url
        with translate_transport_errors(Phase.SUBMIT, self.name):
            response = http.post(_url(channel, CREATE), json=body, headers=_auth(channel))
        return wire.created_task_id(response)

    def poll(self, http: httpx.Client, channel: Channel, task: TaskRef) -> ProviderUpdate:
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.get(
                _url(channel, QUERY), params={"task_id": task.external_id}, headers=_auth(channel)
            )
        raise_for_transient_status(response, Phase.QUERY, self.name)
        return wire.read_query(wire.payload_of(response), response.status_code)

    def parse_callback(self, body: bytes) -> ProviderUpdate:
        return wire.parse_callback(body)

    def handshake(self, body: bytes) -> Mapping[str, Any] | None:
        return wire.challenge_answer(body)

    def resolve_output(self, http: httpx.Client, channel: Channel, output: OutputRef) -> OutputRef:
        """MiniMax's `file_id` as a download link, asked for when the file is copied (links expire)."""
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.get(
                _url(channel, RETRIEVE), params={"file_id": output.url}, headers=_auth(channel)
            )
        raise_for_transient_status(response, Phase.QUERY, self.name)
        link = wire.download_link(wire.payload_of(response), response.status_code)
        return OutputRef(link, output.content_type, output.label)


def _url(channel: Channel, path: str) -> str:
    return f"{channel.base_url.rstrip('/')}{path}"


def _auth(channel: Channel) -> dict[str, str]:
    return {"Authorization": f"Bearer {channel.api_key}"}
