"""Veo: text-to-video and image-to-video, through CometAPI's `POST /v1/videos` (multipart, bearer
key; the default) or Google's Gemini API `:predictLongRunning` operations (vendor mode, x-goog-api-key).
Image inputs (https URLs or data URIs) are always sent as bytes: URLs are fetched here first."""

from __future__ import annotations

import mimetypes
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
from workers.providers.transport import Phase, raise_for_transient_status, translate_transport_errors
from workers.providers.veo import wire
from workers.providers.veo.schemas import (
    MAX_IMAGE_BYTES,
    CometVideo,
    GeminiOperation,
    VeoImageToVideoInput,
    VeoTextToVideoInput,
    decode_data_uri,
)
from workers.providers.veo.simulation import SIMULATION
from workers.providers.veo.videos import VIDEOS

NOT_FOUND_TEXT = ("not_exist", "not exist", "not found", "not_found")
MAX_REDIRECTS = 5


class Veo(ProviderPlugin):
    name = "veo"
    title = "Veo"
    deadline_s = 1800.0
    queue_group = "video"
    operations = {
        "text_to_video": VeoTextToVideoInput,
        "image_to_video": VeoImageToVideoInput,
    }
    status_map = wire.STATUS_MAP
    sends_callbacks = False  # neither CometAPI's video route nor Gemini's operations call back
    finds_by_job_id = False  # neither flavour carries an id of ours
    videos = VIDEOS  # on the shared /v1/videos routes
    simulation = SIMULATION

    def submit(self, http: httpx.Client, channel: Channel, request: SubmitRequest) -> str:
        vendor = channel.mode == "vendor"
        unsupported = None if vendor else wire.cometapi_unsupported(request.input)
        if unsupported is not None:
            raise ProviderRejectedError(
                "invalid_input", f"CometAPI's Veo route has no {unsupported} option: use a Gemini channel"
            )
        images = self._images(http, request.input)
        model = wire.upstream_model(request.model, channel.mode)
        with translate_transport_errors(Phase.SUBMIT, self.name):
            if vendor:
                url = f"{_base(channel)}/v1beta/models/{model}:predictLongRunning"
                body = wire.gemini_body(request.input, images)
                response = http.post(url, json=body, headers=auth_headers(channel))
            else:
                parts = _multipart(request.input, model, images)
                response = http.post(
                    f"{_base(channel)}/v1/videos", files=parts, headers=auth_headers(channel)
                )
        return self._created_id(response, "name" if vendor else "id")

    def poll(self, http: httpx.Client, channel: Channel, task: TaskRef) -> ProviderUpdate:
        vendor = channel.mode == "vendor"
        path = f"v1beta/{task.external_id}" if vendor else f"v1/videos/{task.external_id}"
        with translate_transport_errors(Phase.QUERY, self.name):
            response = http.get(f"{_base(channel)}/{path}", headers=auth_headers(channel))
        if _is_not_found(response):
            # CometAPI answers task_not_exist for a moment right after create.
            return ProviderUpdate(status=UpstreamStatus.UNKNOWN, raw_status="task_not_exist")
        raise_for_transient_status(response, Phase.QUERY, self.name)
        try:
            if not response.is_success:
                raise ValueError(wire.error_text(response))
            if vendor:
                return wire.gemini_update(GeminiOperation.model_validate(response.json()), _base(channel))
            return wire.comet_update(CometVideo.model_validate(response.json()), _base(channel))
        except (ValueError, ValidationError) as exc:
            raise ProviderUnavailableError(
                f"veo: unreadable query answer (HTTP {response.status_code}): {exc}"
            ) from exc

    def download_headers(self, channel: Channel) -> Mapping[str, str]:
        return auth_headers(channel)  # CometAPI's /content stream and Gemini's file URIs need the key

    def parse_callback(self, body: bytes) -> ProviderUpdate:
        raise InvalidCallbackError("Veo sends no callbacks")

    def _created_id(self, response: httpx.Response, field: str) -> str:
        if response.is_success:
            try:
                body = response.json()
            except ValueError:
                body = None
            value = body.get(field) if isinstance(body, dict) else None
            if isinstance(value, str) and value:
                return value
            raise SubmitOutcomeUnknownError(
                f"veo: submit answered HTTP {response.status_code} without an {field}"
            )
        message = wire.error_text(response)
        if response.status_code == 401 or wire.KEY_TEXT.search(message):
            raise ProviderUnavailableError(f"veo: the channel's key was refused: {message}")
        if response.status_code == 500 and "invalid_request" in message:
            raise ProviderRejectedError(
                "invalid_input", f"Veo rejected the request: {message}", provider_message=message
            )
        raise_for_transient_status(response, Phase.SUBMIT, self.name)
        if 400 <= response.status_code < 500:
            code = "moderation_blocked" if wire.SAFETY_TEXT.search(message) else "invalid_input"
            raise ProviderRejectedError(code, f"Veo refused the request: {message}", provider_message=message)
        raise ProviderRejectedError("upstream_rejected", f"Veo answered HTTP {response.status_code}")

    def _images(self, http: httpx.Client, job_input: Mapping[str, Any]) -> list[wire.Image]:
        refs = [job_input.get("image"), job_input.get("lastFrame")]
        return [self._image(http, ref) for ref in refs if isinstance(ref, str) and ref]

    def _image(self, http: httpx.Client, ref: str) -> wire.Image:
        if ref.startswith("data:"):
            try:
                return wire.Image(*decode_data_uri(ref))
            except ValueError as exc:
                raise ProviderRejectedError("invalid_input", f"image: {exc}") from exc
        url = ref
        for _ in range(MAX_REDIRECTS + 1):  # followed by hand, so that every hop is checked
            if not url.startswith("https://") or wire.private_host(url):
                raise ProviderRejectedError(
                    "invalid_input", f"image {url!r}: only public https URLs are fetched"
                )
            # Fetching creates nothing upstream: every transport failure is worth a later retry.
            with translate_transport_errors(Phase.QUERY, self.name), http.stream("GET", url) as response:
                if response.next_request is None:
                    return _image_from(response, url)
                url = str(response.next_request.url)
        raise ProviderRejectedError("invalid_input", f"image {ref}: too many redirects")


def _image_from(response: httpx.Response, url: str) -> wire.Image:
    status = response.status_code
    if status in {408, 425, 429} or status >= 500:
        raise ProviderUnavailableError(f"veo: image {url} answered HTTP {status}")
    if not response.is_success:
        raise ProviderRejectedError("invalid_input", f"image {url} answered HTTP {status}")
    mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not mime.startswith("image/"):
        mime = mimetypes.guess_type(url.split("?", maxsplit=1)[0])[0] or mime
    if not mime.startswith("image/"):
        raise ProviderRejectedError("invalid_input", f"image {url} is not an image ({mime or 'no type'})")
    data = bytearray()
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) > MAX_IMAGE_BYTES:
            raise ProviderRejectedError(
                "invalid_input", f"image {url} is larger than {MAX_IMAGE_BYTES} bytes"
            )
    return wire.Image(mime, bytes(data))


def _multipart(job_input: Mapping[str, Any], model: str, images: list[wire.Image]) -> list[tuple[str, Any]]:
    """CometAPI's form: text fields, then the reference images in order (first frame, last frame)."""
    fields = {"prompt": job_input["prompt"], "model": model, "size": job_input.get("size", "16x9")}
    parts: list[tuple[str, Any]] = [(key, (None, str(value))) for key, value in fields.items()]
    for n, image in enumerate(images):
        ext = mimetypes.guess_extension(image.mime_type) or ".png"
        parts.append(("input_reference", (f"frame-{n}{ext}", image.data, image.mime_type)))
    return parts


def _is_not_found(response: httpx.Response) -> bool:
    if response.status_code == 404:
        return True
    # new-api answers an unknown task id with HTTP 400 and code "task_not_exist".
    text = wire.error_text(response).lower() if 400 <= response.status_code < 500 else ""
    return any(marker in text for marker in NOT_FOUND_TEXT)


def auth_headers(channel: Channel) -> dict[str, str]:
    """CometAPI takes its key as a bearer token; Gemini in the x-goog-api-key header."""
    if channel.mode == "vendor":
        return {"x-goog-api-key": channel.api_key}
    return {"Authorization": f"Bearer {channel.api_key}"}


def _base(channel: Channel) -> str:
    return channel.base_url.rstrip("/")
