"""Runway as the simulator plays it, its official API as CometAPI passes it through (providers.md §3a):
create, query and cancel under `/runwayml/v1/...` and Runway's own `/v1/...`, FIFO org concurrency
(THROTTLED), and the task object, bare or in CometAPI's new-api envelope. Knobs of its own live at
`/_sim/runway/config`."""

from __future__ import annotations

import re
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workers.providers.runway.schemas import RUNWAY_VERSION, RunwayImageToVideoInput, RunwayTextToImageInput
from workers.providers.simulation import wire
from workers.providers.simulation.engine import Simulator, SubmitFault
from workers.providers.simulation.files import signed_url
from workers.providers.simulation.http import SimRequest, SimResponse, SimRoute, Simulation, answer
from workers.providers.simulation.timeline import Dwell, NewTask, Phase, TaskRecord

PROVIDER = "runway"
# Runway's own sizing example assumes ~15 s a video; CometAPI's one sample took ~6 min.
DWELL = Dwell(submitted=(1.0, 8.0), processing=(15.0, 120.0))
PREFIXES = ("/runwayml/v1", "/v1")
INPUTS: Mapping[str, type[BaseModel]] = {
    "image_to_video": RunwayImageToVideoInput,
    "text_to_image": RunwayTextToImageInput,
}
# Each refusal of a create: HTTP status, default message.
REFUSALS = {
    SubmitFault.RATE_LIMITED: (429, "You have exceeded your daily generation limit"),
    SubmitFault.UNAVAILABLE: (503, "Service is temporarily unavailable, please retry"),
    SubmitFault.REJECTED: (400, "Invalid request"),
}
FILE_KINDS = {"image_to_video": "mp4", "text_to_image": "png"}
ACTIONS = {"image_to_video": "IMAGE_TO_VIDEO", "text_to_image": "TEXT_TO_IMAGE"}
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


class RunwaySettings(BaseModel):
    """This module's own knobs (SimConfig is shared by every provider)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wrapped: bool = False  # answer `/runwayml` queries in CometAPI's new-api envelope
    concurrency: int = Field(default=5, ge=1)  # tasks an org runs at once; the rest wait THROTTLED


@dataclass
class Schedule:
    """When a task leaves THROTTLED (takes a slot) and when it frees that slot."""

    start_mono: float
    end_mono: float
    slot: int
    cancelled_mono: float | None = None
    deleted: bool = False


class RunwayState:
    """Slots, schedules and settings of one simulator's Runway org."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.settings = RunwaySettings()
        self._slots = [0.0] * self.settings.concurrency  # monotonic time each slot frees up
        # By the task's wire id (a fresh UUID): engine ids repeat after a reset with the same seed.
        self._schedules: dict[str, Schedule] = {}

    def configure(self, **changes: Any) -> RunwaySettings:
        with self._lock:
            self.settings = RunwaySettings.model_validate({**self.settings.model_dump(), **changes})
            slots, size = sorted(self._slots, reverse=True), self.settings.concurrency
            self._slots = (slots + [0.0] * size)[:size]
            return self.settings

    def admit(self, sim: Simulator, task: TaskRecord) -> Schedule:
        """Queue a new task FIFO behind the org's running ones (Runway's THROTTLED)."""
        with self._lock:
            latest = next(reversed(self._schedules), None)
            if latest is not None and sim.task_by_external_id(latest, provider=PROVIDER) is None:
                self._slots, self._schedules = [0.0] * self.settings.concurrency, {}  # sim was reset
            slot = min(range(len(self._slots)), key=self._slots.__getitem__)
            start = max(task.created_mono, self._slots[slot])
            schedule = Schedule(start, start + task.submitted_s + task.processing_s, slot)
            self._slots[slot] = schedule.end_mono
            self._schedules[str(task.external_id)] = schedule
            return schedule

    def schedule(self, task: TaskRecord) -> Schedule:
        with self._lock:
            return self._schedules.get(str(task.external_id)) or Schedule(
                task.created_mono, task.finished_mono, -1
            )

    def cancel(self, task: TaskRecord, now: float) -> bool:
        """Cancel an unfinished task, delete a finished one; False if it is already deleted."""
        with self._lock:
            schedule = self._schedules.get(str(task.external_id))
            if schedule is None or schedule.deleted:
                return False
            if schedule.cancelled_mono is not None:
                return True
            if now >= schedule.end_mono:
                schedule.deleted = True
                return True
            schedule.cancelled_mono = now
            freed = max(schedule.start_mono, now)
            if schedule.slot < len(self._slots) and self._slots[schedule.slot] == schedule.end_mono:
                self._slots[schedule.slot] = freed  # later creates may start sooner
            schedule.end_mono = freed
            return True

    def counts(self, now: float) -> dict[str, int]:
        with self._lock:
            live = [s for s in self._schedules.values() if s.cancelled_mono is None and now < s.end_mono]
        return {
            "throttled_now": sum(now < s.start_mono for s in live),
            "active_now": sum(now >= s.start_mono for s in live),
        }


_STATES: weakref.WeakKeyDictionary[Simulator, RunwayState] = weakref.WeakKeyDictionary()


def state_for(sim: Simulator) -> RunwayState:
    """The Runway state of `sim` (one per simulator, however many apps serve it)."""
    return _STATES.setdefault(sim, RunwayState())


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
    scripted = SCRIPTED_CODE.match(task.message or "")
    if scripted:
        kind = "moderation" if "SAFETY" in scripted["code"].split(".") else "fail"
        return scripted["code"], scripted["text"] or FAILURES[kind][1]
    return code, task.message or text


def _wall(task: TaskRecord, mono: float) -> float:
    return task.created_wall + (mono - task.created_mono)


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def routes(sim: Simulator) -> list[SimRoute]:
    handlers = RunwayRoutes(sim, state_for(sim))
    declared: list[SimRoute] = []
    for prefix in PREFIXES:
        declared += [SimRoute("POST", f"{prefix}/{operation}", handlers.create) for operation in INPUTS]
        declared.append(SimRoute("GET", f"{prefix}/tasks/{{task_ref}}", handlers.query))
        declared.append(SimRoute("DELETE", f"{prefix}/tasks/{{task_ref}}", handlers.cancel))
    declared += [SimRoute(method, "/_sim/runway/config", handlers.config) for method in ("GET", "POST")]
    return declared


SIMULATION = Simulation(dwell=DWELL, routes=routes)


class RunwayRoutes:
    """The route handlers, bound to one simulator and its Runway state."""

    def __init__(self, sim: Simulator, state: RunwayState) -> None:
        self.sim, self.state = sim, state

    async def create(self, request: SimRequest) -> SimResponse:
        operation = request.path.rsplit("/", 1)[-1]
        sim = self.sim
        await wire.latency(sim)
        sim.count_attempt(PROVIDER)
        refusal = self._refuse_create(request)
        if refusal is not None:
            return refusal
        body = await wire.json_object(request)
        problem = "Request body must be a JSON object" if body is None else _invalid(operation, body)
        if body is None or problem is not None:
            sim.reject(PROVIDER, "invalid_params")
            return _error(400, problem or "invalid body")
        new = NewTask(PROVIDER, operation, body, request.base_url, external_id=str(uuid.uuid4()))
        task = sim.create_task(new)
        self.state.admit(sim, task)
        await wire.stall(request, sim.draw_stall())
        return answer({"id": task.external_id})

    async def query(self, request: SimRequest) -> SimResponse:
        task_ref = request.path_params["task_ref"]
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return _error(401, "Invalid API key")
        task = self.sim.lookup(PROVIDER, task_ref)
        schedule = None if task is None else self.state.schedule(task)
        if task is None or schedule is None or schedule.deleted:
            return _not_found(request)
        body = task_object(self.sim, task, schedule, request.base_url)
        if self.state.settings.wrapped and _via_cometapi(request):
            body = wrapped(task, schedule, body)
        return answer(body)

    async def cancel(self, request: SimRequest) -> SimResponse:
        task_ref = request.path_params["task_ref"]
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return _error(401, "Invalid API key")
        task = self.sim.task_by_external_id(task_ref, provider=PROVIDER)
        if task is None or not self.state.cancel(task, time.monotonic()):
            return _not_found(request)
        return SimResponse(status=204)

    async def config(self, request: SimRequest) -> SimResponse:
        if request.method == "POST":
            try:
                self.state.configure(**(await wire.json_object(request) or {}))
            except ValidationError as exc:
                return answer({"detail": exc.errors(include_url=False)}, 422)
        return answer({**self.state.settings.model_dump(), **self.state.counts(time.monotonic())})

    def _refuse_create(self, request: SimRequest) -> SimResponse | None:
        """Refusals that come before the body is read: auth, API version, injected faults."""
        sim = self.sim
        if not wire.authorized(sim, request):
            sim.reject(PROVIDER, "unauthorized")
            return _error(401, "Invalid API key")
        version = request.headers.get("x-runway-version")
        if version != RUNWAY_VERSION:
            sim.reject(PROVIDER, "bad_version")
            problem = "is required" if version is None else f"must be {RUNWAY_VERSION}, not {version!r}"
            return _error(400, f"X-Runway-Version header {problem}")
        refusal = sim.draw_submit_fault(PROVIDER)
        if refusal is None:
            return None
        status, text = REFUSALS[refusal.fault]
        return _error(status, refusal.message or text, {"Retry-After": "1"} if status == 429 else None)


def _invalid(operation: str, body: Mapping[str, Any]) -> str | None:
    """Why Runway would refuse this body (HTTP 400, naming the field), or None."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Required"
    try:
        INPUTS[operation].model_validate({k: v for k, v in body.items() if k != "model"})
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"]) or "body"
        return f"{name}: {'Required' if error['type'] == 'missing' else error['msg']}"
    return None


def _via_cometapi(request: SimRequest) -> bool:
    return request.path.startswith("/runwayml/")


def _not_found(request: SimRequest) -> SimResponse:
    if _via_cometapi(request):  # new-api's answer for an id it does not know (yet)
        return answer({"code": "task_not_exist", "message": "task_not_exist", "data": None}, 404)
    return _error(404, "Task not found")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> SimResponse:
    return answer({"error": message}, status, headers)
