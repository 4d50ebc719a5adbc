"""Kling as the simulator plays it, as CometAPI passes it through (providers.md §2, providers-more.md
§5a): every family's create and query routes under `/kling/v1/...` and the vendor's own `/v1/...`,
follow-ups refused for a video of another account or older than 30 days, and image expansion
answering as CometAPI does (unavailable)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import jwt

from workers.providers.kling.creates import PATHS, VIDEO_OPERATIONS
from workers.providers.kling.operations import INPUTS
from workers.providers.kling.simulation import bodies
from workers.providers.kling.simulation.tasks import task_object
from workers.providers.kling.simulation.videos import Videos
from workers.providers.simulation import wire
from workers.providers.simulation.engine import DuplicateExternalIdError, Simulator, SubmitFault
from workers.providers.simulation.http import SimRequest, SimResponse, SimRoute, Simulation, answer
from workers.providers.simulation.timeline import Dwell, NewTask, Phase, TaskRecord

PROVIDER = "kling"
DWELL = Dwell(submitted=(2.0, 10.0), processing=(20.0, 90.0))
PREFIXES = ("/kling/v1", "/v1")
# Route path (family/name) -> operation, as the adapter names it.
ROUTES = {path: operation for operation, path in PATHS.items()}
# Operations whose video a follow-up may name.
MAKES_VIDEO = VIDEO_OPERATIONS | {"video_to_audio"}
# Each refusal of a create: HTTP status, body code, default message.
REFUSALS = {
    SubmitFault.RATE_LIMITED: (429, 1302, "request rate too high"),
    SubmitFault.UNAVAILABLE: (503, 5001, "service temporarily unavailable"),
    SubmitFault.REJECTED: (400, 1201, "invalid params"),
}
# Image expansion on CometAPI: a live check answered this (providers-more.md §5a).
EXPAND = "/kling/v1/images/editing/expand"


def routes(sim: Simulator) -> list[SimRoute]:
    handlers = KlingRoutes(sim)
    # Paths of three segments (the avatar's) are declared as they are; the rest by pattern. The
    # simulator mounts fixed paths before patterns.
    deep = [path for path in PATHS.values() if path.count("/") > 1]
    return [
        SimRoute("POST", EXPAND, handlers.expand),
        *(
            route
            for prefix in PREFIXES
            for route in (
                *(SimRoute("POST", f"{prefix}/{path}", handlers.create) for path in deep),
                *(SimRoute("GET", f"{prefix}/{path}/{{task_ref}}", handlers.query) for path in deep),
                SimRoute("POST", f"{prefix}/{{family}}/{{name}}", handlers.create),
                SimRoute("GET", f"{prefix}/{{family}}/{{name}}/{{task_ref}}", handlers.query),
            )
        ),
    ]


SIMULATION = Simulation(dwell=DWELL, routes=routes)


class KlingRoutes:
    """The route handlers, bound to one simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.videos = Videos(sim)

    async def create(self, request: SimRequest) -> SimResponse:
        operation = _operation(request.path)
        sim = self.sim
        await wire.latency(sim)
        sim.count_attempt(PROVIDER)
        refusal = self._refuse_create(request, operation)
        if refusal is not None:
            return refusal
        body = await wire.json_object(request)
        problem = "body must be a JSON object" if body is None else self._invalid(operation, body)
        if body is None or problem is not None:
            sim.reject(PROVIDER, "invalid_params")
            return _error(400, 1200 if body is None else 1201, problem or "invalid params")
        try:
            task = sim.create_task(_new_task(operation, body, request), render=self._callback_body)
        except DuplicateExternalIdError:
            return _error(400, 1201, "external_task_id already exists")
        if operation in MAKES_VIDEO:
            self.videos.record(task)
        await wire.stall(request, sim.draw_stall())
        return _ok(_created(task))

    async def query(self, request: SimRequest) -> SimResponse:
        task_ref = request.path_params["task_ref"]
        operation = _operation(request.path.rsplit("/", 1)[0])
        await wire.latency(self.sim)
        if not _authorized(self.sim, request):
            return _error(401, 1000, "Authentication failed")
        task = self.sim.lookup(PROVIDER, task_ref)
        if task is None or task.operation != operation:
            return _error(404, 1203, "task_not_exist")
        phase = task.phase_at(time.monotonic())
        return _ok(task_object(self.sim, self.videos, task, phase, request.base_url))

    async def expand(self, request: SimRequest) -> SimResponse:
        """Image expansion is not served: CometAPI answers it with an empty code and "404"."""
        if not _authorized(self.sim, request):
            return _error(401, 1000, "Authentication failed")
        self.sim.reject(PROVIDER, "unknown_operation")
        return answer({"code": None, "message": "404"}, 404)

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
        code = int(refusal.code) if refusal.code else code
        return _error(status, code, refusal.message or text, headers=headers)

    def _invalid(self, operation: str, body: Mapping[str, Any]) -> str | None:
        """Why Kling would refuse this body: its fields, or the video a follow-up names."""
        problem = bodies.invalid(operation, body)
        video_id = bodies.video_id(bodies.params(operation, body))
        if problem is None and video_id is not None:
            problem = self.videos.refusal(video_id)
        return problem

    def _callback_body(self, task: TaskRecord, phase: Phase) -> dict[str, Any]:
        return task_object(self.sim, self.videos, task, phase, task.base_url)


def _operation(path: str) -> str:
    """The operation a create path (or a query path without its task) names."""
    prefix = next((prefix for prefix in PREFIXES if path.startswith(prefix)), "")
    route = path.removeprefix(prefix).strip("/")
    return ROUTES.get(route, route)


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


def _new_task(operation: str, body: Mapping[str, Any], request: SimRequest) -> NewTask:
    return NewTask(
        provider=PROVIDER,
        operation=operation,
        params=bodies.params(operation, body),
        base_url=request.base_url,
        external_id=body.get("external_task_id") or None,
        callback_url=body.get("callback_url") or None,
    )


def _ok(data: dict[str, Any]) -> SimResponse:
    return answer({"code": 0, "message": "SUCCEED", "request_id": str(uuid.uuid4()), "data": data})


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> SimResponse:
    return answer({"code": code, "message": message, "request_id": str(uuid.uuid4())}, status, headers)
