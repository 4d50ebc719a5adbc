"""What the simulated proxy checks of `/mj/submit/video` and `/mj/submit/edits` bodies before it creates
a task (providers-more.md §5d): a refusal as (business code, description, counter reason), or None.
An extension is `action: "extend"` with the parent video task and a zero-based `index`, spelled as
CometAPI documents it (`taskId`, a number) or as peer relays do (`task_id`, a string)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workers.providers.midjourney.simulation.results import banned_word
from workers.providers.midjourney.simulation.timeline import kind_of
from workers.providers.simulation.timeline import TaskRecord

VIDEOS_PER_TASK = 4
VIDEO_KINDS = frozenset({"video", "animate"})  # tasks whose result is VIDEO: a new video or an Animate
IMAGE_PREFIXES = ("https://", "http://", "data:image/")


@dataclass(frozen=True)
class Refusal:
    """The proxy's answer to a submit it refuses, and the simulator's counter for it."""

    code: int
    description: str
    reason: str
    properties: Mapping[str, Any] = field(default_factory=dict)


PARENT_GONE = Refusal(3, "关联任务不存在或已失效", "parent_not_found")


def is_extension(body: Mapping[str, Any]) -> bool:
    return str(body.get("action") or "").lower() == "extend" or "taskId" in body or "task_id" in body


def video_refusal(
    body: Mapping[str, Any], status_of: Callable[[str], tuple[TaskRecord, str] | None]
) -> Refusal | None:
    """Why a video submit is refused. `status_of` finds a task and its status now, by task id."""
    if body.get("motion") not in ("low", "high"):
        return _invalid("motion must be low or high")
    if is_extension(body):
        refused = _extension_refusal(body, status_of)
    else:
        image = body.get("image")
        first_frame = isinstance(image, str) and image.startswith(IMAGE_PREFIXES)
        refused = (
            None if first_frame else _invalid("image is required: a link or a data URL of the first frame")
        )
    return refused or _banned(body.get("prompt"))


def _extension_refusal(
    body: Mapping[str, Any], status_of: Callable[[str], tuple[TaskRecord, str] | None]
) -> Refusal | None:
    parent_id = str(body.get("taskId", body.get("task_id")) or "")
    if not parent_id:
        return _invalid("an extension needs taskId, the video task it extends")
    found = status_of(parent_id)
    if found is None:
        return PARENT_GONE
    parent, status = found
    if kind_of(parent) not in VIDEO_KINDS or status != "SUCCESS":
        return _invalid(f"task {parent_id} is not a finished video task")
    index = body.get("index")
    number = int(index) if isinstance(index, str) and index.isdigit() else index
    if not (isinstance(number, int) and not isinstance(number, bool) and 0 <= number < VIDEOS_PER_TASK):
        return _invalid(f"index must be a video of the parent, 0 to {VIDEOS_PER_TASK - 1}")
    return None


def edits_refusal(body: Mapping[str, Any]) -> Refusal | None:
    """Why an editor submit is refused: a prompt and one image (`base64Array` or `image`) are needed."""
    prompt = body.get("prompt")
    if not (isinstance(prompt, str) and prompt.strip()):
        return _invalid("prompt is required")
    images = body.get("base64Array")
    image = images[0] if isinstance(images, list) and images else body.get("image")
    if not (isinstance(image, str) and image.startswith(IMAGE_PREFIXES)):
        return _invalid("base64Array (or image) is required: the image to edit")
    mask = body.get("maskBase64")
    if mask is not None and not (isinstance(mask, str) and mask.startswith("data:image/")):
        return _invalid("maskBase64 must be a data URL of a PNG")
    return _banned(prompt)


def _banned(prompt: Any) -> Refusal | None:
    word = banned_word(prompt) if isinstance(prompt, str) else None
    if word is None:
        return None
    return Refusal(24, "可能包含敏感词", "banned_prompt", {"promptEn": prompt, "bannedWord": word})


def _invalid(problem: str) -> Refusal:
    return Refusal(4, f"参数错误: {problem}", "invalid_params")
