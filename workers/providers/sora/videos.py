"""Sora on the shared `/v1/videos` routes, in OpenAI's own words: `seconds` and `size` as OpenAI takes
them, one `input_reference` image as the first frame, remix of a finished Sora video, and its thumbnail
and spritesheet as `/content` variants. Served only where an operator's channel file names a `sora`
channel: the default channel (CometAPI's, or the simulator) does not count, as OpenAI shut Sora down."""

from __future__ import annotations

from typing import Any

from schemas.jobs import JobCreate
from workers.providers.compat import JobView, invalid
from workers.providers.sora.offers import DEFAULT_SECONDS, DEFAULT_SIZE, MODELS, SECONDS
from workers.providers.videos import VideoModels, VideoRequest, unified_job

SHUTDOWN = "2026-09-24"
UNSERVED = f"OpenAI shut the Sora 2 video API down on {SHUTDOWN} and no channel here serves it"


def job(request: VideoRequest) -> JobCreate:
    job_input: dict[str, Any] = {"prompt": request.prompt}
    if request.seconds is not None:
        if request.seconds not in SECONDS:
            raise invalid(f"seconds must be one of {', '.join(SECONDS)}", "seconds")
        job_input["seconds"] = request.seconds
    if request.size is not None:
        job_input["size"] = request.size
    if request.references:
        job_input["input_reference"] = request.references[0]
    operation = "image_to_video" if request.references else "text_to_video"
    return unified_job("sora", operation, request, job_input)


def remix(parent: JobView, prompt: str) -> JobCreate:
    """`POST /v1/videos/{id}/remix`: a remix of the parent, with its model and its length."""
    request = VideoRequest(
        prompt=prompt,
        model=parent.model,
        seconds=None,
        size=None,
        references=(),
        callback_url=None,  # the remix request's own, if it names one
    )
    job_input = {
        "parent_job_id": parent.job_id,
        "prompt": prompt,
        "seconds": seconds(parent),
        "size": size(parent),
    }
    return unified_job("sora", "remix", request, job_input)


def seconds(job: JobView) -> str:
    """The clip's length: what the upstream reported, else what was asked (an extension adds its own
    to the parent's, which the upstream reports)."""
    reported = (job.result or {}).get("seconds")
    return str(reported or job.input.get("seconds") or DEFAULT_SECONDS)


def size(job: JobView) -> str:
    return str((job.result or {}).get("size") or job.input.get("size") or DEFAULT_SIZE)


VIDEOS = VideoModels(
    models=tuple(MODELS),
    job=job,
    seconds=seconds,
    size=size,
    params={"input.seconds": "seconds", "input.size": "size", "input.input_reference": "input_reference"},
    max_references=1,
    variants=("video", "thumbnail", "spritesheet"),
    remix=remix,
    unserved=UNSERVED,
)
