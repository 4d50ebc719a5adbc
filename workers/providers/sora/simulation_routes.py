"""The simulated Sora's route handlers: create (JSON or multipart), the follow-ups on a completed video
(remix, extensions, edits), the video object, DELETE and `/content`, in OpenAI's error envelope."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from workers.providers.compat import Upload
from workers.providers.simulation import wire
from workers.providers.simulation.engine import Simulator, SubmitFault
from workers.providers.simulation.files import file_chunks
from workers.providers.simulation.http import SimRequest, SimResponse, answer
from workers.providers.simulation.timeline import NewTask, TaskRecord
from workers.providers.sora.offers import DEFAULT_SECONDS, DEFAULT_SIZE, MODELS, SECONDS, SIZES, SORA_2
from workers.providers.sora.simulation_video import (
    ID_PREFIX,
    POLL_AFTER_MS,
    PROVIDER,
    VARIANTS,
    create_fields,
    error,
    status_of,
    video_object,
)

REFUSALS = {
    SubmitFault.RATE_LIMITED: (429, "rate_limit_exceeded", "Rate limit reached for requests"),
    SubmitFault.UNAVAILABLE: (503, "server_overloaded", "The server is overloaded, please retry later"),
    SubmitFault.REJECTED: (400, "invalid_request", "invalid request"),
}


class RefusedError(ValueError):
    """A create OpenAI would answer 400, with the field it names."""

    def __init__(self, message: str, param: str | None = None, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.param, self.code = param, code


def _error(status: int, message: str, code: str, param: str | None = None, **headers: str) -> SimResponse:
    return answer(error(status, message, code, param), status, headers or None)


class SoraRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def create(self, request: SimRequest) -> SimResponse:
        return await self._create(request, "create")

    async def remix(self, request: SimRequest) -> SimResponse:
        return await self._create(request, "remix")

    async def extend(self, request: SimRequest) -> SimResponse:
        return await self._create(request, "extend")

    async def edit(self, request: SimRequest) -> SimResponse:
        return await self._create(request, "edit")

    async def _create(self, request: SimRequest, kind: str) -> SimResponse:
        sim = self.sim
        await wire.latency(sim)
        sim.count_attempt(PROVIDER)
        refusal = self._refuse(request)
        if refusal is not None:
            return refusal
        if request.form is None and request.form_error is not None:
            sim.reject(PROVIDER, "invalid_params")
            return _error(400, request.form_error, "invalid_multipart")
        fields = create_fields(request)
        try:
            params = self._params(kind, fields, request.path_params.get("video_id"))
        except RefusedError as exc:
            sim.reject(PROVIDER, exc.code)
            status = 404 if exc.code in ("model_not_found", "video_not_found") else 400
            return _error(status, str(exc), exc.code, exc.param)
        operation = {"create": "image_to_video" if params["reference"] else "text_to_video"}.get(kind, kind)
        task = sim.create_task(NewTask(PROVIDER, operation, params, request.base_url))
        await wire.stall(request, sim.draw_stall())
        return answer(
            video_object(sim, task, task.created_mono), headers={"openai-poll-after-ms": POLL_AFTER_MS}
        )

    def _refuse(self, request: SimRequest) -> SimResponse | None:
        if not wire.authorized(self.sim, request):
            self.sim.reject(PROVIDER, "unauthorized")
            return _error(401, "Incorrect API key provided", "invalid_api_key")
        refusal = self.sim.draw_submit_fault(PROVIDER)
        if refusal is None:
            return None
        status, code, text = REFUSALS[refusal.fault]
        headers = {"retry-after": "1"} if status == 429 else {}
        return _error(status, refusal.message or text, code, **headers)

    def _params(self, kind: str, fields: Mapping[str, Any], parent_id: str | None) -> dict[str, Any]:
        prompt = fields.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise RefusedError(
                "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
            )
        if kind == "create":
            return {"prompt": prompt, "reference": _reference(fields), **self._clip(fields)}
        parent = self._parent(parent_id if kind == "remix" else _video_ref(fields))
        params = dict(parent.params, prompt=prompt, reference=False, parent=parent.task_id)
        self._check_model(str(params["model"]))
        if kind == "remix":
            params["remixed_from"] = f"{ID_PREFIX}{parent.task_id}"
        if kind == "extend":
            added = str(fields.get("seconds") or DEFAULT_SECONDS)
            if added not in SECONDS:
                raise RefusedError(
                    f"Invalid seconds {added!r}: expected one of {', '.join(SECONDS)}.", "seconds"
                )
            params["seconds"] = str(int(parent.params["seconds"]) + int(added))
        return params

    def _clip(self, fields: Mapping[str, Any]) -> dict[str, str]:
        model = str(fields.get("model") or "sora-2")
        self._check_model(model)
        seconds, size = str(fields.get("seconds") or DEFAULT_SECONDS), str(fields.get("size") or DEFAULT_SIZE)
        if seconds not in SECONDS:
            raise RefusedError(
                f"Invalid seconds {seconds!r}: expected one of {', '.join(SECONDS)}.", "seconds"
            )
        sizes = SIZES[MODELS.get(model, SORA_2)]
        if size not in sizes:
            raise RefusedError(
                f"Invalid size {size!r} for {model}: expected one of {', '.join(sizes)}.", "size"
            )
        return {"model": model, "seconds": seconds, "size": size}

    def _check_model(self, model: str) -> None:
        # Another id plays sora-2 (a gateway's alias); a retired one is gone, as OpenAI's after its shutdown.
        if self.sim.config.retired(model):
            message = f"The model `{model}` does not exist or you do not have access to it."
            raise RefusedError(message, "model", "model_not_found")

    def _parent(self, video_id: str | None) -> TaskRecord:
        task = self.sim.task(video_id.removeprefix(ID_PREFIX)) if video_id else None
        if video_id is None or task is None or task.provider != PROVIDER:
            raise RefusedError(f"Video {video_id!r} not found.", "video", "video_not_found")
        if status_of(task, time.monotonic()) != "completed":
            raise RefusedError(f"Video {video_id} is not completed.", "video", "video_not_ready")
        return task

    async def query(self, request: SimRequest) -> SimResponse:
        video_id = request.path_params["video_id"]
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return _error(401, "Incorrect API key provided", "invalid_api_key")
        task = self.sim.lookup(PROVIDER, video_id.removeprefix(ID_PREFIX))
        if task is None:
            return _error(404, f"Video {video_id!r} not found.", "video_not_found")
        video = video_object(self.sim, task)
        unfinished = video["status"] in ("queued", "in_progress")
        return answer(video, headers={"openai-poll-after-ms": POLL_AFTER_MS} if unfinished else None)

    async def delete(self, request: SimRequest) -> SimResponse:
        video_id = request.path_params["video_id"]
        if not wire.authorized(self.sim, request):
            return _error(401, "Incorrect API key provided", "invalid_api_key")
        task = self.sim.task(video_id.removeprefix(ID_PREFIX))
        if task is None or task.provider != PROVIDER:
            return _error(404, f"Video {video_id!r} not found.", "video_not_found")
        self.sim.delete(task.task_id)
        return answer({"id": video_id, "object": "video.deleted", "deleted": True})

    async def content(self, request: SimRequest) -> SimResponse:
        video_id = request.path_params["video_id"]
        if not wire.authorized(self.sim, request):
            return _error(401, "Incorrect API key provided", "invalid_api_key")
        variant = request.query_params.get("variant") or "video"
        if variant not in VARIANTS:
            return _error(400, f"Invalid variant {variant!r}.", "invalid_value", "variant")
        task = self._downloadable(video_id)
        if isinstance(task, SimResponse):
            return task
        index, kind = VARIANTS[variant]
        media = {"mp4": "video/mp4", "webp": "image/webp", "jpeg": "image/jpeg"}[kind]
        return SimResponse(
            content=file_chunks(task.task_id, index, task.file_size, kind),
            media_type=media,
            headers={"Content-Length": str(task.file_size)},
        )

    def _downloadable(self, video_id: str) -> TaskRecord | SimResponse:
        """The task whose files may be downloaded now, or the error OpenAI answers instead."""
        task = self.sim.task(video_id.removeprefix(ID_PREFIX))
        if task is None or task.provider != PROVIDER:
            return _error(404, f"Video {video_id!r} not found.", "video_not_found")
        video = video_object(self.sim, task)
        if video["status"] != "completed":
            return _error(
                400, f"Video {video_id} is not ready (status {video['status']}).", "video_not_ready"
            )
        if time.time() > video["expires_at"]:
            return _error(404, f"Video {video_id} has expired.", "video_expired")
        if task.download_error is not None:
            return _error(403, task.download_error, "access_denied")
        return task


def _reference(fields: Mapping[str, Any]) -> bool:
    """Whether the create names a first frame: a file, or exactly one of `image_url` and `file_id`."""
    reference = fields.get("input_reference")
    if reference is None or reference == "":
        return False
    if isinstance(reference, Upload):
        if not (reference.content_type or "").startswith("image/") or not reference.data:
            raise RefusedError("input_reference must be an image file.", "input_reference")
        return True
    if isinstance(reference, dict):
        given = [key for key in ("image_url", "file_id") if reference.get(key)]
        if len(given) != 1 or set(reference) - {"image_url", "file_id"}:
            raise RefusedError(
                "input_reference takes exactly one of image_url and file_id.", "input_reference"
            )
        return True
    raise RefusedError("input_reference must be a file or an object with image_url.", "input_reference")


def _video_ref(fields: Mapping[str, Any]) -> str | None:
    """The video an extension or an edit acts on: `video[id]` in a form, `{"video": {"id"}}` in JSON."""
    video = fields.get("video")
    if isinstance(video, dict) and isinstance(video.get("id"), str):
        return str(video["id"])
    raise RefusedError(
        "Missing required parameter: 'video' (an object with id).", "video", "missing_required_parameter"
    )
