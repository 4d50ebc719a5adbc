"""Seedance as the simulator plays it, Ark's façade (providers-more.md §2, §7) under CometAPI's `/volc/v3`
and Ark's `/api/v3`: a bare `{"id": "cgt-…"}`, lowercase statuses including `cancelled` and `expired`,
seconds timestamps, `content.video_url`, errors in Ark's envelope, a DELETE that cancels a queued task and
deletes an ended one's record, at most 120 queued tasks, the task object pushed to `callback_url`."""

from __future__ import annotations

import heapq
import secrets
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from workers.providers.seedance.content import BodyError, read_body
from workers.providers.seedance.offers import I2V, R2V, T2V
from workers.providers.seedance.schemas import (
    DEFAULT_RESOLUTION,
    SeedanceImage2VideoInput,
    SeedanceReference2VideoInput,
    SeedanceText2VideoInput,
)
from workers.providers.simulation import wire
from workers.providers.simulation.engine import Simulator, SubmitFault
from workers.providers.simulation.files import signed_url
from workers.providers.simulation.http import SimRequest, SimResponse, SimRoute, Simulation, answer
from workers.providers.simulation.timeline import Dwell, NewTask, Phase, TaskRecord

PROVIDER = "seedance"
# 1-3 minutes end to end (§2.7): a wait in the queue, then the generation.
DWELL = Dwell(submitted=(5.0, 30.0), processing=(45.0, 150.0))
PREFIXES = ("/volc/v3", "/api/v3")
TASKS = "/contents/generations/tasks"
ID_PREFIX = "cgt-"
QUEUE_CAP = 120  # queued tasks per account (§2.1); running and ended ones do not count
SENSITIVE_WORDS = frozenset({"nsfw", "gore", "bloodbath"})  # refused at submit (nothing created)
INPUTS: Mapping[str, type[BaseModel]] = {
    T2V: SeedanceText2VideoInput,
    I2V: SeedanceImage2VideoInput,
    R2V: SeedanceReference2VideoInput,
}
TYPES = {400: "BadRequest", 401: "Unauthorized", 404: "NotFound", 409: "Conflict", 429: "TooManyRequests"}
REFUSALS = {
    SubmitFault.RATE_LIMITED: (
        429,
        "RateLimitExceeded.EndpointRPMExceeded",
        "The Requests Per Minute (RPM) limit of the associated endpoint for your account has been exceeded.",
    ),
    SubmitFault.UNAVAILABLE: (
        500,
        "InternalServiceError",
        "The service encountered an unexpected internal error.",
    ),
    SubmitFault.REJECTED: (
        400,
        "InvalidParameter",
        "One or more parameters specified in the request are not valid.",
    ),
}
FAILURES = {
    "fail": ("InternalServiceError", "The video generation failed because of an internal error."),
    "moderation": (
        "OutputVideoSensitiveContentDetected",
        "The request failed because the output video may contain sensitive information.",
    ),
}
UNAUTHORIZED = "The API key or AK/SK in the request is missing or invalid."
TOKENS_PER_SECOND = {"480p": 9720, "720p": 21600, "1080p": 48600}  # width x height x 24 fps / 1024


def status_at(task: TaskRecord, phase: Phase) -> str:
    """Ark's name for `task` in `phase`: a task cancelled or expired never ran, so it waits queued."""
    if task.result in ("cancelled", "expired"):
        return task.result if phase is Phase.DONE else "queued"
    if phase is not Phase.DONE:
        return "queued" if phase is Phase.QUEUED else "running"
    return "succeeded" if task.result == "succeed" else "failed"


def task_body(sim: Simulator, task: TaskRecord, phase: Phase) -> dict[str, Any]:
    """The task object: the query answer, and the body of a callback."""
    params, status = task.params, status_at(task, phase)
    resolution, duration = str(params.get("resolution") or DEFAULT_RESOLUTION), params.get("duration", 5)
    seed = params.get("seed")
    body: dict[str, Any] = {
        "id": f"{ID_PREFIX}{task.task_id}",
        "model": params.get("model"),
        "status": status,
        "error": None,
        "created_at": int(task.created_wall),
        "updated_at": task.entered_ms(phase) // 1000,
        "seed": seed if isinstance(seed, int) and seed >= 0 else int(task.task_id) % 2**32,
        "resolution": resolution,
        "ratio": params.get("ratio") or ("16:9" if task.operation == T2V else "adaptive"),
        "duration": duration,
        "framespersecond": 24,
        "service_tier": params.get("service_tier") or "default",
        "execution_expires_after": params.get("execution_expires_after") or 172800,
    }
    if status == "succeeded":
        base = task.base_url
        body["content"] = {"video_url": signed_url(sim, base, task.task_id, 0)}
        if params.get("return_last_frame"):
            body["content"]["last_frame_url"] = signed_url(sim, base, task.task_id, 1, "png")
        tokens = TOKENS_PER_SECOND.get(resolution, 21600) * int(duration)
        body["usage"] = {"completion_tokens": tokens, "total_tokens": tokens}
    elif status == "failed":
        code, message = FAILURES.get(task.result, FAILURES["fail"])
        body["error"] = {"code": task.code or code, "message": task.message or message}
    return body


def routes(sim: Simulator) -> list[SimRoute]:
    handlers = SeedanceRoutes(sim)
    declared = []
    for prefix in PREFIXES:
        path = f"{prefix}{TASKS}"
        declared += [
            SimRoute("POST", path, handlers.create),
            SimRoute("GET", f"{path}/{{task_id}}", handlers.query),
            SimRoute("DELETE", f"{path}/{{task_id}}", handlers.delete),
        ]
    return declared


SIMULATION = Simulation(dwell=DWELL, routes=routes)


class SeedanceRoutes:
    """The route handlers, bound to one simulator, with the account's queue (when each task leaves it)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._leaving: list[tuple[float, str, float]] = []  # (leaves the queue, task id, created)

    async def create(self, request: SimRequest) -> SimResponse:
        sim = self.sim
        await wire.latency(sim)
        sim.count_attempt(PROVIDER)
        if not wire.authorized(sim, request):
            sim.reject(PROVIDER, "unauthorized")
            return _error(401, "AuthenticationError", UNAUTHORIZED)
        refusal = sim.draw_submit_fault(PROVIDER)
        if refusal is not None:
            status, code, text = REFUSALS[refusal.fault]
            return _error(status, refusal.code or code, refusal.message or text)
        body = await wire.json_object(request) or {}
        operation = self._operation(body)
        if isinstance(operation, SimResponse):
            return operation
        if self._queued() >= QUEUE_CAP:
            sim.reject(PROVIDER, "queue_full")
            return _error(429, "QuotaExceeded", f"The account has {QUEUE_CAP} queued tasks, the most it may.")
        params = {k: v for k, v in body.items() if k != "callback_url"}
        new = NewTask(PROVIDER, operation, params, request.base_url, callback_url=body.get("callback_url"))
        task = sim.create_task(new, render=self._callback_body)
        heapq.heappush(self._leaving, (task.created_mono + task.submitted_s, task.task_id, task.created_mono))
        await wire.stall(request, sim.draw_stall())
        return answer({"id": f"{ID_PREFIX}{task.task_id}"})

    async def query(self, request: SimRequest) -> SimResponse:
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return _error(401, "AuthenticationError", UNAUTHORIZED)
        ref = request.path_params["task_id"]
        task = self.sim.lookup(PROVIDER, ref.removeprefix(ID_PREFIX)) if ref.startswith(ID_PREFIX) else None
        if task is None:
            return _error(404, "ResourceNotFound", f"The specified task {ref} is not found.")
        return answer(task_body(self.sim, task, task.phase_at(time.monotonic())))

    async def delete(self, request: SimRequest) -> SimResponse:
        """Per state (§2.3): queued → cancelled; running, cancelled → refused; ended → record deleted."""
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return _error(401, "AuthenticationError", UNAUTHORIZED)
        ref = request.path_params["task_id"]
        task = self.sim.task(ref.removeprefix(ID_PREFIX)) if ref.startswith(ID_PREFIX) else None
        if task is None or task.provider != PROVIDER:
            return _error(404, "ResourceNotFound", f"The specified task {ref} is not found.")
        status = status_at(task, task.phase_at(time.monotonic()))
        if status == "queued":
            self.sim.end(task.task_id, "cancelled", render=self._callback_body)
        elif status in ("running", "cancelled"):
            return _error(409, "TaskNotCancellable", f"The task is {status} and cannot be cancelled.")
        else:
            self.sim.delete(task.task_id)
        return answer({})

    def _operation(self, body: Mapping[str, Any]) -> str | SimResponse:
        """The operation the body asks for, or Ark's refusal of it (400)."""
        try:
            model, operation, fields = read_body({k: v for k, v in body.items() if k != "callback_url"})
        except BodyError as problem:
            self.sim.reject(PROVIDER, "invalid_params")
            code = "MissingParameter" if problem.missing else "InvalidParameter"
            return _error(
                400, code, f"The parameter `{problem.field}` specified in the request is not valid: {problem}"
            )
        if not isinstance(body.get("callback_url") or "", str):
            self.sim.reject(PROVIDER, "invalid_params")
            return _error(400, "InvalidParameter", "The parameter `callback_url` must be a string.")
        if SENSITIVE_WORDS & set(str(fields.get("prompt", "")).lower().split()):
            self.sim.reject(PROVIDER, "sensitive")
            text = "The request failed because the input text may contain sensitive information."
            return _error(400, "InputTextSensitiveContentDetected", text)
        try:
            INPUTS[operation].model_validate(fields, context={"model": model})
        except ValidationError as exc:
            self.sim.reject(PROVIDER, "invalid_params")
            error = exc.errors()[0]
            name = ".".join(str(part) for part in error["loc"]) or "body"
            return _error(400, "InvalidParameter", f"The parameter `{name}` is not valid: {error['msg']}")
        return operation

    def _queued(self) -> int:
        """Tasks still in the queue now: those whose turn has not come, unless they ended early (or were
        forgotten by a reset, their ids perhaps drawn again since)."""
        now = time.monotonic()
        while self._leaving and self._leaving[0][0] <= now:
            heapq.heappop(self._leaving)
        waiting = ((self.sim.task(task_id), created) for _, task_id, created in self._leaving)
        return sum(
            task is not None and task.created_mono == created and task.phase_at(now) is Phase.QUEUED
            for task, created in waiting
        )

    def _callback_body(self, task: TaskRecord, phase: Phase) -> dict[str, Any]:
        return task_body(self.sim, task, phase)


def _error(status: int, code: str, message: str) -> SimResponse:
    kind = TYPES.get(status, "InternalServerError")
    return answer(
        {"error": {"code": code, "message": f"{message} Request ID: {secrets.token_hex(10)}", "type": kind}},
        status,
    )
