"""Veo as CometAPI serves it (providers.md §5a): multipart `POST /v1/videos`, the OpenAI-style video
object at `GET /v1/videos/{id}` and the bearer-protected MP4 at `/v1/videos/{id}/content`; the
Gemini face lives in `workers.simulator.veo_gemini`.

Route order matters: Kling's vendor query `GET /v1/{family}/{name}/{task_ref}` also matches
`/v1/videos/{id}/content`, so this router must be included before Kling's."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.datastructures import FormData, UploadFile

from workers.providers.simulation import wire
from workers.providers.simulation.engine import Simulator, SubmitFault
from workers.providers.simulation.files import file_chunks
from workers.providers.simulation.timeline import Dwell, NewTask, Phase, TaskRecord
from workers.simulator import veo_gemini

PROVIDER = veo_gemini.PROVIDER
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
STATUS = {Phase.QUEUED: "queued", Phase.RUNNING: "in_progress"}


def router_factory(sim: Simulator) -> APIRouter:
    sim.add_provider(PROVIDER, DWELL)
    routes, router = CometRoutes(sim), APIRouter()
    router.add_api_route("/v1/videos", routes.create, methods=["POST"])
    router.add_api_route("/v1/videos/{video_id}", routes.query, methods=["GET"])
    router.add_api_route("/v1/videos/{video_id}/content", routes.content, methods=["GET"])
    router.include_router(veo_gemini.router_factory(sim))
    return router


def video_object(sim: Simulator, task: TaskRecord, now: float) -> dict[str, Any]:
    """The video object of a create and a query answer; timestamps in seconds."""
    phase = task.phase_at(now)
    body: dict[str, Any] = {
        "id": video_id(task),
        "task_id": video_id(task),
        "object": "video",
        "model": task.params["model"],
        "status": STATUS.get(phase, "completed" if task.result == "succeed" else "failed"),
        "progress": 0 if phase is Phase.QUEUED else veo_gemini.running_percent(task, now),
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
            message, code = ERRORS[task.result]
            body["error"] = {"message": task.message or message, "code": code}
    return body


def video_id(task: TaskRecord) -> str:
    return f"{ID_PREFIX}{task.task_id}"


class CometRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def create(self, request: Request) -> JSONResponse:
        sim = self.sim
        await wire.latency(sim)
        sim.count_attempt(PROVIDER)
        refusal = self._refuse_create(request)
        if refusal is not None:
            return refusal
        problem, task_request = await _read_form(request)
        if task_request is None:
            sim.reject(PROVIDER, "invalid_params")
            return _error(400, problem)
        task = sim.create_task(task_request)
        await wire.stall(request, sim.draw_stall())
        return JSONResponse(video_object(sim, task, task.created_mono))

    async def query(self, video_id: str, request: Request) -> JSONResponse:
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return _error(401, "Invalid token", "invalid_api_key")
        task = self.sim.lookup(PROVIDER, video_id.removeprefix(ID_PREFIX))
        if task is None or not video_id.startswith(ID_PREFIX) or task.params.get("flavour") != "cometapi":
            # new-api's TaskError, not the OpenAI envelope.
            return JSONResponse({"code": "task_not_exist", "message": "task_not_exist", "data": None}, 400)
        return JSONResponse(video_object(self.sim, task, time.monotonic()))

    async def content(self, video_id: str, request: Request) -> Response:
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
        return StreamingResponse(
            file_chunks(task.task_id, 0, task.file_size),
            media_type="video/mp4",
            headers={"Content-Length": str(task.file_size)},
        )

    def _refuse_create(self, request: Request) -> JSONResponse | None:
        if not wire.authorized(self.sim, request):
            self.sim.reject(PROVIDER, "unauthorized")
            return _error(401, "Invalid token", "invalid_api_key")
        fault = self.sim.draw_submit_fault(PROVIDER)
        if fault is SubmitFault.RATE_LIMITED:
            return _error(
                429, "Rate limit reached, please retry later", "rate_limit_exceeded", {"Retry-After": "1"}
            )
        if fault is SubmitFault.UNAVAILABLE:
            return _error(503, "The upstream service is temporarily unavailable", "service_unavailable")
        return None


async def _read_form(request: Request) -> tuple[str, NewTask | None]:
    """The task a create asks for, or why CometAPI would answer 400."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return "Content-Type must be multipart/form-data", None
    try:
        async with request.form() as form:
            return "", await _new_task(form, request)
    except (AssertionError, ValueError) as exc:  # starlette's complaints about a malformed body, and ours
        return str(exc) or "malformed multipart body", None


async def _new_task(form: FormData, request: Request) -> NewTask:
    """The task a valid form asks for; ValueError says why CometAPI would answer 400."""
    prompt, size = form.get("prompt"), form.get("size") or "16x9"
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt is required")
    if size not in ("16x9", "9x16"):
        raise ValueError("size must be 16x9 or 9x16")
    references = form.getlist("input_reference")
    if len(references) > 2:
        raise ValueError("at most 2 input_reference images: the first and the last frame")
    digests = []
    for reference in references:
        if not isinstance(reference, UploadFile) or not (reference.content_type or "").startswith("image/"):
            raise ValueError("input_reference must be an image file")
        digests.append(hashlib.sha256(await reference.read()).hexdigest())
    params = {
        "flavour": "cometapi",
        "model": str(form.get("model") or DEFAULT_MODEL),
        "prompt": prompt,
        "size": size,
        "references": digests,
    }
    operation = "image_to_video" if references else "text_to_video"
    return NewTask(provider=PROVIDER, operation=operation, params=params, base_url=str(request.base_url))


def _error(
    status: int, message: str, code: str = "invalid_request", headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": "comet_api_error", "param": "", "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)
