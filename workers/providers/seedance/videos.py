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
from workers.providers.seedance.offers import CN_PREFIX, MODELS, R2V, T2V, offer_groups
from workers.providers.seedance.schemas import FLAG_IN_PROMPT
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


SECONDS = range(2, 16)  # what some model makes; each its own span (`offers`)
RESOLUTIONS = ("480p", "720p", "1080p")
BOOLEAN = {"type": "boolean"}
FORM_BOOLEAN = {"type": "string", "enum": ["true", "false"]}
SEED = {"type": "integer", "minimum": -1, "maximum": 2**32 - 1}
# -1 to 4294967295 in a form's words.
FORM_SEED = {
    "type": "string",
    "pattern": "^(-1|[0-9]{1,9}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|"
    "4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]|"
    "429496729[0-5])$",
}


def model_rules() -> dict[str, Any]:
    """What each group of models makes (`offers.model_problem`), in a create's words: its clip
    lengths, resolutions and sound, and whether it takes reference images or a prompt alone."""
    rules = []
    for offer, names in offer_groups():
        aliases = [alias for alias, model in ALIASES.items() if model in names]
        low, high = offer.durations
        longer = [n for n in SECONDS if not low <= n <= high]
        properties: dict[str, Any] = {}
        then: dict[str, Any] = {"properties": properties}
        if longer:
            properties["seconds"] = {"not": {"enum": [*(str(n) for n in longer), *longer]}}
        if set(RESOLUTIONS) - offer.resolutions:
            properties["resolution"] = {"not": {"enum": sorted(set(RESOLUTIONS) - offer.resolutions)}}
        if not offer.audio:
            properties["generate_audio"] = {"not": {"enum": [True, "true"]}}
        if R2V not in offer.operations:
            properties["input_reference"] = {"maxItems": 0}
        if T2V not in offer.operations:
            properties["input_reference"] = {"type": "array", "minItems": 1}
            then["required"] = ["input_reference"]
        rules.append({"if": {"properties": {"model": {"enum": [*aliases, *names]}}}, "then": then})
    return {"allOf": rules}


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
    fields={
        "prompt": {
            "type": "string",
            "minLength": 1,
            "pattern": r"\S",
            "not": {"pattern": FLAG_IN_PROMPT.pattern},
            "description": "What the video shows; output parameters go in their fields, not as --flags.",
        },
        "seconds": {
            "type": "string",
            "enum": [str(n) for n in SECONDS],
            "description": "The clip's length (5).",
        },
        "size": {
            "type": "string",
            "pattern": f"^({'|'.join(RATIOS)}|[0-9]{{2,5}}[x*][0-9]{{2,5}})$",
            "description": "An aspect ratio, or width x height read as one.",
        },
        "resolution": {"type": "string", "enum": list(RESOLUTIONS), "description": "720p by default."},
        "seed": SEED,
        "camera_fixed": BOOLEAN,
        "watermark": BOOLEAN,
        "generate_audio": BOOLEAN,
    },
    form_fields={
        "seed": FORM_SEED,
        "camera_fixed": FORM_BOOLEAN,
        "watermark": FORM_BOOLEAN,
        "generate_audio": FORM_BOOLEAN,
    },
    rules=model_rules(),
)
