"""Kling's task object as the simulator shows it, for every family alike (providers.md §2.3): status,
ms timestamps, `task_result` with `videos[]`, `images[]` or `audios[]`, the units it cost, and for an
extension the video it extended (`task_info.parent_video`)."""

from __future__ import annotations

from typing import Any

from workers.providers.kling.simulation.videos import Videos, video_id_of
from workers.providers.simulation.engine import Simulator
from workers.providers.simulation.files import signed_url
from workers.providers.simulation.timeline import Phase, TaskRecord

STATUS = {Phase.QUEUED: "submitted", Phase.RUNNING: "processing"}
FAILURE_MESSAGES = {
    "fail": "internal generation error",
    "moderation": "Failure to pass the risk control system",
}
IMAGE_OPERATIONS = frozenset({"image_generation", "virtual_try_on"})
# Units per task where they do not follow the video's length and mode.
FLAT_UNITS = {
    "lip_sync": "1",
    "avatar": "2",
    "text_to_audio": "0.5",
    "video_to_audio": "0.5",
    "virtual_try_on": "1",
}
EXTENSION_S = 5  # about what one extension adds


def _failure_message(task: TaskRecord) -> str:
    # An ending Kling has no word for (cancelled, expired) reads as a failure.
    return task.message or FAILURE_MESSAGES.get(task.result, FAILURE_MESSAGES["fail"])


def task_status(task: TaskRecord, phase: Phase) -> str:
    if phase is Phase.DONE:
        return "succeed" if task.result == "succeed" else "failed"
    return STATUS[phase]


def task_object(
    sim: Simulator, videos: Videos, task: TaskRecord, phase: Phase, base_url: str
) -> dict[str, Any]:
    """The bare task object: `data` of a query answer and the whole body of a callback."""
    status = task_status(task, phase)
    info: dict[str, Any] = {"external_task_id": task.external_id or ""}
    parent = _parent(videos, task)
    if parent is not None:
        info["parent_video"] = _video(sim, parent, base_url)
    body: dict[str, Any] = {
        "task_id": task.task_id,
        "task_status": status,
        "task_status_msg": _failure_message(task) if status == "failed" else "",
        "task_info": info,
        "created_at": task.entered_ms(Phase.QUEUED),
        "updated_at": task.entered_ms(phase),
    }
    if phase is Phase.DONE:
        body["final_unit_deduction"] = _units(task) if status == "succeed" else "0"
    if status == "succeed":
        body["task_result"] = _result(sim, videos, task, base_url)
    return body


def _result(sim: Simulator, videos: Videos, task: TaskRecord, base_url: str) -> dict[str, Any]:
    if task.operation in IMAGE_OPERATIONS:
        count = int(task.params.get("n", 1)) if task.operation == "image_generation" else 1
        links = (signed_url(sim, base_url, task.task_id, i, "png") for i in range(count))
        return {"images": [{"index": i, "url": url} for i, url in enumerate(links)]}
    if task.operation == "text_to_audio":
        return {"audios": [_audio(sim, task, base_url, first_index=0)]}
    result: dict[str, Any] = {"videos": [_video(sim, task, base_url, _duration(videos, task))]}
    if task.operation == "video_to_audio":  # the dubbed video, and its sound apart
        result["audios"] = [_audio(sim, task, base_url, first_index=1)]
    return result


def _video(sim: Simulator, task: TaskRecord, base_url: str, duration: str | None = None) -> dict[str, Any]:
    return {
        "id": video_id_of(task.task_id),
        "url": signed_url(sim, base_url, task.task_id, 0),
        "duration": duration or str(task.params.get("duration", "5")),
    }


def _audio(sim: Simulator, task: TaskRecord, base_url: str, first_index: int) -> dict[str, Any]:
    seconds = str(task.params.get("duration", "5"))
    return {
        "id": video_id_of(f"{task.task_id}/audio"),
        "url_mp3": signed_url(sim, base_url, task.task_id, first_index, "mp3"),
        "url_wav": signed_url(sim, base_url, task.task_id, first_index + 1, "wav"),
        "duration_mp3": seconds,
        "duration_wav": seconds,
    }


def _parent(videos: Videos, task: TaskRecord) -> TaskRecord | None:
    named = task.params.get("video_id")
    return videos.task_of(str(named)) if task.operation == "video_extend" and named else None


def _duration(videos: Videos, task: TaskRecord) -> str | None:
    """A follow-up's video lasts as long as its source (an extension a little longer)."""
    named = task.params.get("video_id")
    source = videos.task_of(str(named)) if named else None
    if source is None:
        return None
    seconds = int(float(_duration(videos, source) or source.params.get("duration", "5")))
    return str(seconds + EXTENSION_S if task.operation == "video_extend" else seconds)


def _units(task: TaskRecord) -> str:
    # One unit per 5 s of standard-mode video; professional mode costs double.
    if task.operation == "image_generation":
        return str(task.params.get("n", 1))
    if task.operation in FLAT_UNITS:
        return FLAT_UNITS[task.operation]
    seconds = int(str(task.params.get("duration", "5")))
    return str(seconds // 5 * (2 if task.params.get("mode") == "pro" else 1))
