"""MiniMax Hailuo on the shared `/v1/videos` routes, as gateways serve it there [P]: `seconds` is 6
or 10, `size` the resolution (`768P`, `1080P`, ...; width x height is read by its short side), one
`input_reference` image is the first frame and a second the last frame (Hailuo-02)."""

from __future__ import annotations

import re
from typing import Any

from schemas.jobs import JobCreate
from workers.providers.compat import JobView, invalid
from workers.providers.hailuo.schemas import MODELS
from workers.providers.videos import VideoModels, VideoRequest, unified_job

_RESOLUTION = re.compile(r"^(\d{3,4})p$", re.IGNORECASE)
_DIMENSIONS = re.compile(r"^(\d{2,5})[x*](\d{2,5})$")


def job(request: VideoRequest) -> JobCreate:
    job_input: dict[str, Any] = {"prompt": request.prompt, **request.extra}
    if request.seconds is not None:
        job_input["duration"] = request.seconds
    if request.size is not None:
        job_input["resolution"] = resolution_of(request.size)
    job_input.update(zip(("first_frame_image", "last_frame_image"), request.references, strict=False))
    return unified_job("hailuo", "image2video" if request.references else "text2video", request, job_input)


def resolution_of(size: str) -> str:
    named, dimensions = _RESOLUTION.match(size), _DIMENSIONS.match(size)
    if named is not None:
        return f"{named[1]}P"
    if dimensions is not None:
        return f"{min(int(dimensions[1]), int(dimensions[2]))}P"
    raise invalid(f"size {size!r}: MiniMax takes a resolution such as 768P or 1080P", "size")


def seconds(job: JobView) -> str:
    return str(job.input.get("duration", 6))


def size(job: JobView) -> str:
    return str(
        job.input.get("resolution") or MODELS[job.model].default_resolution if job.model in MODELS else ""
    )


VIDEOS = VideoModels(
    models=tuple(MODELS),
    job=job,
    seconds=seconds,
    size=size,
    params={
        "input.duration": "seconds",
        "input.resolution": "size",
        "input.first_frame_image": "input_reference",
        "input.last_frame_image": "input_reference",
    },
    words=(("first_frame_image", "input_reference"), ("last_frame_image", "input_reference")),
    extra_fields=("prompt_optimizer",),
)
