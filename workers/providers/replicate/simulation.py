"""Replicate as the simulator plays it (providers-more.md §4, §7), under `/v1` and CometAPI's
`/replicate/v1`: predictions created on the official-model route or by version, `Prefer: wait[=N]` holding
the create, `Cancel-After` ending one as `aborted` (not started) or `canceled` (running), the cancel
route, outputs as a URL, a list of URLs or a list of text growing while it runs, `data_removed` and dead
links after the retention window (`url_ttl_s`), Standard-Webhooks-signed webhooks honouring
`webhook_events_filter`, RFC 7807 problems and the 429's `detail`. `urls` point at api.replicate.com, as
CometAPI passes them through."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from standardwebhooks import Webhook

from workers.providers.replicate.catalog import MODELS, VERSIONS, Output
from workers.providers.replicate.routes import PREFER_WAIT
from workers.providers.simulation import wire
from workers.providers.simulation.callbacks import CallbackBody, SignedBody
from workers.providers.simulation.engine import Simulator, SubmitFault
from workers.providers.simulation.files import signature
from workers.providers.simulation.http import SimRequest, SimResponse, SimRoute, Simulation, answer
from workers.providers.simulation.timeline import Dwell, NewTask, Phase, Result, TaskRecord

PROVIDER = "replicate"
DWELL = Dwell(submitted=(0.5, 3.0), processing=(2.0, 20.0))  # images in seconds (§4.8)
PREFIXES = ("", "/replicate")
ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Replicate's ids: 26 characters of base32
TOKENS = ("A", "paper", "boat", "drifts", "across", "a", "still", "lake", "at", "dawn", ".")
MODERATION = "NSFW content detected. Try running it again, or try a different prompt."
FAILURE = "Prediction failed: CUDA out of memory."
WEBHOOK_RETRIES, WEBHOOK_RETRY_S = 2, 0.5  # Replicate's schedule is unpublished [M]: short, for tests
REFUSALS = {
    SubmitFault.RATE_LIMITED: (
        429,
        "Too many requests",
        "Request was throttled. Your rate limit resets in ~30s.",
    ),
    SubmitFault.UNAVAILABLE: (503, "Service unavailable", "The service is temporarily unavailable."),
    SubmitFault.REJECTED: (422, "Input validation failed", "- input: the input is not valid"),
}


def prediction_id(task_id: str) -> str:
    """Replicate's 26-character base32 id for a simulator task (its 18 digits, encoded)."""
    number, chars = int(task_id), []
    for _ in range(26):
        number, digit = divmod(number, 32)
        chars.append(ID_ALPHABET[digit])
    return "".join(reversed(chars))


def task_id_of(ref: str) -> str | None:
    number = 0
    for char in ref:
        if char not in ID_ALPHABET:
            return None
        number = number * 32 + ID_ALPHABET.index(char)
    return str(number) if len(ref) == 26 else None


def webhook_secret(sim: Simulator) -> str:
    """The simulated account's webhook signing secret (`GET /v1/webhooks/default/secret`)."""
    return "whsec_" + base64.b64encode(sim.file_secret).decode()


def status_at(task: TaskRecord, phase: Phase) -> str:
    if phase is Phase.QUEUED:
        return "starting"
    if phase is Phase.RUNNING:
        return "processing"
    return {"succeed": "succeeded", "cancelled": "canceled", "expired": "aborted"}.get(task.result, "failed")


def file_url(sim: Simulator, task: TaskRecord, index: int, kind: str) -> str:
    """A result link that dies when the retention window closes (`url_ttl_s` after the task ended)."""
    expires = int(task.created_wall + task.submitted_s + task.processing_s + sim.config.url_ttl_s)
    query = urlencode({"expires": expires, "sig": signature(sim.file_secret, task.task_id, index, expires)})
    return f"{task.base_url.rstrip('/')}/_sim/files/{task.task_id}/{index}.{kind}?{query}"


def output_at(sim: Simulator, task: TaskRecord, phase: Phase, now: float) -> Any:
    offer = MODELS[str(task.params["model"])]
    if offer.output is Output.ITERATOR:
        if phase is Phase.QUEUED:
            return None
        done = 1.0 if phase is Phase.DONE else (now - task.entered_mono(Phase.RUNNING)) / task.processing_s
        return TOKENS[: max(1, int(len(TOKENS) * min(1.0, done)))]
    if status_at(task, phase) != "succeeded":
        return None
    if offer.output is Output.FILE:
        return file_url(sim, task, 0, offer.kind)
    count = task.params.get("input", {}).get("num_outputs", 1)
    count = count if isinstance(count, int) and 1 <= count <= 4 else 1
    return [file_url(sim, task, n, offer.kind) for n in range(count)]


def iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def prediction(sim: Simulator, task: TaskRecord, phase: Phase, now: float | None = None) -> dict[str, Any]:
    now = time.monotonic() if now is None else now
    status, ref = status_at(task, phase), prediction_id(task.task_id)
    ended = phase is Phase.DONE
    removed = (
        ended
        and time.time() > task.created_wall + task.submitted_s + task.processing_s + sim.config.url_ttl_s
    )
    model = str(task.params["model"])
    body: dict[str, Any] = {
        "id": ref,
        "model": model,
        "version": MODELS[model].version or "hidden",
        "input": {} if removed else task.params.get("input", {}),
        "logs": "" if removed else _logs(task, phase, now),
        "output": None if removed else output_at(sim, task, phase, now),
        "data_removed": removed,
        "error": (task.message or (MODERATION if task.result == "moderation" else FAILURE))
        if status == "failed"
        else None,
        "source": "api",
        "status": status,
        "created_at": iso(task.created_wall),
        "urls": {
            "get": f"https://api.replicate.com/v1/predictions/{ref}",
            "cancel": f"https://api.replicate.com/v1/predictions/{ref}/cancel",
            "web": f"https://replicate.com/p/{ref}",
        },
    }
    if phase is not Phase.QUEUED and task.processing_s > 0:
        body["started_at"] = iso(task.entered_ms(Phase.RUNNING) / 1000)
    if ended:
        body["completed_at"] = iso(task.entered_ms(Phase.DONE) / 1000)
        if status == "succeeded":
            body["metrics"] = {"predict_time": round(task.processing_s, 3)}
    return body


def _logs(task: TaskRecord, phase: Phase, now: float) -> str:
    if phase is Phase.QUEUED:
        return ""
    done = 1.0 if phase is Phase.DONE else (now - task.entered_mono(Phase.RUNNING)) / task.processing_s
    percent = int(100 * min(1.0, max(0.0, done)))
    return f"Using seed: 42\n{percent}%|{'█' * (percent // 10)}| {percent // 25}/4 [00:01<00:01]\n"


def routes(sim: Simulator) -> list[SimRoute]:
    handlers = ReplicateRoutes(sim)
    declared = []
    for prefix in PREFIXES:
        declared += [
            SimRoute("POST", f"{prefix}/v1/models/{{owner}}/{{name}}/predictions", handlers.create_for_model),
            SimRoute("POST", f"{prefix}/v1/predictions", handlers.create_for_version),
            SimRoute("GET", f"{prefix}/v1/predictions/{{prediction_id}}", handlers.query),
            SimRoute("POST", f"{prefix}/v1/predictions/{{prediction_id}}/cancel", handlers.cancel),
            SimRoute("GET", f"{prefix}/v1/webhooks/default/secret", handlers.secret),
        ]
    return declared


SIMULATION = Simulation(dwell=DWELL, routes=routes)


class ReplicateRoutes:
    """The route handlers, bound to one simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def create_for_model(self, request: SimRequest) -> SimResponse:
        model = f"{request.path_params['owner']}/{request.path_params['name']}"
        offer = MODELS.get(model)
        if offer is None or offer.version is not None:
            return problem(404, "Not found", "The requested resource could not be found.")
        return await self._create(request, model)

    async def create_for_version(self, request: SimRequest) -> SimResponse:
        body = await wire.json_object(request) or {}
        version = str(body.get("version", "")).rpartition(":")[2]
        if version not in VERSIONS:
            return problem(
                422,
                "Invalid version or not permitted",
                "The specified version does not exist (or perhaps you don't have permission to use it?)",
            )
        return await self._create(request, VERSIONS[version])

    async def _create(self, request: SimRequest, model: str) -> SimResponse:
        sim = self.sim
        await wire.latency(sim)
        sim.count_attempt(PROVIDER)
        if not wire.authorized(sim, request):
            sim.reject(PROVIDER, "unauthorized")
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        refusal = sim.draw_submit_fault(PROVIDER)
        if refusal is not None:
            status, title, detail = REFUSALS[refusal.fault]
            return problem(status, title, refusal.message or detail)
        body = await wire.json_object(request) or {}
        if not isinstance(body.get("input"), dict):
            sim.reject(PROVIDER, "invalid_params")
            return problem(422, "Input validation failed", "- input: input is required")
        events = body.get("webhook_events_filter") or ["start", "output", "logs", "completed"]
        params = {"model": model, "input": body["input"], "events": list(events)}
        webhook = body.get("webhook") if isinstance(body.get("webhook"), str) else None
        task = sim.create_task(
            NewTask(PROVIDER, "predict", params, request.base_url, callback_url=webhook), render=self._webhook
        )
        self._cancel_after(task, request.headers.get("cancel-after", ""))
        await wire.stall(request, sim.draw_stall())
        await self._hold(request, task)
        return answer(prediction(sim, self._current(task), self._phase(task)), 201)

    async def query(self, request: SimRequest) -> SimResponse:
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        task_id = task_id_of(request.path_params["prediction_id"])
        task = self.sim.lookup(PROVIDER, task_id) if task_id else None
        if task is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        return answer(prediction(self.sim, task, self._phase(task)))

    async def cancel(self, request: SimRequest) -> SimResponse:
        """A starting or processing prediction ends `canceled`; an ended one is answered as it is."""
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        task_id = task_id_of(request.path_params["prediction_id"])
        task = self.sim.task(task_id) if task_id else None
        if task is None or task.provider != PROVIDER:
            return problem(404, "Not found", "The requested resource could not be found.")
        ended = self.sim.end(task.task_id, "cancelled", render=self._webhook) or self._current(task)
        return answer(prediction(self.sim, ended, self._phase(ended)))

    async def secret(self, request: SimRequest) -> SimResponse:
        if not wire.authorized(self.sim, request):
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        return answer({"key": webhook_secret(self.sim)})

    def _current(self, task: TaskRecord) -> TaskRecord:
        return self.sim.task(task.task_id) or task

    @staticmethod
    def _phase(task: TaskRecord) -> Phase:
        return task.phase_at(time.monotonic())

    async def _hold(self, request: SimRequest, task: TaskRecord) -> None:
        """`Prefer: wait[=N]`: hold the answer until the prediction ends or N seconds pass."""
        found = next(
            (PREFER_WAIT.match(t.strip()) for t in request.headers.get("prefer", "").split(",")), None
        )
        if found is None:
            return
        deadline = time.monotonic() + min(60, int(found[1] or 60))
        while time.monotonic() < deadline and not await request.is_disconnected():
            if self._phase(self._current(task)) is Phase.DONE:
                return
            await asyncio.sleep(wire.POLL_DISCONNECT_S)

    def _cancel_after(self, task: TaskRecord, header: str) -> None:
        """`Cancel-After: Ns|Nm|Nh`: at the deadline, a prediction not started is aborted, a running one
        canceled (one that ended first keeps its end)."""
        units = {"s": 1, "m": 60, "h": 3600}
        if len(header) < 2 or header[-1] not in units or not header[:-1].isdigit():
            return
        seconds = int(header[:-1]) * units[header[-1]]

        def fire() -> None:
            current = self._current(task)
            result: Result = "expired" if self._phase(current) is Phase.QUEUED else "cancelled"
            self.sim.end(task.task_id, result, render=self._webhook)

        asyncio.get_running_loop().call_later(seconds, fire)

    def _webhook(self, task: TaskRecord, phase: Phase) -> CallbackBody:
        """A webhook, only for the events the create asked for, signed as Replicate signs."""
        event = {Phase.QUEUED: None, Phase.RUNNING: "start", Phase.DONE: "completed"}[phase]
        events = task.params.get("events", [])
        if event is None or (event not in events and not (event == "completed" and "output" in events)):
            return None
        content = json.dumps(prediction(self.sim, task, phase)).encode()
        message_id, now = f"msg_{secrets.token_hex(12)}", datetime.now(UTC)
        signed = Webhook(webhook_secret(self.sim)).sign(message_id, now, content.decode())
        headers = {"content-type": "application/json", "webhook-id": message_id}
        headers |= {"webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signed}
        # Not answered 2xx: sent again, the same message (`webhook-id`) each time (§4.4).
        return SignedBody(content, headers, retries=WEBHOOK_RETRIES, retry_after_s=WEBHOOK_RETRY_S)


def problem(status: int, title: str, detail: str) -> SimResponse:
    return answer({"title": title, "status": status, "detail": detail}, status)
