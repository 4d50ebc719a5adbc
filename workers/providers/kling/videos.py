"""Kling on the shared `/v1/videos` routes, as aggregators serve it there [P]: `seconds` is the
clip length (5 or 10), `size` an aspect ratio or width x height, one `input_reference` image animates
that image and a second is its last frame (`image_tail`); `negative_prompt` and `mode` pass through."""

from __future__ import annotations

from typing import Any

from schemas.jobs import JobCreate
from workers.providers.compat import JobView, invalid
from workers.providers.kling.schemas import KLING_MODELS
from workers.providers.videos import VideoModels, VideoRequest, aspect_of, unified_job


def job(request: VideoRequest) -> JobCreate:
    job_input: dict[str, Any] = {"prompt": request.prompt, **request.extra}
    if request.seconds is not None:
        job_input["duration"] = request.seconds
    if request.size is not None:
        aspect = aspect_of(request.size)
        if aspect is None:
            raise invalid(
                f"size {request.size!r}: Kling makes 16:9, 9:16 or 1:1 clips (e.g. 1280x720)", "size"
            )
        job_input["aspect_ratio"] = aspect
    job_input.update(zip(("image", "image_tail"), request.references, strict=False))
    return unified_job("kling", "image2video" if request.references else "text2video", request, job_input)


def seconds(job: JobView) -> str:
    return str(job.input.get("duration", "5"))


def size(job: JobView) -> str:
    return str(job.input.get("aspect_ratio", "16:9"))


VIDEOS = VideoModels(
    models=KLING_MODELS,
    job=job,
    seconds=seconds,
    size=size,
    params={"input.duration": "seconds", "input.aspect_ratio": "size", "input.image_tail": "input_reference"},
    words=(("aspect_ratio", "size"), ("image_tail", "input_reference")),
    extra_fields=("negative_prompt", "mode"),
    fields={
        "prompt": {"type": "string", "minLength": 1, "maxLength": 2500, "pattern": r"\S"},
        "seconds": {"type": "string", "enum": ["5", "10"], "description": "The clip's length (5)."},
        "size": {
            "type": "string",
            "pattern": "^(16:9|9:16|1:1|[0-9]{2,5}[x*][0-9]{2,5})$",
            "description": "16:9, 9:16 or 1:1, or width x height (e.g. 1280x720) read as one of them.",
        },
        "negative_prompt": {"type": "string", "maxLength": 2500},
        "mode": {"type": "string", "enum": ["std", "pro"], "description": "std (default) or pro."},
    },
)
