"""Replicate as the simulator plays it (providers-more.md §4, §7), under `/v1` and CometAPI's
`/replicate/v1`: predictions created on the official-model route or by version, `Prefer: wait[=N]` holding
the create, `Cancel-After` ending one as `aborted` (not started) or `canceled` (running), the cancel
route, outputs as a URL, a list of URLs or a list of text growing while it runs, `data_removed` and dead
links after the retention window (`url_ttl_s`), Standard-Webhooks-signed webhooks honouring
`webhook_events_filter`, RFC 7807 problems and the 429's `detail`. `urls` point at api.replicate.com, as
CometAPI passes them through."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from datetime import UTC, datetime

from standardwebhooks import Webhook

from workers.providers.replicate.catalog import MODELS, VERSIONS
from workers.providers.replicate.routes import PREFER_WAIT
from workers.providers.replicate.simulated import prediction, task_id_of, webhook_secret
from workers.providers.simulation import wire
from workers.providers.simulation.callbacks import CallbackBody, SignedBody
from workers.providers.simulation.engine import Simulator, SubmitFault
from workers.providers.simulation.http import SimRequest, SimResponse, SimRoute, Simulation, answer
from workers.providers.simulation.timeline import Dwell, NewTask, Phase, Result, TaskRecord

PROVIDER = "replicate"
DWELL = Dwell(submitted=(0.5, 3.0), processing=(2.0, 20.0))  # images in seconds (§4.8)
PREFIXES = ("", "/replicate")
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
            # A problem's code is its HTTP status (RFC 7807): a scripted code is the status answered.
            return problem(int(refusal.code) if refusal.code else status, title, refusal.message or detail)
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
            self.sim.end(task.task_id, result, render=self._webhook, only=task)

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
