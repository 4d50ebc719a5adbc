"""Kling as the simulator plays it, as CometAPI passes it through (providers.md §2): the create and
query routes under `/kling/v1/...` and the vendor's own `/v1/...`, and Kling's task object."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import jwt
from pydantic import BaseModel, ValidationError

from workers.providers.kling.schemas import KlingImage2VideoInput, KlingImageInput, KlingText2VideoInput
from workers.providers.simulation import wire
from workers.providers.simulation.engine import DuplicateExternalIdError, Simulator, SubmitFault
from workers.providers.simulation.files import signed_url
from workers.providers.simulation.http import SimRequest, SimResponse, SimRoute, Simulation, answer
from workers.providers.simulation.timeline import Dwell, NewTask, Phase, TaskRecord

PROVIDER = "kling"
DWELL = Dwell(submitted=(2.0, 10.0), processing=(20.0, 90.0))
PREFIXES = ("/kling/v1", "/v1")
# Route path (family/name) -> operation, as the adapter names it.
ROUTES = {
    "videos/text2video": "text2video",
    "videos/image2video": "image2video",
    "images/generations": "image_generation",
}
INPUTS: Mapping[str, type[BaseModel]] = {
    "text2video": KlingText2VideoInput,
    "image2video": KlingImage2VideoInput,
    "image_generation": KlingImageInput,
}
# Request fields about the task rather than the generation; the input models leave them out.
TASK_FIELDS = ("model_name", "model", "callback_url", "external_task_id")
STATUS = {Phase.QUEUED: "submitted", Phase.RUNNING: "processing"}
# Each refusal of a create: HTTP status, body code, default message.
REFUSALS = {
    SubmitFault.RATE_LIMITED: (429, 1302, "request rate too high"),
    SubmitFault.UNAVAILABLE: (503, 5001, "service temporarily unavailable"),
    SubmitFault.REJECTED: (400, 1201, "invalid params"),
}
FAILURE_MESSAGES = {
    "fail": "internal generation error",
    "moderation": "Failure to pass the risk control system",
}


def task_status(task: TaskRecord, phase: Phase) -> str:
    if phase is Phase.DONE:
        return "succeed" if task.result == "succeed" else "failed"
    return STATUS[phase]


def _failure_message(task: TaskRecord) -> str:
    # An ending Kling has no word for (cancelled, expired) reads as a failure.
    return task.message or FAILURE_MESSAGES.get(task.result, FAILURE_MESSAGES["fail"])


def task_object(sim: Simulator, task: TaskRecord, phase: Phase, base_url: str) -> dict[str, Any]:
    """The bare task object: `data` of a query answer and the whole body of a callback."""
    status = task_status(task, phase)
    body: dict[str, Any] = {
        "task_id": task.task_id,
        "task_status": status,
        "task_status_msg": _failure_message(task) if status == "failed" else "",
        "task_info": {"external_task_id": task.external_id or ""},
        "created_at": task.entered_ms(Phase.QUEUED),
        "updated_at": task.entered_ms(phase),
    }
    if phase is Phase.DONE:
        body["final_unit_deduction"] = _units(task) if status == "succeed" else "0"
    if status == "succeed":
        body["task_result"] = _result(sim, task, base_url)
    return body


def _result(sim: Simulator, task: TaskRecord, base_url: str) -> dict[str, Any]:
    if task.operation == "image_generation":
        count = int(task.params.get("n", 1))
        return {
            "images": [
                {"index": i, "url": signed_url(sim, base_url, task.task_id, i, "png")} for i in range(count)
            ]
        }
    video = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"kling/{task.task_id}")),
        "url": signed_url(sim, base_url, task.task_id, 0),
        "duration": str(task.params.get("duration", "5")),
    }
    return {"videos": [video]}


def _units(task: TaskRecord) -> str:
    # One unit per 5 s of standard-mode video; professional mode costs double.
    if task.operation == "image_generation":
        return str(task.params.get("n", 1))
    seconds = int(str(task.params.get("duration", "5")))
    return str(seconds // 5 * (2 if task.params.get("mode") == "pro" else 1))


def routes(sim: Simulator) -> list[SimRoute]:
    handlers = KlingRoutes(sim)
    return [
        route
        for prefix in PREFIXES
        for route in (
            SimRoute("POST", f"{prefix}/{{family}}/{{name}}", handlers.create),
            SimRoute("GET", f"{prefix}/{{family}}/{{name}}/{{task_ref}}", handlers.query),
        )
    ]


SIMULATION = Simulation(dwell=DWELL, routes=routes)


class KlingRoutes:
    """The route handlers, bound to one simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def create(self, request: SimRequest) -> SimResponse:
        family, name = request.path_params["family"], request.path_params["name"]
        operation = ROUTES.get(f"{family}/{name}", f"{family}/{name}")
        sim = self.sim
        await wire.latency(sim)
        sim.count_attempt(PROVIDER)
        refusal = self._refuse_create(request, operation)
        if refusal is not None:
            return refusal
        body = await wire.json_object(request)
        problem = "body must be a JSON object" if body is None else _invalid(operation, body)
        if body is None or problem is not None:
            sim.reject(PROVIDER, "invalid_params")
            return _error(400, 1200 if body is None else 1201, problem or "invalid params")
        try:
            task = sim.create_task(_new_task(operation, body, request), render=self._callback_body)
        except DuplicateExternalIdError:
            return _error(400, 1201, "external_task_id already exists")
        await wire.stall(request, sim.draw_stall())
        return _ok(_created(task))

    async def query(self, request: SimRequest) -> SimResponse:
        family, name, task_ref = (request.path_params[key] for key in ("family", "name", "task_ref"))
        operation = ROUTES.get(f"{family}/{name}", f"{family}/{name}")
        await wire.latency(self.sim)
        if not _authorized(self.sim, request):
            return _error(401, 1000, "Authentication failed")
        task = self.sim.lookup(PROVIDER, task_ref)
        if task is None or task.operation != operation:
            return _error(404, 1203, "task_not_exist")
        phase = task.phase_at(time.monotonic())
        return _ok(task_object(self.sim, task, phase, request.base_url))

    def _refuse_create(self, request: SimRequest, operation: str) -> SimResponse | None:
        """Refusals that come before the body is read: auth, unknown route, injected faults."""
        if not _authorized(self.sim, request):
            self.sim.reject(PROVIDER, "unauthorized")
            return _error(401, 1000, "Authentication failed")
        if operation not in INPUTS:
            self.sim.reject(PROVIDER, "unknown_operation")
            return _error(404, 1203, f"resource not exist: {operation}")
        refusal = self.sim.draw_submit_fault(PROVIDER)
        if refusal is None:
            return None
        status, code, text = REFUSALS[refusal.fault]
        headers = {"Retry-After": "1"} if status == 429 else None
        return _error(status, code, refusal.message or text, headers=headers)

    def _callback_body(self, task: TaskRecord, phase: Phase) -> dict[str, Any]:
        return task_object(self.sim, task, phase, task.base_url)


def _authorized(sim: Simulator, request: SimRequest) -> bool:
    """CometAPI's routes take the key as a bearer token; the vendor's take an HS256 JWT whose issuer
    is the access key, signed with the secret key."""
    if request.path.startswith("/kling/"):
        return wire.authorized(sim, request)
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    try:
        claims = jwt.decode(token, sim.config.secret_key, algorithms=["HS256"])
    except jwt.PyJWTError:
        return False
    return bool(claims.get("iss") == sim.config.api_key)


def _created(task: TaskRecord) -> dict[str, Any]:
    created = task.entered_ms(Phase.QUEUED)
    return {
        "task_id": task.task_id,
        "task_status": "submitted",
        "task_info": {"external_task_id": task.external_id or ""},
        "created_at": created,
        "updated_at": created,
    }


def _invalid(operation: str, body: Mapping[str, Any]) -> str | None:
    """Why Kling would refuse this body (code 1201), or None."""
    for name in TASK_FIELDS:
        if body.get(name) is not None and not isinstance(body[name], str):
            return f"{name} must be a string"
    try:
        INPUTS[operation].model_validate({k: v for k, v in body.items() if k not in TASK_FIELDS})
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"]) or "body"
        return f"{name} is required" if error["type"] == "missing" else f"{name}: {error['msg']}"
    return None


def _new_task(operation: str, body: Mapping[str, Any], request: SimRequest) -> NewTask:
    return NewTask(
        provider=PROVIDER,
        operation=operation,
        params={k: v for k, v in body.items() if k not in TASK_FIELDS},
        base_url=request.base_url,
        external_id=body.get("external_task_id") or None,
        callback_url=body.get("callback_url") or None,
    )


def _ok(data: dict[str, Any]) -> SimResponse:
    return answer({"code": 0, "message": "SUCCEED", "request_id": str(uuid.uuid4()), "data": data})


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> SimResponse:
    return answer({"code": code, "message": message, "request_id": str(uuid.uuid4())}, status, headers)
