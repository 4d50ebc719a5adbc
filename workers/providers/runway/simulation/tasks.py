"""A simulated Runway task as Runway shows it: its status at a moment (THROTTLED, PENDING, RUNNING
with 0-1 progress, SUCCEEDED with fresh links, FAILED with a failure code, CANCELLED), bare or in
CometAPI's new-api envelope."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from workers.providers.runway.simulation.org import Schedule
from workers.providers.simulation.engine import Simulator
from workers.providers.simulation.files import signed_url
from workers.providers.simulation.timeline import Phase, TaskRecord

FILE_KINDS = {
    "image_to_video": "mp4",
    "text_to_image": "png",
    "text_to_video": "mp4",
    "video_to_video": "mp4",
    "video_upscale": "mp4",
    "character_performance": "mp4",
}
# new-api's action names, its operation's in capitals [I: only IMAGE_TO_VIDEO is seen in CometAPI's docs].
ACTIONS = {operation: operation.upper() for operation in FILE_KINDS}
# new-api's unified status for each Runway status (providers.md §7).
UNIFIED = {
    "THROTTLED": "QUEUED",
    "PENDING": "QUEUED",
    "RUNNING": "IN_PROGRESS",
    "SUCCEEDED": "SUCCESS",
    "FAILED": "FAILURE",
    "CANCELLED": "FAILURE",
}
FAILURES = {
    "fail": ("INTERNAL.BAD_OUTPUT.CODE01", "An unexpected error occurred while generating the output."),
    "moderation": ("SAFETY.INPUT.TEXT", "The prompt was flagged by content moderation."),
}
# A scripted Outcome message "ASSET.INVALID: text" sets the failureCode as well as the text.
SCRIPTED_CODE = re.compile(r"^(?P<code>[A-Z_]+(?:\.[A-Z0-9_]+)+)(?::\s*(?P<text>.*))?$", re.DOTALL)


def status_at(task: TaskRecord, schedule: Schedule, now: float) -> tuple[str, float | None]:
    """Runway's status at `now`, and the 0-1 progress while RUNNING."""
    if schedule.cancelled_mono is not None and now >= schedule.cancelled_mono:
        return "CANCELLED", None
    if now < schedule.start_mono:
        return "THROTTLED", None
    shifted = now - (schedule.start_mono - task.created_mono)  # on the task's own unthrottled clock
    phase = task.phase_at(shifted)
    if phase is Phase.QUEUED:
        return "PENDING", None
    if phase is Phase.RUNNING:
        elapsed = shifted - task.entered_mono(Phase.RUNNING)
        return "RUNNING", round(min(0.99, elapsed / task.processing_s), 2) if task.processing_s else 0.0
    return ("SUCCEEDED" if task.result == "succeed" else "FAILED"), None


def task_object(sim: Simulator, task: TaskRecord, schedule: Schedule, base_url: str) -> dict[str, Any]:
    """The bare task object; result links are signed afresh on every query, as Runway's are."""
    status, progress = status_at(task, schedule, time.monotonic())
    body: dict[str, Any] = {"id": task.external_id, "status": status, "createdAt": _iso(task.created_wall)}
    if status == "RUNNING":
        body["progress"] = progress
    elif status == "SUCCEEDED":
        body["output"] = [signed_url(sim, base_url, task.task_id, 0, FILE_KINDS[task.operation])]
    elif status == "FAILED":
        body["failureCode"], body["failure"] = _failure(task)
    return body


def wrapped(task: TaskRecord, schedule: Schedule, bare: Mapping[str, Any]) -> dict[str, Any]:
    """CometAPI's new-api envelope (`TaskResponse{TaskDto}`) around the bare object; seconds, not ms."""
    unified = UNIFIED[bare["status"]]
    started = schedule.start_mono + task.submitted_s
    progress = {"QUEUED": "0%", "IN_PROGRESS": f"{round(100 * (bare.get('progress') or 0))}%"}
    data = {
        "task_id": bare["id"],
        "action": ACTIONS[task.operation],
        "status": unified,
        "fail_reason": bare.get("failure", ""),
        "submit_time": int(task.created_wall),
        "start_time": int(_wall(task, started)) if unified != "QUEUED" else 0,
        "finish_time": int(_wall(task, schedule.end_mono)) if unified in ("SUCCESS", "FAILURE") else 0,
        "progress": progress.get(unified, "100%"),
        "data": dict(bare),
    }
    return {"code": "success", "message": "", "data": data}


def _failure(task: TaskRecord) -> tuple[str, str]:
    code, text = FAILURES.get(task.result, FAILURES["fail"])
    if task.code:
        return task.code, task.message or text
    scripted = SCRIPTED_CODE.match(task.message or "")
    if scripted:
        kind = "moderation" if "SAFETY" in scripted["code"].split(".") else "fail"
        return scripted["code"], scripted["text"] or FAILURES[kind][1]
    return code, task.message or text


def _wall(task: TaskRecord, mono: float) -> float:
    return task.created_wall + (mono - task.created_mono)


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
