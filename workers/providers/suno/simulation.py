"""Suno as the simulator plays it, as CometAPI serves it (providers.md §4): submit music or lyrics, fetch
one TaskDto or many, two clips per music task moving submitted -> queued -> streaming -> complete, and
`notify_hook` calls."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from workers.providers.simulation import wire
from workers.providers.simulation.engine import Simulator, SubmitFault
from workers.providers.simulation.files import signed_url
from workers.providers.simulation.http import SimRequest, SimResponse, SimRoute, Simulation, answer
from workers.providers.simulation.timeline import Dwell, NewTask, Phase, TaskRecord
from workers.providers.suno.schemas import SunoLyricsInput, SunoMusicInput, task_status_from_clips

PROVIDER = "suno"
DWELL = Dwell(submitted=(2.0, 10.0), processing=(60.0, 170.0))
ACTIONS = {"music": "MUSIC", "lyrics": "LYRICS"}
INPUTS: Mapping[str, type[BaseModel]] = {"music": SunoMusicInput, "lyrics": SunoLyricsInput}
TASK_FIELDS = ("mv", "notify_hook")  # about the task, not the song; the input models leave them out
CLIPS = 2
FIRST_CLIP_DONE = 0.85  # clip 0 completes this far into processing, a little before clip 1
# The proxy waits for the lyrics before it answers the submit: a lyrics task is born finished.
LYRICS_WAIT_S = 4.0
FAILURES = {
    "fail": ("internal_error", "Audio generation failed: internal error"),
    "moderation": ("moderation", "Lyrics contain restricted content (content policy violation)"),
}
VERSIONS = {
    "chirp-v3-0": "v3",
    "chirp-v3-5": "v3.5",
    "chirp-v4": "v4",
    "chirp-auk": "v4.5",
    "chirp-bluejay": "v4.5+",
    "chirp-crow": "v5",
}
# Each refusal of a create: HTTP status, envelope code, default message.
REFUSALS = {
    SubmitFault.RATE_LIMITED: (429, "rate_limit", "too many requests, please retry later"),
    SubmitFault.UNAVAILABLE: (503, "service_unavailable", "upstream service is temporarily unavailable"),
    SubmitFault.REJECTED: (400, "invalid_request", "invalid request"),
}
PROGRESS = {"NOT_START": 0, "SUBMITTED": 10, "QUEUED": 20, "SUCCESS": 100, "FAILURE": 100}


def suno_task_id(task: TaskRecord) -> str:
    """The task's UUID as Suno shows it (the engine's own ids are Kling-style digits)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"suno/{task.task_id}"))


def clip_id(task: TaskRecord, n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"suno/{task.task_id}/clip/{n}"))


def clip_statuses(task: TaskRecord, phase: Phase, mono: float) -> list[str]:
    if phase is Phase.QUEUED:
        queued = mono >= task.created_mono + task.submitted_s / 2
        return ["queued" if queued else "submitted"] * CLIPS
    if phase is Phase.RUNNING:
        first_done = task.created_mono + task.submitted_s + FIRST_CLIP_DONE * task.processing_s
        first = "complete" if task.result == "succeed" and mono >= first_done else "streaming"
        return [first] + ["streaming"] * (CLIPS - 1)
    return ["complete" if task.result == "succeed" else "error"] * CLIPS


def task_dto(sim: Simulator, task: TaskRecord, phase: Phase, mono: float, base_url: str) -> dict[str, Any]:
    """The TaskDto: `data` of a fetch, an item of a batch fetch, and a `notify_hook` body."""
    if task.operation == "lyrics":
        return _lyrics_dto(task)
    statuses = clip_statuses(task, phase, mono)
    status = task_status_from_clips(statuses)
    clips = [_clip(sim, task, n, clip_status, base_url) for n, clip_status in enumerate(statuses)]
    running = task.created_mono + task.submitted_s
    fraction = (mono - running) / task.processing_s if task.processing_s > 0 else 1.0
    progress = PROGRESS.get(status, 30 + int(69 * min(1.0, max(0.0, fraction))))
    return {
        **_task_fields(task, status, phase),
        "fail_reason": clips[0]["metadata"]["error_message"] if status == "FAILURE" else "",
        "progress": f"{progress}%",
        "data": clips,
    }


def _task_fields(task: TaskRecord, status: str, phase: Phase) -> dict[str, Any]:
    started = phase is not Phase.QUEUED
    return {
        "task_id": suno_task_id(task),
        "notify_hook": task.callback_url or "",
        "action": ACTIONS[task.operation],
        "status": status,
        "submit_time": task.entered_ms(Phase.QUEUED) // 1000,  # seconds, unlike Kling
        "start_time": task.entered_ms(Phase.RUNNING) // 1000 if started else 0,
        "finish_time": task.entered_ms(Phase.DONE) // 1000 if phase is Phase.DONE else 0,
    }


def _lyrics_dto(task: TaskRecord) -> dict[str, Any]:
    ok = task.result == "succeed"
    status = "SUCCESS" if ok else "FAILURE"
    done = task.entered_ms(Phase.QUEUED) // 1000
    description = str(task.params.get("prompt", ""))
    return {
        **_task_fields(task, status, Phase.QUEUED),
        "start_time": done,
        "finish_time": done,
        "fail_reason": "" if ok else (task.message or FAILURES.get(task.result, FAILURES["fail"])[1]),
        "progress": "100%",
        "data": {
            "id": clip_id(task, 0),
            "status": "complete" if ok else "error",
            "title": _title(description) if ok else "",
            "text": _lyrics(description) if ok else "",
        },
    }


def _clip(sim: Simulator, task: TaskRecord, n: int, status: str, base_url: str) -> dict[str, Any]:
    params, ref = task.params, clip_id(task, n)
    description = str(params.get("gpt_description_prompt") or "")
    mv = str(params.get("mv") or "chirp-v3-0")
    clip: dict[str, Any] = {
        "id": ref,
        "title": params.get("title") or _title(description),
        "status": status,
        "audio_url": "",
        "video_url": "",
        "image_url": None,
        "image_large_url": None,
        "model_name": mv,
        "major_model_version": VERSIONS.get(mv, "v3"),
        "created_at": datetime.fromtimestamp(task.created_wall, UTC).isoformat(timespec="milliseconds"),
        "metadata": _metadata(task, description),
    }
    _add_files(sim, task, n, clip, base_url)
    return clip


def _metadata(task: TaskRecord, description: str) -> dict[str, Any]:
    params = task.params
    return {
        "tags": params.get("tags") or ("synthwave, upbeat" if description else ""),
        "prompt": params.get("prompt") or _lyrics(description),
        "gpt_description_prompt": description or None,
        "type": "concat" if params.get("continue_clip_id") else "gen",
        "duration": None,
        "error_type": None,
        "error_message": None,
    }


def _add_files(sim: Simulator, task: TaskRecord, n: int, clip: dict[str, Any], base_url: str) -> None:
    """The links a clip shows in its status: a cover and a live stream while streaming, the files at
    complete, a dud mp3 link and the reason at error."""
    status, metadata = clip["status"], clip["metadata"]
    if status in ("streaming", "complete"):
        clip["image_url"] = signed_url(sim, base_url, task.task_id, 4 * n + 1, "jpeg")
        clip["image_large_url"] = signed_url(sim, base_url, task.task_id, 4 * n + 2, "jpeg")
        clip["audio_url"] = f"https://audiopipe.suno.ai/?item_id={clip['id']}"  # a live stream, no file
    if status == "complete":
        clip["audio_url"] = signed_url(sim, base_url, task.task_id, 4 * n, "mp3")
        clip["video_url"] = signed_url(sim, base_url, task.task_id, 4 * n + 3, "mp4")
        metadata["duration"] = 60 + int(task.task_id) // (n + 1) % 180 + 0.04
    if status == "error":
        clip["audio_url"] = f"{base_url.rstrip('/')}/None.mp3"  # what the proxy shows for a lost clip
        error_type, message = FAILURES.get(task.result, FAILURES["fail"])
        metadata["error_type"], metadata["error_message"] = error_type, task.message or message


def _title(description: str) -> str:
    return " ".join(description.split()[:4]).title() or "Untitled"


def _lyrics(description: str) -> str:
    line = description.strip().capitalize() or "Hum along"
    return f"[Verse]\n{line}\nUnder the neon glow\n\n[Chorus]\n{line}\nAnd we never let go"


def routes(sim: Simulator) -> list[SimRoute]:
    handlers = SunoRoutes(sim)
    return [
        SimRoute("POST", "/suno/submit/{action}", handlers.create),
        SimRoute("GET", "/suno/fetch/{task_ref}", handlers.query),
        SimRoute("POST", "/suno/fetch", handlers.query_many),
    ]


SIMULATION = Simulation(dwell=DWELL, routes=routes)


class SunoRoutes:
    """The route handlers, bound to one simulator; `_ids` maps Suno's task UUIDs to the engine's ids."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._ids: dict[str, str] = {}

    async def create(self, request: SimRequest) -> SimResponse:
        sim, operation = self.sim, request.path_params["action"].lower()
        await wire.latency(sim)
        sim.count_attempt(PROVIDER)
        refusal = self._refuse_create(request, operation)
        if refusal is not None:
            return refusal
        body = await wire.json_object(request)
        problem = "invalid request body" if body is None else self._invalid(operation, body)
        if body is None or problem is not None:
            sim.reject(PROVIDER, "invalid_request")
            return _error(400, "invalid_request", problem or "invalid request")
        render = self._callback_body if operation == "music" else None  # lyrics never change state
        task = sim.create_task(_new_task(operation, body, request), render=render)
        self._ids[suno_task_id(task)] = task.task_id
        wait = LYRICS_WAIT_S * sim.config.speed if operation == "lyrics" else 0.0
        await wire.stall(request, wait + sim.draw_stall())
        return _ok(suno_task_id(task))

    async def query(self, request: SimRequest) -> SimResponse:
        task_ref = request.path_params["task_ref"]
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return _unauthorized()
        task = self.sim.lookup(PROVIDER, self._ids.get(task_ref, ""))
        if task is None:
            return _error(400, "task_not_exist", "task_not_exist")
        return _ok(self._dto(task, request.base_url))

    async def query_many(self, request: SimRequest) -> SimResponse:
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return _unauthorized()
        body = await wire.json_object(request)
        ids = body.get("ids") if body is not None else None
        if not isinstance(ids, list) or not all(isinstance(ref, str) for ref in ids):
            return _error(400, "invalid_request", "ids must be a list of task ids")
        action = str(body.get("action") or "").upper() if body is not None else ""
        found = [self.sim.lookup(PROVIDER, self._ids.get(ref, "")) for ref in ids]
        tasks = [t for t in found if t is not None and action in ("", ACTIONS[t.operation])]
        return _ok([self._dto(task, request.base_url) for task in tasks])

    def _dto(self, task: TaskRecord, base_url: str) -> dict[str, Any]:
        now = time.monotonic()
        return task_dto(self.sim, task, task.phase_at(now), now, base_url)

    def _callback_body(self, task: TaskRecord, phase: Phase) -> dict[str, Any]:
        return task_dto(self.sim, task, phase, task.entered_mono(phase), task.base_url)

    def _refuse_create(self, request: SimRequest, operation: str) -> SimResponse | None:
        """Refusals that come before the body is read: auth, unknown action, injected faults."""
        if not wire.authorized(self.sim, request):
            self.sim.reject(PROVIDER, "unauthorized")
            return _unauthorized()
        if operation not in INPUTS:
            self.sim.reject(PROVIDER, "invalid_action")
            return _error(400, "invalid_request", "invalid_action")
        refusal = self.sim.draw_submit_fault(PROVIDER)
        if refusal is None:
            return None
        status, code, text = REFUSALS[refusal.fault]
        headers = {"Retry-After": "1"} if status == 429 else None
        return _error(status, code, refusal.message or text, headers)

    def _invalid(self, operation: str, body: Mapping[str, Any]) -> str | None:
        """Why the proxy would refuse this body, or None."""
        for name in TASK_FIELDS:
            if body.get(name) is not None and not isinstance(body[name], str):
                return f"{name} must be a string"
        try:
            INPUTS[operation].model_validate({k: v for k, v in body.items() if k not in TASK_FIELDS})
        except ValidationError as exc:
            error = exc.errors()[0]
            name = ".".join(str(part) for part in error["loc"]) or "body"
            return "prompt_empty" if operation == "lyrics" else f"{name}: {error['msg']}"
        parent = body.get("task_id")
        if parent is not None and not self._owns_clip(str(parent), str(body.get("continue_clip_id"))):
            return "task id is not a task of yours with that continue_clip_id"
        return None

    def _owns_clip(self, parent: str, clip: str) -> bool:
        task = self.sim.task(self._ids.get(parent, ""))
        return task is not None and clip in {clip_id(task, n) for n in range(CLIPS)}


def _new_task(operation: str, body: Mapping[str, Any], request: SimRequest) -> NewTask:
    return NewTask(
        provider=PROVIDER,
        operation=operation,
        params={k: v for k, v in body.items() if k != "notify_hook"},
        base_url=request.base_url,
        callback_url=body.get("notify_hook") or None,
    )


def _ok(data: Any) -> SimResponse:
    return answer({"code": "success", "message": "", "data": data})


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> SimResponse:
    return answer({"code": code, "message": message, "data": None}, status, headers)


def _unauthorized() -> SimResponse:
    # CometAPI's gateway refuses a key in OpenAI's error shape, before any Suno envelope.
    error = {"message": f"Invalid token (request id: {uuid.uuid4()})", "type": "comet_api_error", "code": ""}
    return answer({"error": {**error, "param": ""}}, 401)
