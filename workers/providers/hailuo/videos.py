"""MiniMax Hailuo on the shared `/v1/videos` routes, as gateways serve it there [P]: `seconds` is 6
or 10, `size` the resolution (`768P`, `1080P`, ...; width x height is read by its short side), one
`input_reference` image is the first frame and a second the last frame (Hailuo-02)."""

from __future__ import annotations

import re
from typing import Any

from schemas.jobs import JobCreate
from workers.providers.compat import JobView, invalid
from workers.providers.hailuo.schemas import MODELS, six_seconds_only
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


def model_rules() -> list[dict[str, Any]]:
    """What a create of each model may ask (the price table's offers, checked when the job is
    created): a model that only animates an image needs one, one that only writes text-to-video
    takes none, and the 01 series makes 6-second clips only."""
    rules: list[dict[str, Any]] = []
    for name, offer in MODELS.items():
        if "image2video" not in offer.resolutions:
            then: dict[str, Any] = {"properties": {"input_reference": {"maxItems": 0}}}
        elif "text2video" not in offer.resolutions:
            then = {
                "required": ["input_reference"],
                "properties": {"input_reference": {"type": "array", "minItems": 1}},
            }
        else:
            continue
        rules.append({"if": {"properties": {"model": {"const": name}}}, "then": then})
    short = six_seconds_only()
    rules.append(
        {
            "if": {"properties": {"model": {"enum": short}}},
            "then": {"properties": {"seconds": {"not": {"enum": ["10", 10]}}}},
        }
    )
    return rules


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
    fields={
        "prompt": {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": r"\S"},
        "seconds": {"type": "string", "enum": ["6", "10"], "description": "The clip's length (6)."},
        "size": {
            "type": "string",
            "pattern": "^(720|768|1080)[pP]$",
            "description": "The resolution, e.g. 768P (the model's default); 512P with an image.",
        },
        "prompt_optimizer": {"type": "boolean", "description": "MiniMax rewrites the prompt (default on)."},
    },
    form_fields={"prompt_optimizer": {"type": "string", "enum": ["true", "false"]}},
    rules={
        "allOf": [
            # MiniMax makes no 10-second clip at 1080P.
            {
                "if": {"required": ["seconds"], "properties": {"seconds": {"enum": ["10", 10]}}},
                "then": {"properties": {"size": {"not": {"enum": ["1080P", "1080p"]}}}},
            },
            *model_rules(),
        ]
    },
)
