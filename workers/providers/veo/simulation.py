"""Veo as the simulator plays it through CometAPI (providers.md §5a): multipart `POST /v1/videos`, the
OpenAI-style video object at `GET /v1/videos/{id}` and the bearer-protected MP4 at
`/v1/videos/{id}/content`; its declaration also carries the Gemini face, `simulation_gemini`."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from typing import Any

from workers.providers.compat import Upload
from workers.providers.simulation import wire
from workers.providers.simulation.engine import Simulator, SubmitFault
from workers.providers.simulation.files import file_chunks
from workers.providers.simulation.http import SimRequest, SimResponse, SimRoute, Simulation, answer
from workers.providers.simulation.timeline import Dwell, NewTask, Phase, TaskRecord
from workers.providers.veo import simulation_gemini

PROVIDER = simulation_gemini.PROVIDER
# Google: about 11 s at best, 6 min at peak (providers.md §5c).
DWELL = Dwell(submitted=(2.0, 10.0), processing=(30.0, 120.0))
ID_PREFIX = "task_"
DEFAULT_MODEL = "veo3-fast"
CLIP_SECONDS = "8"
ERRORS = {
    "fail": ("internal generation error", "generation_failed"),
    "moderation": (
        "The request was blocked by the safety system: the prompt may violate the content policy",
        "content_policy_violation",
    ),
}
# Each refusal of a create: HTTP status, error code, default message.
REFUSALS = {
    SubmitFault.RATE_LIMITED: (429, "rate_limit_exceeded", "Rate limit reached, please retry later"),
    SubmitFault.UNAVAILABLE: (503, "service_unavailable", "The upstream service is temporarily unavailable"),
    SubmitFault.REJECTED: (400, "invalid_request", "invalid request"),
}
STATUS = {Phase.QUEUED: "queued", Phase.RUNNING: "in_progress"}


def routes(sim: Simulator) -> list[SimRoute]:
    """CometAPI's routes, then Gemini's."""
    handlers = CometRoutes(sim)
    return [
        SimRoute("POST", "/v1/videos", handlers.create),
        SimRoute("GET", "/v1/videos/{video_id}", handlers.query),
        SimRoute("GET", "/v1/videos/{video_id}/content", handlers.content),
        *simulation_gemini.gemini_routes(sim),
    ]


SIMULATION = Simulation(dwell=DWELL, routes=routes)


def video_object(sim: Simulator, task: TaskRecord, now: float) -> dict[str, Any]:
    """The video object of a create and a query answer; timestamps in seconds."""
    phase = task.phase_at(now)
    body: dict[str, Any] = {
        "id": video_id(task),
        "task_id": video_id(task),
        "object": "video",
        "model": task.params["model"],
        "status": STATUS.get(phase, "completed" if task.result == "succeed" else "failed"),
        "progress": 0 if phase is Phase.QUEUED else simulation_gemini.running_percent(task, now),
        "seconds": "",
        "size": task.params["size"],
        "created_at": task.entered_ms(Phase.QUEUED) // 1000,
    }
    if phase is Phase.DONE:
        completed_at = task.entered_ms(Phase.DONE) // 1000
        body.update(progress=100, completed_at=completed_at)
        if task.result == "succeed":
            body.update(seconds=CLIP_SECONDS, expires_at=completed_at + int(sim.config.url_ttl_s))
        else:
            message, code = ERRORS.get(task.result, ERRORS["fail"])
            body["error"] = {"message": task.message or message, "code": task.code or code}
    return body


def video_id(task: TaskRecord) -> str:
    return f"{ID_PREFIX}{task.task_id}"


class CometRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def create(self, request: SimRequest) -> SimResponse:
        sim = self.sim
        await wire.latency(sim)
        sim.count_attempt(PROVIDER)
        refusal = self._refuse_create(request)
        if refusal is not None:
            return refusal
        if _multipart(request) and request.form is None:
            # A body the form parser refused: its reason in a bare `detail`, as the simulator's web
            # framework has always answered it, and not counted as a rejection.
            return answer({"detail": request.form_error or "malformed multipart body"}, 400)
        problem, task_request = _read_form(request)
        if task_request is None:
            sim.reject(PROVIDER, "invalid_params")
            return _error(400, problem)
        task = sim.create_task(task_request)
        await wire.stall(request, sim.draw_stall())
        return answer(video_object(sim, task, task.created_mono))

    async def query(self, request: SimRequest) -> SimResponse:
        video_id = request.path_params["video_id"]
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return _error(401, "Invalid token", "invalid_api_key")
        task = self.sim.lookup(PROVIDER, video_id.removeprefix(ID_PREFIX))
        if task is None or not video_id.startswith(ID_PREFIX) or task.params.get("flavour") != "cometapi":
            # new-api's TaskError, not the OpenAI envelope.
            return answer({"code": "task_not_exist", "message": "task_not_exist", "data": None}, 400)
        return answer(video_object(self.sim, task, time.monotonic()))

    async def content(self, request: SimRequest) -> SimResponse:
        video_id = request.path_params["video_id"]
        if not wire.authorized(self.sim, request):
            return _error(401, "Invalid token", "invalid_api_key")
        task = self.sim.task(video_id.removeprefix(ID_PREFIX))
        if task is None or task.params.get("flavour") != "cometapi":
            return _error(404, f"video {video_id} not found", "not_found")
        video = video_object(self.sim, task, time.monotonic())
        if video["status"] != "completed":
            return _error(400, f"video {video_id} is not ready (status {video['status']})", "video_not_ready")
        if time.time() > video["expires_at"]:
            return _error(404, f"video {video_id} has expired", "video_expired")
        if task.download_error is not None:
            return _error(403, task.download_error, "access_denied")
        return SimResponse(
            content=file_chunks(task.task_id, 0, task.file_size),
            media_type="video/mp4",
            headers={"Content-Length": str(task.file_size)},
        )

    def _refuse_create(self, request: SimRequest) -> SimResponse | None:
        if not wire.authorized(self.sim, request):
            self.sim.reject(PROVIDER, "unauthorized")
            return _error(401, "Invalid token", "invalid_api_key")
        refusal = self.sim.draw_submit_fault(PROVIDER)
        if refusal is None:
            return None
        status, code, text = REFUSALS[refusal.fault]
        headers = {"Retry-After": "1"} if status == 429 else None
        return _error(status, refusal.message or text, code, headers)


def _read_form(request: SimRequest) -> tuple[str, NewTask | None]:
    """The task a create asks for, or why CometAPI would answer 400."""
    if not _multipart(request):
        return "Content-Type must be multipart/form-data", None
    try:
        return "", _new_task(request.form or {}, request)
    except ValueError as exc:
        return str(exc) or "malformed multipart body", None


def _multipart(request: SimRequest) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


def _new_task(form: Mapping[str, Sequence[str | Upload]], request: SimRequest) -> NewTask:
    """The task a valid form asks for; ValueError says why CometAPI would answer 400."""
    prompt, size = _field(form, "prompt"), _field(form, "size") or "16x9"
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt is required")
    if size not in ("16x9", "9x16"):
        raise ValueError("size must be 16x9 or 9x16")
    references = form.get("input_reference", ())
    if len(references) > 2:
        raise ValueError("at most 2 input_reference images: the first and the last frame")
    digests = []
    for reference in references:
        if not isinstance(reference, Upload) or not (reference.content_type or "").startswith("image/"):
            raise ValueError("input_reference must be an image file")
        digests.append(hashlib.sha256(reference.data).hexdigest())
    params = {
        "flavour": "cometapi",
        "model": str(_field(form, "model") or DEFAULT_MODEL),
        "prompt": prompt,
        "size": size,
        "references": digests,
    }
    operation = "image_to_video" if references else "text_to_video"
    return NewTask(provider=PROVIDER, operation=operation, params=params, base_url=request.base_url)


def _field(form: Mapping[str, Sequence[str | Upload]], name: str) -> str | Upload | None:
    """A field's value; the last one when it is repeated, as a form's `get` reads it."""
    values = form.get(name)
    return values[-1] if values else None


def _error(
    status: int, message: str, code: str = "invalid_request", headers: dict[str, str] | None = None
) -> SimResponse:
    body = {"error": {"message": message, "type": "comet_api_error", "param": "", "code": code}}
    return answer(body, status, headers)
