"""OpenAI Sora through a channel that still serves OpenAI's Videos API (an aggregator's `/v1/videos`
with `sora-2`, `sora-2-pro` and their snapshots; OpenAI's own shut down on 2026-09-24): creates as
multipart, as OpenAI's SDK sends them, the follow-ups on an earlier job's video id, the files from
`/content` with the channel's bearer key."""

from __future__ import annotations

import base64
import binascii
import mimetypes
from collections.abc import Mapping
from typing import Any

import httpx

from workers.providers.base import (
    Channel,
    PollHint,
    ProviderPlugin,
    ProviderUpdate,
    SubmitRequest,
    TaskRef,
)
from workers.providers.errors import InvalidCallbackError, ProviderRejectedError
from workers.providers.sora import wire
from workers.providers.sora.offers import DEFAULT_SECONDS, DEFAULT_SIZE, base_model
from workers.providers.sora.schemas import (
    SoraEditInput,
    SoraExtendInput,
    SoraImageToVideoInput,
    SoraRemixInput,
    SoraTextToVideoInput,
)
from workers.providers.sora.simulation import SIMULATION
from workers.providers.sora.videos import VIDEOS
from workers.providers.transport import Phase, translate_transport_errors

FOLLOW_UPS = ("remix", "extend", "edit")
# A follow-up keeps its parent's length (remix, edit): the job states it, for its price, and it is held to it.
SAME_LENGTH = ("remix", "edit")
Part = tuple[str, tuple[str | None, Any] | tuple[str, bytes, str]]


class Sora(ProviderPlugin):
    name = "sora"
    title = "OpenAI Sora"
    deadline_s = 3600.0
    poll_hint = PollHint(initial_s=15.0, factor=1.5, max_s=30.0)  # minutes per clip (§3.6)
    queue_group = "video"
    operations = {
        "text_to_video": SoraTextToVideoInput,
        "image_to_video": SoraImageToVideoInput,
        "remix": SoraRemixInput,
        "extend": SoraExtendInput,
        "edit": SoraEditInput,
    }
    status_map = wire.STATUS_MAP
    # OpenAI's webhooks are configured per project, not per request (§3.4): nothing calls a job back.
    sends_callbacks = False
    finds_by_job_id = False  # the video object carries no id of ours
    # DELETE removes a video's files, it does not stop a job (§3.3): there is no cancel.
    supports_cancel = False
    videos = VIDEOS
    simulation = SIMULATION

    def submit(self, http: httpx.Client, channel: Channel, request: SubmitRequest) -> str:
        job_input, base = request.input, _base(channel)
        with translate_transport_errors(Phase.SUBMIT, self.name):
            if request.operation not in FOLLOW_UPS:
                parts = create_parts(request.model, job_input)
                response = http.post(f"{base}/v1/videos", files=parts, headers=auth(channel))
            else:
                video_id = parent_video(request)
                if request.operation == "remix":
                    url, body = f"{base}/v1/videos/{video_id}/remix", {"prompt": job_input["prompt"]}
                    response = http.post(url, json=body, headers=auth(channel))
                else:
                    path = "extensions" if request.operation == "extend" else "edits"
                    parts = follow_up_parts(request.operation, video_id, job_input)
                    response = http.post(f"{base}/v1/videos/{path}", files=parts, headers=auth(channel))
        return wire.created_id(response)

    def poll(self, http: httpx.Client, channel: Channel, task: TaskRef) -> ProviderUpdate:
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.get(f"{_base(channel)}/v1/videos/{task.external_id}", headers=auth(channel))
        return wire.read_query(response, _base(channel))

    def download_headers(self, channel: Channel) -> Mapping[str, str]:
        return {**auth(channel), "Accept": "application/binary"}  # as OpenAI's SDK asks for `/content`

    def parse_callback(self, body: bytes) -> ProviderUpdate:
        raise InvalidCallbackError("Sora sends no per-job callbacks (OpenAI's webhooks are per project)")

    def follow_up_example(
        self, operation: str, parent_result: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        example = super().follow_up_example(operation, parent_result)
        parent = parent_result or {}
        if example is not None and operation in SAME_LENGTH and parent.get("seconds"):
            example["seconds"] = str(parent["seconds"])
        if example is not None and parent.get("size"):
            example["size"] = str(parent["size"])
        return example


def parent_video(request: SubmitRequest) -> str:
    """The upstream id of the parent's video, and a follow-up that would misstate its length refused."""
    parent = request.parent_result or {}
    video_id = parent.get("video_id") or request.parent_external_id
    if not video_id:
        raise ProviderRejectedError("invalid_input", "the parent job has no Sora video to act on")
    made_by = parent.get("model")
    if made_by and base_model(str(made_by)) != base_model(request.model):
        raise ProviderRejectedError(
            "invalid_input", f"a {request.operation} runs on its parent's model: give model={made_by!r}"
        )
    length, size = parent.get("seconds"), parent.get("size")
    if request.operation in SAME_LENGTH and length and str(length) != str(request.input.get("seconds")):
        raise ProviderRejectedError(
            "invalid_input",
            f"a {request.operation} is as long as its parent: give seconds={length!r}, the parent's length",
        )
    if size and str(size) != str(request.input.get("size")):
        raise ProviderRejectedError(
            "invalid_input", f"a {request.operation} keeps its parent's size: give size={size!r}"
        )
    return str(video_id)


def create_parts(model: str, job_input: Mapping[str, Any]) -> list[Part]:
    """The create's form: its text fields, then `input_reference` as a file (a data URI's bytes) or as
    OpenAI's object form `{image_url}` in bracketed keys (a URL, fetched by the upstream)."""
    # The length and size always sent, defaults too: the clip made is the one priced.
    seconds, size = job_input.get("seconds", DEFAULT_SECONDS), job_input.get("size", DEFAULT_SIZE)
    fields = {"prompt": job_input["prompt"], "model": model, "seconds": str(seconds), "size": str(size)}
    parts: list[Part] = [(name, (None, value)) for name, value in fields.items()]
    reference = job_input.get("input_reference")
    if isinstance(reference, str) and reference.startswith("data:"):
        mime, data = decode_data_uri(reference)
        name = f"input_reference{mimetypes.guess_extension(mime) or '.png'}"
        parts.append(("input_reference", (name, data, mime)))
    elif isinstance(reference, str):
        parts.append(("input_reference[image_url]", (None, reference)))
    return parts


def follow_up_parts(operation: str, video_id: str, job_input: Mapping[str, Any]) -> list[Part]:
    """An extension's or an edit's form: the prompt, the parent as `video[id]` (and an extension's length)."""
    parts: list[Part] = [("prompt", (None, job_input["prompt"])), ("video[id]", (None, video_id))]
    if operation == "extend":
        parts.append(("seconds", (None, str(job_input["seconds"]))))
    return parts


def decode_data_uri(uri: str) -> tuple[str, bytes]:
    head, _, payload = uri.partition(",")
    mime = head.removeprefix("data:").split(";")[0] or "image/png"
    try:
        return mime, base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProviderRejectedError("invalid_input", f"input_reference is not valid base64: {exc}") from exc


def auth(channel: Channel) -> dict[str, str]:
    return {"Authorization": f"Bearer {channel.api_key}"}


def _base(channel: Channel) -> str:
    return channel.base_url.rstrip("/")
