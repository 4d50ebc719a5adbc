"""Veo's request bodies and answer readers for both flavours (CometAPI's video object, Gemini's
operation), as pure functions; `workers.providers.veo.adapter` does the HTTP around them."""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError

from workers.providers.base import OutputRef, ProviderUpdate, UpstreamStatus
from workers.providers.veo.schemas import (
    COMETAPI_TO_GEMINI,
    CometVideo,
    GeminiOperation,
    GeneratedVideo,
    GenerateVideoResponse,
)

STATUS_MAP: Mapping[str, UpstreamStatus] = {
    "queued": UpstreamStatus.PENDING,
    "in_progress": UpstreamStatus.RUNNING,
    "completed": UpstreamStatus.SUCCEEDED,
    "failed": UpstreamStatus.FAILED,
    # new-api's own task states, should a gateway ever pass them through unprojected [I].
    "not_start": UpstreamStatus.PENDING,
    "submitted": UpstreamStatus.PENDING,
    "success": UpstreamStatus.SUCCEEDED,
    "failure": UpstreamStatus.FAILED,
    "unknown": UpstreamStatus.UNKNOWN,
}
SAFETY_TEXT = re.compile(
    r"safety|moderat|\brai\b|responsible ai|polic(y|ies)|violat|sensitive|prohibit|celebrit|filtered",
    re.IGNORECASE,
)
# Google refuses a bad key with 400 INVALID_ARGUMENT ("API key not valid"), a missing one with 403.
KEY_TEXT = re.compile(r"api[ _-]?key|unauthenticated|invalid[ _]token", re.IGNORECASE)
GEMINI_ONLY = ("negativePrompt", "resolution", "personGeneration")


@dataclass(frozen=True)
class Image:
    mime_type: str
    data: bytes


def upstream_model(model: str, mode: str) -> str:
    """The job's model in the channel's vocabulary: CometAPI aliases and Gemini ids both work."""
    if mode == "vendor":
        return COMETAPI_TO_GEMINI.get(model, model)
    return {gemini: alias for alias, gemini in COMETAPI_TO_GEMINI.items()}.get(model, model)


def cometapi_unsupported(job_input: Mapping[str, Any]) -> str | None:
    """The option CometAPI's `/v1/videos` has no field for (it makes 8-second clips), or None."""
    for name in GEMINI_ONLY:
        if job_input.get(name) is not None:
            return name
    return "durationSeconds" if int(job_input.get("durationSeconds", 8)) != 8 else None


def private_host(url: str) -> bool:
    """Whether an image URL names an internal address outright (no DNS lookup is made here)."""
    host = urlsplit(url).hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")
    return not address.is_global


def error_text(response: httpx.Response) -> str:
    """The message and code of an error answer: `{"error": {...}}` (CometAPI, google.rpc.Status) or
    new-api's bare `{"code", "message"}`."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if not isinstance(body, dict):
        return str(body)[:300]
    nested = body.get("error")
    error: dict[str, Any] = nested if isinstance(nested, dict) else body
    parts = (error.get("message"), error.get("status"), error.get("code"))
    return " ".join(str(part) for part in parts if part not in (None, "")) or f"HTTP {response.status_code}"


def failure(
    raw_status: str,
    message: str,
    external_id: str | None,
    hint: str = "",
    *,
    moderated: bool = False,
    ours: bool = False,
) -> ProviderUpdate:
    """A failed task; `hint` (the provider's error code or status) counts when telling moderation
    apart, and is kept with `message` as the provider's own words (unless the message is `ours`)."""
    moderated = moderated or bool(SAFETY_TEXT.search(f"{message} {hint}"))
    code = "moderation_blocked" if moderated else "upstream_failed"
    return ProviderUpdate(
        UpstreamStatus.FAILED,
        raw_status,
        error_code=code,
        error_message=message,
        external_id=external_id,
        provider_code=hint or None,
        provider_message=None if ours else message,
    )


def output(url: str, base_url: str, index: int, content_type: str | None = None) -> OutputRef:
    """A result file; only a link on the channel's own host gets the channel's credentials."""
    ours, theirs = urlsplit(base_url), urlsplit(url)
    same_origin = (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)
    return OutputRef(url, content_type or "video/mp4", label=f"video-{index}", authenticated=same_origin)


# --- CometAPI --------------------------------------------------------------------------------------


def comet_update(video: CometVideo, base_url: str) -> ProviderUpdate:
    status = STATUS_MAP.get(video.status.lower(), UpstreamStatus.UNKNOWN)
    if status is UpstreamStatus.FAILED:
        error = video.error
        message = (error.message if error else None) or "Veo reported the task failed"
        hint = str(error.code or "") if error else ""
        return failure(video.status, message, video.id, hint, ours=not (error and error.message))
    outputs: tuple[OutputRef, ...] = ()
    if status is UpstreamStatus.SUCCEEDED:
        outputs = (output(_result_url(video, base_url), base_url, 0),)
    details = {"model": video.model, "seconds": video.seconds, "size": video.size}
    return ProviderUpdate(
        status=status,
        raw_status=video.status,
        progress=100 if status is UpstreamStatus.SUCCEEDED else _percent(video.progress),
        outputs=outputs,
        external_id=video.id,
        result={k: v for k, v in details.items() if v not in (None, "")} or None,
    )


def _result_url(video: CometVideo, base_url: str) -> str:
    # new-api puts the upstream's link in metadata.url; without one, the documented stream.
    for url in (video.video_url, (video.metadata or {}).get("url")):
        if isinstance(url, str) and urlsplit(url).scheme in ("http", "https"):
            return url
    return f"{base_url.rstrip('/')}/v1/videos/{video.id}/content"


def _percent(value: object) -> int | None:
    """CometAPI sends an int; tolerate "58%" and floats."""
    try:
        number = float(str(value).strip().rstrip("%")) if value not in (None, "") else None
    except ValueError:
        return None
    return None if number is None else max(0, min(100, int(number)))


# --- Gemini ----------------------------------------------------------------------------------------


def gemini_body(job_input: Mapping[str, Any], images: list[Image]) -> dict[str, Any]:
    instance: dict[str, Any] = {"prompt": job_input["prompt"]}
    for key, image in zip(("image", "lastFrame"), images, strict=False):
        encoded = base64.b64encode(image.data).decode()
        instance[key] = {"bytesBase64Encoded": encoded, "mimeType": image.mime_type}
    parameters: dict[str, Any] = {
        "aspectRatio": str(job_input.get("size", "16x9")).replace("x", ":"),
        "durationSeconds": int(job_input.get("durationSeconds", 8)),
    }
    parameters.update({k: job_input[k] for k in GEMINI_ONLY if job_input.get(k) is not None})
    return {"instances": [instance], "parameters": parameters}


def gemini_update(operation: GeminiOperation, base_url: str) -> ProviderUpdate:
    name = operation.name
    if operation.error is not None:
        error = operation.error
        message = error.message or f"Veo operation failed (code {error.code})"
        return failure("failed", message, name, error.status or str(error.code or ""))
    if not operation.done:
        percent = _percent((operation.metadata or {}).get("progressPercent"))
        return ProviderUpdate(UpstreamStatus.RUNNING, "in_progress", progress=percent, external_id=name)
    response = operation.response or {}
    try:
        videos = GenerateVideoResponse.model_validate(response.get("generateVideoResponse", response))
    except ValidationError as exc:
        return failure("failed", f"unreadable Veo response: {exc}", name, ours=True)
    found = [s.video for s in videos.samples if s.video is not None] + videos.videos
    outputs = tuple(
        output(url, base_url, n, v.mime_type) for n, v in enumerate(found) if (url := _video_url(v))
    )
    if outputs:
        result = {"raiMediaFilteredCount": videos.filtered_count} if videos.filtered_count else None
        return ProviderUpdate(
            UpstreamStatus.SUCCEEDED, "completed", 100, outputs, external_id=name, result=result
        )
    if videos.filtered_count or videos.filtered_reasons:
        reasons = "; ".join(videos.filtered_reasons) or "the video was filtered (Responsible AI)"
        return failure("failed", reasons, name, moderated=True)
    return failure("failed", "Veo finished without a video", name, ours=True)


def _video_url(video: GeneratedVideo) -> str | None:
    if video.uri:
        return video.uri
    if video.gcs_uri and video.gcs_uri.startswith("gs://"):
        # Vertex writes to the caller's bucket; its HTTPS twin needs that bucket to be readable.
        return f"https://storage.googleapis.com/{video.gcs_uri.removeprefix('gs://')}"
    if video.bytes_base64:
        return f"data:{video.mime_type or 'video/mp4'};base64,{video.bytes_base64}"
    return None
