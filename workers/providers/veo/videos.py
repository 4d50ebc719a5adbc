"""Veo on the shared `/v1/videos` routes, as CometAPI serves it: `size` is `16x9` or `9x16`, one
`input_reference` image is the first frame and a second the last frame, `seconds` the clip length."""

from __future__ import annotations

from schemas.jobs import JobCreate
from workers.providers.compat import JobView
from workers.providers.veo.schemas import COMETAPI_TO_GEMINI, GEMINI_MODELS
from workers.providers.videos import VideoModels, VideoRequest, unified_job

DEFAULT_SIZE = "16x9"
DEFAULT_SECONDS = 8


def job(request: VideoRequest) -> JobCreate:
    """No reference is text-to-video, one or two image-to-video (first frame, last frame)."""
    job_input: dict[str, object] = {"prompt": request.prompt, "size": request.size or DEFAULT_SIZE}
    if request.seconds is not None:
        job_input["durationSeconds"] = request.seconds
    job_input.update(zip(("image", "lastFrame"), request.references, strict=False))
    return unified_job("veo", "image_to_video" if request.references else "text_to_video", request, job_input)


def seconds(job: JobView) -> str:
    return str((job.result or {}).get("seconds") or job.input.get("durationSeconds") or DEFAULT_SECONDS)


def size(job: JobView) -> str:
    return str(job.input.get("size", DEFAULT_SIZE))


VIDEOS = VideoModels(
    models=(*COMETAPI_TO_GEMINI, *GEMINI_MODELS),
    job=job,
    seconds=seconds,
    size=size,
    # Where the unified input names a field differently from the client's form.
    params={
        "input.durationSeconds": "seconds",
        "input.image": "input_reference",
        "input.lastFrame": "input_reference",
    },
    words=(("durationSeconds", "seconds"), ("lastFrame", "input_reference")),
    fields={
        "prompt": {"type": "string", "minLength": 1, "maxLength": 4000, "pattern": r"\S"},
        "seconds": {"type": "string", "enum": ["4", "6", "8"], "description": "The clip's length (8)."},
        "size": {"type": "string", "enum": ["16x9", "9x16", "16:9", "9:16"], "description": "16x9 or 9x16."},
    },
    # A first/last-frame clip lasts 8 seconds.
    rules={
        "if": {"required": ["input_reference"], "properties": {"input_reference": {"minItems": 2}}},
        "then": {"properties": {"seconds": {"enum": ["8", 8, "", None]}}},  # or left to its 8
    },
)
