"""Veo as the simulator plays Google's Gemini API (providers.md §5b): `:predictLongRunning`, the
operation it returns, and the key-protected file download; also as a proxy under `/gemini-proxy` that
names operations `operations/<id>`, drops the `generateVideoResponse` wrapper and adds progressPercent."""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Mapping
from typing import Any

from workers.providers.simulation import wire
from workers.providers.simulation.engine import Simulator, SubmitFault
from workers.providers.simulation.files import signed_url
from workers.providers.simulation.http import SimRequest, SimResponse, SimRoute, answer, redirect
from workers.providers.simulation.timeline import NewTask, Phase, TaskRecord
from workers.providers.veo.schemas import GEMINI_MODELS

PROVIDER = "veo"
PROXY_PREFIX = "/gemini-proxy"
RESPONSE_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
RAI_REASON = (
    "Unable to generate videos because the prompt may violate Google's Responsible AI practices. "
    "Try rephrasing the prompt."
)
DURATIONS = {"veo-2.0-generate-001": (5, 6, 7, 8)}  # every Veo 3 model: 4, 6 or 8 seconds
# Each refusal of a create: HTTP status (the error's status follows from it), default message.
REFUSALS = {
    SubmitFault.RATE_LIMITED: (429, "Resource has been exhausted (e.g. check quota)."),
    SubmitFault.UNAVAILABLE: (503, "The service is currently unavailable."),
    SubmitFault.REJECTED: (400, "Request contains an invalid argument."),
}
STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}


def running_percent(task: TaskRecord, now: float) -> int:
    """How far a running task is, 1..99, by the share of its processing time that has passed."""
    share = (now - task.entered_mono(Phase.RUNNING)) / task.processing_s if task.processing_s else 1.0
    return max(1, min(99, int(1 + 98 * share)))


def gemini_routes(sim: Simulator) -> list[SimRoute]:
    """The Gemini routes, on Google's paths and under the proxy prefix (declared with CometAPI's in
    `workers.providers.veo.simulation`)."""
    handlers = GeminiRoutes(sim)
    return [
        route
        for prefix in ("", PROXY_PREFIX)
        for route in (
            SimRoute("POST", f"{prefix}/v1beta/models/{{model}}:predictLongRunning", handlers.create),
            SimRoute("GET", f"{prefix}/v1beta/models/{{model}}/operations/{{op_id}}", handlers.query),
            SimRoute("GET", f"{prefix}/v1beta/operations/{{op_id}}", handlers.query),
            SimRoute("GET", f"{prefix}/v1beta/files/{{file_id}}:download", handlers.download),
        )
    ]


class GeminiRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def create(self, request: SimRequest) -> SimResponse:
        model = request.path_params["model"]
        sim = self.sim
        await wire.latency(sim)
        sim.count_attempt(PROVIDER)
        refusal = self._refuse_create(request)
        if refusal is not None:
            return refusal
        if model not in GEMINI_MODELS:
            sim.reject(PROVIDER, "unknown_model")
            return _error(404, f"models/{model} is not found for API version v1beta")
        body = await wire.json_object(request)
        problem = _invalid(model, body) if body is not None else "Invalid JSON payload received."
        if body is None or problem is not None:
            sim.reject(PROVIDER, "invalid_params")
            return _error(400, problem or "invalid request")
        task = sim.create_task(_new_task(model, body, request))
        await wire.stall(request, sim.draw_stall())
        return answer({"name": _name(task, _proxied(request))})

    async def query(self, request: SimRequest) -> SimResponse:
        op_id = request.path_params["op_id"]
        # The short route reads the model from the query string, as its framework route did.
        model = request.path_params.get("model", request.query_params.get("model"))
        await wire.latency(self.sim)
        if not _authorized(self.sim, request):
            return _error(403, "Method doesn't allow unregistered callers. Please use API Key.")
        task = self.sim.lookup(PROVIDER, op_id)
        if (
            task is None
            or task.params.get("flavour") != "gemini"
            or model not in (None, task.params["model"])
        ):
            return _error(404, "Operation not found")
        return answer(self.operation(task, request))

    async def download(self, request: SimRequest) -> SimResponse:
        file_id, alt = request.path_params["file_id"], request.query_params.get("alt", "")
        if not _authorized(self.sim, request):
            return _error(403, "Method doesn't allow unregistered callers. Please use API Key.")
        task = self.sim.task(file_id.removeprefix("v"))
        done = task is not None and task.phase_at(time.monotonic()) is Phase.DONE
        if task is None or not done or task.result != "succeed" or task.params.get("flavour") != "gemini":
            return _error(404, f"File {file_id} not found")
        if alt != "media":
            return _error(400, "Use alt=media to download the file's content")
        # Google hands the bytes over from a storage host: a redirect to an expiring link.
        return redirect(signed_url(self.sim, request.base_url, task.task_id, 0))

    def operation(self, task: TaskRecord, request: SimRequest) -> dict[str, Any]:
        now, proxied = time.monotonic(), _proxied(request)
        phase = task.phase_at(now)
        body: dict[str, Any] = {"name": _name(task, proxied)}
        if phase is Phase.RUNNING:
            body["done"] = False  # absent while queued: both shapes occur
            if proxied:
                body["metadata"] = {"progressPercent": running_percent(task, now)}
        if phase is not Phase.DONE:
            return body
        body["done"] = True
        if task.result not in ("succeed", "moderation"):  # a failure, or an ending it has no word for
            body["error"] = {
                "code": 13,
                "message": task.message or "internal generation error",
                "status": task.code or "INTERNAL",
            }
            return body
        videos = _videos(task, request.base_url.rstrip("/") + (PROXY_PREFIX if proxied else ""))
        body["response"] = (
            {"@type": RESPONSE_TYPE, **videos}
            if proxied
            else {"@type": RESPONSE_TYPE, "generateVideoResponse": videos}
        )
        return body

    def _refuse_create(self, request: SimRequest) -> SimResponse | None:
        if not _authorized(self.sim, request):
            self.sim.reject(PROVIDER, "unauthorized")
            if request.headers.get("x-goog-api-key") or request.query_params.get("key"):
                return _error(400, "API key not valid. Please pass a valid API key.")
            return _error(403, "Method doesn't allow unregistered callers. Please use API Key.")
        refusal = self.sim.draw_submit_fault(PROVIDER)
        if refusal is None:
            return None
        status, text = REFUSALS[refusal.fault]
        return _error(status, refusal.message or text, {"Retry-After": "1"} if status == 429 else None)


def _videos(task: TaskRecord, base: str) -> dict[str, Any]:
    if task.result == "moderation":
        reasons = [task.message or RAI_REASON]
        return {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": reasons}
    uri = f"{base}/v1beta/files/v{task.task_id}:download?alt=media"
    return {"generatedSamples": [{"video": {"uri": uri}}]}


def _authorized(sim: Simulator, request: SimRequest) -> bool:
    if request.query_params.get("key") == sim.config.api_key:
        return True
    return wire.authorized(sim, request, header="x-goog-api-key", scheme="")


def _proxied(request: SimRequest) -> bool:
    return request.path.startswith(PROXY_PREFIX)


def _name(task: TaskRecord, proxied: bool) -> str:
    return (
        f"operations/{task.task_id}"
        if proxied
        else f"models/{task.params['model']}/operations/{task.task_id}"
    )


def _invalid(model: str, body: Mapping[str, Any]) -> str | None:
    """Why Google would answer 400 INVALID_ARGUMENT, or None."""
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        return "instances must hold exactly one instance"
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        return "parameters must be an object"
    return _invalid_instance(instances[0]) or _invalid_parameters(
        model, parameters, "lastFrame" in instances[0]
    )


def _invalid_instance(instance: Mapping[str, Any]) -> str | None:
    if not isinstance(instance.get("prompt"), str) or not instance["prompt"].strip():
        return "instances[0].prompt is required"
    for key in ("image", "lastFrame"):
        if key in instance and _image_bytes(instance[key]) is None:
            return f"instances[0].{key} must carry bytesBase64Encoded (or inlineData) and a mimeType"
    if "lastFrame" in instance and "image" not in instance:
        return "lastFrame needs image (the first frame)"
    return None


def _invalid_parameters(model: str, parameters: Mapping[str, Any], last_frame: bool) -> str | None:
    if parameters.get("aspectRatio", "16:9") not in ("16:9", "9:16"):
        return "aspectRatio must be 16:9 or 9:16"
    allowed = (8,) if last_frame else DURATIONS.get(model, (4, 6, 8))
    if parameters.get("durationSeconds", 8) not in allowed:
        return f"durationSeconds must be one of {list(allowed)} for {model}"
    if parameters.get("resolution", "720p") not in ("720p", "1080p"):
        return "resolution must be 720p or 1080p"
    if parameters.get("personGeneration", "allow_adult") not in ("allow_all", "allow_adult", "dont_allow"):
        return "personGeneration must be allow_all, allow_adult or dont_allow"
    return None


def _image_bytes(image: Any) -> bytes | None:
    if not isinstance(image, dict):
        return None
    nested = image.get("inlineData")
    inline: dict[str, Any] = nested if isinstance(nested, dict) else image
    data = inline.get("bytesBase64Encoded") or inline.get("data")
    mime = inline.get("mimeType") or image.get("mimeType")
    if not isinstance(data, str) or not isinstance(mime, str) or not mime.startswith("image/"):
        return None
    try:
        return base64.b64decode(data, validate=True) or None
    except binascii.Error:
        return None


def _new_task(model: str, body: Mapping[str, Any], request: SimRequest) -> NewTask:
    instance, parameters = body["instances"][0], body.get("parameters") or {}
    frames = [_image_bytes(instance[key]) or b"" for key in ("image", "lastFrame") if key in instance]
    params = {
        "flavour": "gemini",
        "model": model,
        "prompt": instance["prompt"],
        "references": [hashlib.sha256(frame).hexdigest() for frame in frames],
        **parameters,
    }
    operation = "image_to_video" if frames else "text_to_video"
    return NewTask(provider=PROVIDER, operation=operation, params=params, base_url=request.base_url)


def _error(code: int, message: str, headers: dict[str, str] | None = None) -> SimResponse:
    body = {"error": {"code": code, "message": message, "status": STATUS.get(code, "UNAVAILABLE")}}
    return answer(body, code, headers)
