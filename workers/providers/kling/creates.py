"""What a create sends upstream, per operation: its path under Kling's `/v1` (CometAPI's `/kling/v1`)
and its body — the job's flat input in Kling's shape, a parent job named by its Kling video id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workers.providers.base import SubmitRequest
from workers.providers.errors import ProviderRejectedError

PATHS: Mapping[str, str] = {
    "text2video": "videos/text2video",
    "image2video": "videos/image2video",
    "image_generation": "images/generations",
    "multi_image2video": "videos/multi-image2video",
    "video_extend": "videos/video-extend",
    "lip_sync": "videos/lip-sync",
    "video_effects": "videos/effects",
    "avatar": "videos/avatar/image2video",
    "text_to_audio": "audio/text-to-audio",
    "video_to_audio": "audio/video-to-audio",
    "virtual_try_on": "images/kolors-virtual-try-on",
}
# Operations whose body names the model; the others have none upstream (the job's model prices them).
NAMES_MODEL = frozenset(
    {"text2video", "image2video", "image_generation", "multi_image2video", "virtual_try_on"}
)
# Operations that make a Kling video a follow-up can name by its `video_id`.
VIDEO_OPERATIONS = frozenset(
    {"text2video", "image2video", "multi_image2video", "video_extend", "lip_sync", "video_effects", "avatar"}
)
# What each follow-up can act on: an extension continues a generated video; lip-sync and
# video-to-audio take any Kling video (a dubbed video-to-audio result too).
PARENT_OPERATIONS: Mapping[str, frozenset[str]] = {
    "video_extend": frozenset({"text2video", "image2video", "multi_image2video", "video_extend"}),
    "lip_sync": VIDEO_OPERATIONS | {"video_to_audio"},
    "video_to_audio": VIDEO_OPERATIONS,
}


def path(operation: str) -> str:
    return PATHS.get(operation, f"videos/{operation}")


def body(request: SubmitRequest) -> dict[str, Any]:
    """Kling's create body for the job: its input reshaped, and our job id as `external_task_id`."""
    fields = {key: value for key, value in request.input.items() if key != "parent_job_id"}
    operation = request.operation
    if operation in NAMES_MODEL:
        fields["model_name"] = request.model
    if operation == "video_extend":
        fields["video_id"] = parent_video_id(request)
    elif operation == "video_to_audio":
        fields = _with_video(fields, request)
    elif operation == "lip_sync":
        fields = {"input": _with_video(fields, request)}
    elif operation == "video_effects":
        scene = fields.pop("effect_scene")
        fields = {"effect_scene": scene, "input": {"model_name": request.model, **fields}}
    fields["external_task_id"] = request.job_id
    if request.callback_url:
        fields["callback_url"] = request.callback_url
    return fields


def _with_video(fields: dict[str, Any], request: SubmitRequest) -> dict[str, Any]:
    """The fields with the video they act on: the parent's `video_id`, or the `video_url` given."""
    if "video_url" in fields:
        return fields
    return {"video_id": parent_video_id(request), **fields}


def parent_video_id(request: SubmitRequest) -> str:
    """Kling's id of the parent job's video, as the parent's result recorded it."""
    videos = (request.parent_result or {}).get("videos")
    first = videos[0] if isinstance(videos, list) and videos and isinstance(videos[0], Mapping) else {}
    video_id = first.get("id")
    if not isinstance(video_id, str) or not video_id:
        raise ProviderRejectedError(
            "invalid_input",
            "the parent job's result names no Kling video id: act on a video job that succeeded",
        )
    return video_id
