"""Runway follow-ups: the operations that may take an earlier Runway job's output instead of a URI,
which jobs they may take it from, and where it goes in the body. Runway's output links expire in
24-48 h, so the adapter asks Runway for the parent task again (it signs fresh links on every query)
and never reuses a stored one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from workers.providers.base import ProviderUpdate, UpstreamStatus
from workers.providers.errors import ProviderRejectedError
from workers.providers.runway.schemas_video import PARENT_FIELD

VIDEO_MAKERS = frozenset(
    {"image_to_video", "text_to_video", "video_to_video", "video_upscale", "character_performance"}
)
# Follow-up operation -> the operations whose output it can take (an Act-Two character may be a still).
PARENT_OPERATIONS: Mapping[str, frozenset[str]] = {
    "video_to_video": VIDEO_MAKERS,
    "video_upscale": VIDEO_MAKERS,
    "character_performance": VIDEO_MAKERS | {"text_to_image"},
}
# Where a parent's output says what it is (`media` of its result), and a link's suffix when it does not
# (a job finished before jobs recorded it).
MEDIA_KEY = "media"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def wire_body(request_input: Mapping[str, Any]) -> dict[str, Any]:
    """The job input without what is ours alone."""
    return {key: value for key, value in request_input.items() if key != PARENT_FIELD}


def with_parent_output(
    operation: str, body: Mapping[str, Any], parent: ProviderUpdate, parent_result: Mapping[str, Any] | None
) -> dict[str, Any]:
    """`body` with the parent task's first output where `operation` reads its video (or character)."""
    if parent.status is not UpstreamStatus.SUCCEEDED or not parent.outputs:
        state = "gone" if parent.raw_status == "task_not_exist" else f"{parent.raw_status}, without output"
        raise ProviderRejectedError(
            "invalid_input", f"the parent Runway task is {state} upstream: it can no longer be used"
        )
    url = parent.outputs[0].url
    if operation == "character_performance":
        return {**body, "character": {"type": media_of(url, parent_result), "uri": url}}
    if media_of(url, parent_result) != "video":
        raise ProviderRejectedError(
            "invalid_input", f"Runway {operation} needs a video; the parent made an image"
        )
    return {**body, "videoUri": url}


def media_of(url: str, parent_result: Mapping[str, Any] | None) -> str:
    """ "image" or "video": as the parent's result says, else by the link's suffix."""
    told = (parent_result or {}).get(MEDIA_KEY)
    if told in ("image", "video"):
        return str(told)
    return "image" if urlsplit(url).path.lower().endswith(IMAGE_SUFFIXES) else "video"
