"""The simulated Sora's video object (§3.2) and how it reads a create's fields (JSON, or a form with
OpenAI's bracketed keys)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from workers.providers.compat import Upload
from workers.providers.simulation.engine import Simulator
from workers.providers.simulation.http import SimRequest
from workers.providers.simulation.timeline import Phase, TaskRecord

PROVIDER = "sora"
ID_PREFIX = "video_"
POLL_AFTER_MS = "5000"
STATUS = {Phase.QUEUED: "queued", Phase.RUNNING: "in_progress"}
ERRORS = {
    "fail": ("video_generation_failed", "The video could not be generated"),
    "moderation": ("moderation_blocked", "Your request was blocked by our moderation system."),
    "cancelled": ("video_generation_failed", "The video generation was cancelled"),
    "expired": ("video_generation_failed", "The video generation expired"),
}
# The `/content` variants: each one's file index, kind and type.
VARIANTS = {"video": (0, "mp4"), "thumbnail": (1, "webp"), "spritesheet": (2, "jpeg")}
OPENAI_SIZE = re.compile(r"^\d{3,4}x\d{3,4}$")

Form = Mapping[str, Sequence[str | Upload]]


def create_fields(request: SimRequest) -> dict[str, Any]:
    """A create's fields from JSON or a form: a field sent twice counts with its last value, and
    bracketed keys (`input_reference[image_url]`, `video[id]`) become objects, as OpenAI's SDK sends them."""
    if request.form is not None:
        return form_fields(request.form)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def form_fields(form: Form) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, values in form.items():
        if not values:
            continue
        outer, bracket, inner = name.partition("[")
        if bracket and inner.endswith("]"):
            nested = fields.setdefault(outer, {})
            if isinstance(nested, dict):
                nested[inner[:-1]] = values[-1]
        else:
            fields[name] = values[-1]
    return fields


def video_id(task: TaskRecord) -> str:
    return f"{ID_PREFIX}{task.task_id}"


def status_of(task: TaskRecord, now: float) -> str:
    phase = task.phase_at(now)
    return STATUS.get(phase, "completed" if task.result == "succeed" else "failed")


def video_object(sim: Simulator, task: TaskRecord, now: float | None = None) -> dict[str, Any]:
    """OpenAI's video object (§3.2); a task that ended without a video is `failed` (OpenAI's only word)."""
    now = time.monotonic() if now is None else now
    phase, params = task.phase_at(now), task.params
    status = status_of(task, now)
    body: dict[str, Any] = {
        "id": video_id(task),
        "object": "video",
        "model": params["model"],
        "status": status,
        "progress": 0 if phase is Phase.QUEUED else _percent(task, now),
        "seconds": params["seconds"],
        "size": params["size"],
        "created_at": task.entered_ms(Phase.QUEUED) // 1000,
        "completed_at": None,
        "expires_at": None,
        "remixed_from_video_id": params.get("remixed_from"),
        "error": None,
    }
    if phase is Phase.DONE:
        completed_at = task.entered_ms(Phase.DONE) // 1000
        body.update(progress=100, completed_at=completed_at)
        if status == "completed":
            body["expires_at"] = completed_at + int(sim.config.url_ttl_s)
        else:
            code, message = ERRORS.get(task.result, ERRORS["fail"])
            body["error"] = {"code": task.code or code, "message": task.message or message}
    return body


def _percent(task: TaskRecord, now: float) -> int:
    if task.phase_at(now) is Phase.DONE:
        return 100
    started = task.entered_mono(Phase.RUNNING)
    share = (now - started) / task.processing_s if task.processing_s > 0 else 1.0
    return max(1, min(99, int(share * 100)))


def error(status: int, message: str, code: str, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error envelope."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
