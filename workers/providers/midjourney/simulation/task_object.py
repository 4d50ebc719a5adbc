"""A simulated Midjourney task as the proxy shows it at one tick of its timeline: the task object a
fetch answers and every callback carries, with result links signed afresh."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workers.providers.midjourney.simulation.results import (
    ACTION_NAMES,
    DESCRIBED,
    FAIL_REASONS,
    RESULT_SHAPES,
    buttons,
)
from workers.providers.midjourney.simulation.timeline import Modal, Tick, kind_of
from workers.providers.simulation.engine import Simulator
from workers.providers.simulation.files import signed_url
from workers.providers.simulation.timeline import TaskRecord


@dataclass(frozen=True)
class Moment:
    """Tick `index` of `task`'s current segment, which began at `base` (after `modal`, if any)."""

    task: TaskRecord
    ticks: list[Tick]
    index: int
    base: float
    modal: Modal | None


def task_object(sim: Simulator, moment: Moment, prompt: str, base_url: str) -> dict[str, Any]:
    task, modal, base = moment.task, moment.modal, moment.base
    tick, params = moment.ticks[moment.index], task.params
    started = next((t for t in moment.ticks[: moment.index + 1] if t.status == "IN_PROGRESS"), None)
    body: dict[str, Any] = {
        "id": task.task_id,
        "action": ACTION_NAMES.get(kind_of(task), kind_of(task).upper()),
        "customId": params.get("customId", ""),
        "botType": params.get("botType") or "MID_JOURNEY",
        "prompt": prompt,
        "promptEn": prompt,
        "description": f"/{task.operation} {prompt}".strip(),
        "state": params.get("state") or "",
        "submitTime": _ms(task, task.created_mono),
        "startTime": _ms(task, base + started.offset_s) if started else 0,
        "finishTime": _ms(task, base + tick.offset_s) if tick.status in ("SUCCESS", "FAILURE") else 0,
        "imageUrl": "",
        "videoUrl": "",
        "videoUrls": [],
        "status": tick.status,
        "progress": tick.progress,
        "failReason": (
            (task.message or FAIL_REASONS.get(task.result, FAIL_REASONS["fail"]))
            if tick.status == "FAILURE"
            else ""
        ),
        "buttons": [],
        "maskBase64": modal.mask if modal else "",
        "properties": {"finalPrompt": prompt, "finalZhPrompt": "", "discordInstanceId": "sim-instance"},
    }
    if tick.status == "SUCCESS":
        _add_results(sim, body, task, base_url)
    return body


def _add_results(sim: Simulator, body: dict[str, Any], task: TaskRecord, base_url: str) -> None:
    shape = RESULT_SHAPES.get(kind_of(task), "grid")
    body["imageUrl"] = signed_url(sim, base_url, task.task_id, 0, "png")
    body["buttons"] = buttons(shape, task.task_id)
    if shape == "text":
        text = "\n\n".join(f"{n}\ufe0f\u20e3 {line} --ar 1:1" for n, line in enumerate(DESCRIBED, start=1))
        body["promptEn"] = body["properties"]["finalPrompt"] = text
    if shape in ("video", "one_video"):
        count = 4 if shape == "video" else 1
        videos = [{"url": signed_url(sim, base_url, task.task_id, n, "mp4")} for n in range(1, count + 1)]
        body["videoUrls"], body["videoUrl"] = videos, videos[0]["url"]


def _ms(task: TaskRecord, mono: float) -> int:
    return int((task.created_wall + mono - task.created_mono) * 1000)
