"""MiniMax Hailuo as the simulator plays it (providers-more.md §1, §7): MiniMax's three root paths, business
errors as HTTP 200 with `base_resp`, a challenge to echo before any callback, `file_id` then a signed,
expiring `download_url`."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from workers.providers.hailuo.schemas import (
    MODELS,
    HailuoImage2VideoInput,
    HailuoText2VideoInput,
    canonical_model,
    model_problem,
)
from workers.providers.simulation import wire
from workers.providers.simulation.engine import Simulator, SubmitFault
from workers.providers.simulation.files import signed_url
from workers.providers.simulation.http import SimRequest, SimResponse, SimRoute, Simulation, answer
from workers.providers.simulation.timeline import Dwell, NewTask, Phase, TaskRecord

PROVIDER = "hailuo"
# 1-5 minutes end to end (§1.6): a short preparation and queue, then the generation.
DWELL = Dwell(submitted=(5.0, 30.0), processing=(55.0, 270.0))
CHALLENGE_TIMEOUT_S = 3.0
FILE_ID_OFFSET = 10**18  # file ids are digits too, told apart from task ids (and back) by this offset
INPUTS: Mapping[str, type[BaseModel]] = {
    "text2video": HailuoText2VideoInput,
    "image2video": HailuoImage2VideoInput,
}
TASK_FIELDS = ("model", "callback_url")
LOGIN_FAIL = "login fail: Please carry the API secret key in the 'Authorization' field"
SIZES = {"512P": (912, 512), "720P": (1280, 720), "768P": (1366, 768), "1080P": (1920, 1080)}
# Refusals at submit, as MiniMax words them: HTTP 200 and a business code (§1.5).
REFUSALS = {
    SubmitFault.RATE_LIMITED: (1002, "rate limit exceeded(RPM)"),
    SubmitFault.UNAVAILABLE: (1000, "unknown error"),
    SubmitFault.REJECTED: (2013, "invalid params"),
}
FAILURES = {"fail": (1000, "video generation failed"), "moderation": (1027, "output video is sensitive")}
# Callbacks spell statuses as they please (§1.4): a task's spelling follows its id.
CALLBACK_SPELLING = ({"Success": "Success", "Fail": "Fail"}, {"Success": "success", "Fail": "failed"})


def status_at(task: TaskRecord, phase: Phase, mono: float) -> str:
    """MiniMax's name for `task` in `phase` at `mono`: its queued phase is Preparing, then Queueing."""
    if phase is Phase.QUEUED:
        return "Queueing" if mono - task.created_mono > task.submitted_s / 2 else "Preparing"
    if phase is Phase.RUNNING:
        return "Processing"
    return "Success" if task.result == "succeed" else "Fail"


def task_body(task: TaskRecord, status: str) -> dict[str, Any]:
    """The query answer, and the whole body of a callback."""
    body: dict[str, Any] = {"task_id": task.task_id, "status": status, "base_resp": _base_resp()}
    if status == "Success":
        offer = MODELS.get(canonical_model(str(task.params.get("model", ""))))
        default = offer.default_resolution if offer else "768P"
        width, height = SIZES.get(str(task.params.get("resolution") or default), SIZES[default])
        body.update(file_id=str(FILE_ID_OFFSET + int(task.task_id)), video_width=width, video_height=height)
    elif status == "Fail":
        code, message = FAILURES.get(task.result, FAILURES["fail"])
        body["base_resp"] = _base_resp(int(task.code) if task.code else code, task.message or message)
    return body


def routes(sim: Simulator) -> list[SimRoute]:
    handlers = HailuoRoutes(sim)
    return [
        SimRoute("POST", "/v1/video_generation", handlers.create),
        SimRoute("GET", "/v1/query/video_generation", handlers.query),
        SimRoute("GET", "/v1/files/retrieve", handlers.retrieve),
    ]


SIMULATION = Simulation(dwell=DWELL, routes=routes)


class HailuoRoutes:
    """The route handlers, bound to one simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def create(self, request: SimRequest) -> SimResponse:
        sim = self.sim
        await wire.latency(sim)
        sim.count_attempt(PROVIDER)
        refusal = self._refuse_create(request)
        if refusal is not None:
            return refusal
        body = await wire.json_object(request)
        problem = "body must be a JSON object" if body is None else _invalid(body)
        if body is None or problem is not None:
            sim.reject(PROVIDER, "invalid_params")
            return _error(2013, f"invalid params, {problem}")
        callback_url = body.get("callback_url") or None
        verified = callback_url is not None and await self._challenge(str(callback_url))
        params = {k: v for k, v in body.items() if k != "callback_url"}
        operation = "image2video" if body.get("first_frame_image") else "text2video"
        # A task whose address failed the challenge runs all the same, but nothing is pushed to it.
        pushed_to = callback_url if verified else None
        new = NewTask(PROVIDER, operation, params, request.base_url, callback_url=pushed_to)
        task = sim.create_task(new, render=self._callback_body)
        await wire.stall(request, sim.draw_stall())
        return answer({"task_id": task.task_id, "base_resp": _base_resp()})

    async def query(self, request: SimRequest) -> SimResponse:
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return _error(1004, LOGIN_FAIL)
        task_id = request.query_params.get("task_id", "")
        task = self.sim.lookup(PROVIDER, task_id) if task_id else None
        if task is None:
            return _error(2013, f"invalid params, task {task_id!r} not found")
        now = time.monotonic()
        return answer(task_body(task, status_at(task, task.phase_at(now), now)))

    async def retrieve(self, request: SimRequest) -> SimResponse:
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return _error(1004, LOGIN_FAIL)
        file_id = request.query_params.get("file_id", "")
        task = self.sim.task(str(int(file_id) - FILE_ID_OFFSET)) if file_id.isdigit() else None
        done = task is not None and task.phase_at(time.monotonic()) is Phase.DONE
        if task is None or task.provider != PROVIDER or not done or task.result != "succeed":
            return _error(2013, f"invalid params, file {file_id!r} not found")
        link = signed_url(self.sim, request.base_url, task.task_id, 0)
        file = {
            "file_id": int(file_id),  # a number here, a string in the query answer (§1.3)
            "bytes": task.file_size,
            "created_at": int(task.entered_ms(Phase.DONE) / 1000),
            "filename": "output.mp4",
            "purpose": "video_generation",
            "download_url": link,
            "backup_download_url": link,
        }
        return answer({"file": file, "base_resp": _base_resp()})

    def _refuse_create(self, request: SimRequest) -> SimResponse | None:
        """Refusals that come before the body is read: the key, injected faults."""
        if not wire.authorized(self.sim, request):
            self.sim.reject(PROVIDER, "unauthorized")
            return _error(1004, LOGIN_FAIL)
        refusal = self.sim.draw_submit_fault(PROVIDER)
        if refusal is None:
            return None
        code, text = REFUSALS[refusal.fault]
        return _error(int(refusal.code) if refusal.code else code, refusal.message or text)

    async def _challenge(self, url: str) -> bool:
        """POST `{"challenge": <random>}` and expect it echoed within 3 s (counted as a callback). What
        MiniMax does with a task whose address fails is undocumented [M]: here it runs, unannounced."""
        challenge = secrets.token_urlsafe(16)
        try:
            async with asyncio.timeout(CHALLENGE_TIMEOUT_S), httpx.AsyncClient() as client:
                response = await client.post(url, json={"challenge": challenge})
            echoed = response.is_success and response.json() == {"challenge": challenge}
        except (TimeoutError, httpx.HTTPError, httpx.InvalidURL, ValueError):
            echoed = False
        self.sim.record_callback(PROVIDER, "sent" if echoed else "failed")
        return echoed

    def _callback_body(self, task: TaskRecord, phase: Phase) -> dict[str, Any]:
        status = status_at(task, phase, task.entered_mono(phase))
        spelling = {"Processing": "processing", **CALLBACK_SPELLING[int(task.task_id) % 2]}
        return {**task_body(task, status), "status": spelling.get(status, status)}


def _invalid(body: Mapping[str, Any]) -> str | None:
    """Why MiniMax would refuse this body (2013), or None."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return "model is required"
    if not isinstance(body.get("callback_url") or "", str):
        return "callback_url must be a string"
    operation = "image2video" if body.get("first_frame_image") else "text2video"
    fields = {k: v for k, v in body.items() if k not in TASK_FIELDS}
    try:
        INPUTS[operation].model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"]) or "body"
        return f"{name} is required" if error["type"] == "missing" else f"{name}: {error['msg']}"
    return model_problem(model, operation, fields)


def _base_resp(code: int = 0, message: str = "success") -> dict[str, Any]:
    return {"status_code": code, "status_msg": message}


def _error(code: int, message: str) -> SimResponse:
    return answer({"task_id": "", "base_resp": _base_resp(code, message)})
