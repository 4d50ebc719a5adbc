"""ByteDance Seedance on the shared `/v1/videos` routes, as CometAPI serves it there (§2.6): `size` is
an aspect ratio (`16:9`, `21:9`, ...; width x height is read as one), `seconds` the clip length,
`resolution` its own field, and `input_reference` images are *reference* images (subjects to follow),
which only the 2.0 models (and 1.0 lite i2v) take. CometAPI's short names (`doubao-seedance-2-0`)
run as the dated model they stand for."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import TypeAdapter, ValidationError

from schemas.jobs import JobCreate
from workers.providers.compat import JobView, invalid
from workers.providers.seedance.offers import CN_PREFIX, MODELS, R2V, T2V
from workers.providers.videos import VideoModels, VideoRequest, aspect_of, unified_job

RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive")
# CometAPI's names on /v1/videos, and the dated models they run as.
ALIASES = {
    "doubao-seedance-2-0": "doubao-seedance-2-0-260128",
    "doubao-seedance-2-0-fast": "doubao-seedance-2-0-fast-260128",
    "doubao-seedance-1-5-pro": "doubao-seedance-1-5-pro-251215",
    "doubao-seedance-1-0-pro": "doubao-seedance-1-0-pro-250528",
}

# A form's fields are text: its seed and flags are read as numbers and booleans here ("7", "true"), as
# the Seedance input (strict: a JSON body's values keep their own types) takes them.
FORM_TYPES: dict[str, TypeAdapter[Any]] = {
    "seed": TypeAdapter(int),
    **{name: TypeAdapter(bool) for name in ("camera_fixed", "watermark", "generate_audio")},
}


def _typed(name: str, value: Any) -> Any:
    adapter = FORM_TYPES.get(name)
    if adapter is None or not isinstance(value, str):
        return value
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return value  # the input's validation refuses it, naming the field


def job(request: VideoRequest) -> JobCreate:
    extra = {name: _typed(name, value) for name, value in request.extra.items()}
    job_input: dict[str, Any] = {"prompt": request.prompt, **extra}
    if request.seconds is not None:
        job_input["duration"] = request.seconds
    if request.size is not None:
        job_input["ratio"] = request.size if request.size in RATIOS else aspect_of(request.size)
        if job_input["ratio"] is None:
            ratios = ", ".join(RATIOS)
            raise invalid(f"size {request.size!r}: Seedance takes an aspect ratio, one of {ratios}", "size")
    if request.references:
        job_input["reference_images"] = list(request.references)
    model = ALIASES.get(request.model, request.model)
    dated = dataclasses.replace(request, model=model)
    return unified_job("seedance", R2V if request.references else T2V, dated, job_input)


def seconds(job: JobView) -> str:
    return str(job.input.get("duration", 5))


def size(job: JobView) -> str:
    return str(job.input.get("ratio") or "16:9")


VIDEOS = VideoModels(
    models=(*ALIASES, *(f"{CN_PREFIX}{model}" for model in MODELS), *MODELS),
    job=job,
    seconds=seconds,
    size=size,
    params={"input.duration": "seconds", "input.ratio": "size", "input.reference_images": "input_reference"},
    words=(("reference_images", "input_reference"),),
    extra_fields=("resolution", "seed", "camera_fixed", "watermark", "generate_audio"),
    max_references=4,
)
