"""The simulated Runway routes: create (version header, auth, injected refusals, Runway's 400 naming
the field), query (bare, or wrapped on CometAPI's path) and cancel."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from workers.providers.runway.schemas import RUNWAY_VERSION, RunwayImageToVideoInput, RunwayTextToImageInput
from workers.providers.runway.schemas_video import (
    RunwayCharacterPerformanceWire,
    RunwayTextToVideoInput,
    RunwayVideoToVideoWire,
    RunwayVideoUpscaleWire,
)
from workers.providers.runway.simulation.org import PROVIDER, RunwayState
from workers.providers.runway.simulation.tasks import task_object, wrapped
from workers.providers.simulation import wire
from workers.providers.simulation.engine import Simulator, SubmitFault
from workers.providers.simulation.files import FILE_PATH, link_problem
from workers.providers.simulation.http import SimRequest, SimResponse, answer
from workers.providers.simulation.timeline import NewTask

INPUTS: Mapping[str, type[BaseModel]] = {
    "image_to_video": RunwayImageToVideoInput,
    "text_to_image": RunwayTextToImageInput,
    "text_to_video": RunwayTextToVideoInput,
    "video_to_video": RunwayVideoToVideoWire,
    "video_upscale": RunwayVideoUpscaleWire,
    "character_performance": RunwayCharacterPerformanceWire,
}
# Models that make one length only: any other `duration` is refused (Runway's 400 names the field).
FIXED_DURATIONS = {"veo3": 8}
# Where a body names a file Runway fetches before it accepts the task: (field, its `uri` inside).
ASSET_FIELDS = (("promptImage", None), ("videoUri", None), ("character", "uri"), ("reference", "uri"))
# Each refusal of a create: HTTP status, default message.
REFUSALS = {
    SubmitFault.RATE_LIMITED: (429, "You have exceeded your daily generation limit"),
    SubmitFault.UNAVAILABLE: (503, "Service is temporarily unavailable, please retry"),
    SubmitFault.REJECTED: (400, "Invalid request"),
}


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
        problem = "Request body must be a JSON object" if body is None else self._invalid(operation, body)
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

    def _invalid(self, operation: str, body: Mapping[str, Any]) -> str | None:
        """Why Runway would refuse this body (HTTP 400, naming the field), or None."""
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return "model: Required"
        for field, uri in _asset_uris(body):
            problem = link_problem(self.sim, uri)
            if problem is not None:  # Runway fetches each input first and refuses what it cannot read
                return f"{field}: the asset could not be fetched ({problem})"
        try:
            INPUTS[operation].model_validate(
                {k: v for k, v in _own_links_as_https(body).items() if k != "model"}
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            name = ".".join(str(part) for part in error["loc"]) or "body"
            return f"{name}: {'Required' if error['type'] == 'missing' else error['msg']}"
        fixed = FIXED_DURATIONS.get(model)
        if fixed is not None and body.get("duration", fixed) != fixed:
            return f"duration: {model} makes {fixed}-second videos only"
        return None


def _asset_uris(body: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, URI) of each file the body names that Runway would fetch."""
    for field, inner in ASSET_FIELDS:
        value = body.get(field)
        uri = value.get(inner) if inner and isinstance(value, dict) else value
        if isinstance(uri, str):
            yield field, uri


def _own_links_as_https(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body with links to the simulator's own files as HTTPS: it stands in for Runway's CDN, which
    serves them so, though a test's simulator listens on plain HTTP."""
    fixed = dict(body)
    for field, inner in ASSET_FIELDS:
        value = fixed.get(field)
        uri = value.get(inner) if inner and isinstance(value, dict) else value
        if isinstance(uri, str) and uri.startswith("http://") and FILE_PATH.search(urlsplit(uri).path):
            secure = "https://" + uri.removeprefix("http://")
            fixed[field] = {**value, inner: secure} if inner and isinstance(value, dict) else secure
    return fixed


def _via_cometapi(request: SimRequest) -> bool:
    return request.path.startswith("/runwayml/")


def _not_found(request: SimRequest) -> SimResponse:
    if _via_cometapi(request):  # new-api's answer for an id it does not know (yet)
        return answer({"code": "task_not_exist", "message": "task_not_exist", "data": None}, 404)
    return _error(404, "Task not found")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> SimResponse:
    return answer({"error": message}, status, headers)
