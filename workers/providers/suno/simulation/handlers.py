"""The simulated Suno's task routes: submit music (stems too, as `task: "gen_stem"`), lyrics or a concat,
upload a clip from a URL, and fetch one TaskDto or many; with `notify_hook` calls on every change."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from workers.providers.simulation import wire
from workers.providers.simulation.engine import SubmitFault
from workers.providers.simulation.http import SimRequest, SimResponse
from workers.providers.simulation.timeline import NewTask, Phase, TaskRecord
from workers.providers.suno.schemas import SunoLyricsInput, SunoMusicInput
from workers.providers.suno.simulation.answers import error, ok, unauthorized
from workers.providers.suno.simulation.book import Book
from workers.providers.suno.simulation.tasks import PROVIDER, STEMS, action, task_dto

INPUTS: Mapping[str, type[BaseModel]] = {"music": SunoMusicInput, "lyrics": SunoLyricsInput}
SUBMITS = ("music", "lyrics", "concat")
TASK_FIELDS = ("mv", "notify_hook")  # about the task, not the song; the input models leave them out
GROUPS = {"Two": "two", "Twelve": "twelve"}  # `stem_type_group_name` as the stem task it means
# The proxy waits for the lyrics before it answers the submit: a lyrics task is born finished.
LYRICS_WAIT_S = 4.0
# Each refusal of a create: HTTP status, envelope code, default message.
REFUSALS = {
    SubmitFault.RATE_LIMITED: (429, "rate_limit", "too many requests, please retry later"),
    SubmitFault.UNAVAILABLE: (503, "service_unavailable", "upstream service is temporarily unavailable"),
    SubmitFault.REJECTED: (400, "invalid_request", "invalid request"),
}
# (operation, the task's params) of a body that makes a task, or the reason it makes none.
Read = tuple[str, dict[str, Any]] | str


def refuse_create(book: Book, request: SimRequest, known: bool) -> SimResponse | None:
    """Refusals that come before the body is read: auth, unknown action, injected faults."""
    sim = book.sim
    if not wire.authorized(sim, request):
        sim.reject(PROVIDER, "unauthorized")
        return unauthorized()
    if not known:
        sim.reject(PROVIDER, "invalid_action")
        return error(400, "invalid_request", "invalid_action")
    refusal = sim.draw_submit_fault(PROVIDER)
    if refusal is None:
        return None
    status, code, text = REFUSALS[refusal.fault]
    headers = {"Retry-After": "1"} if status == 429 else None
    return error(status, refusal.code or code, refusal.message or text, headers)


class TaskRoutes:
    def __init__(self, book: Book) -> None:
        self.book = book
        self.sim = book.sim

    async def submit(self, request: SimRequest) -> SimResponse:
        return await self._create(request, request.path_params["action"].lower())

    async def upload(self, request: SimRequest) -> SimResponse:
        return await self._create(request, "upload")

    async def query(self, request: SimRequest) -> SimResponse:
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return unauthorized()
        task = self.sim.lookup(PROVIDER, self.book.tasks.get(request.path_params["task_ref"], ""))
        if task is None:
            return error(400, "task_not_exist", "task_not_exist")
        return ok(self._dto(task, request.base_url))

    async def query_many(self, request: SimRequest) -> SimResponse:
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return unauthorized()
        body = await wire.json_object(request)
        ids = body.get("ids") if body is not None else None
        if not isinstance(ids, list) or not all(isinstance(ref, str) for ref in ids):
            return error(400, "invalid_request", "ids must be a list of task ids")
        wanted = str(body.get("action") or "").upper() if body is not None else ""
        found = [self.sim.lookup(PROVIDER, self.book.tasks.get(ref, "")) for ref in ids]
        tasks = [t for t in found if t is not None and wanted in ("", action(t))]
        return ok([self._dto(task, request.base_url) for task in tasks])

    async def _create(self, request: SimRequest, kind: str) -> SimResponse:
        sim = self.sim
        await wire.latency(sim)
        sim.count_attempt(PROVIDER)
        refusal = refuse_create(self.book, request, kind in (*SUBMITS, "upload"))
        if refusal is not None:
            return refusal
        body = await wire.json_object(request)
        read = "invalid request body" if body is None else self._read(kind, body)
        if body is None or isinstance(read, str):
            sim.reject(PROVIDER, "invalid_request")
            return error(400, "invalid_request", str(read))
        operation, params = read
        render = self._callback_body if operation != "lyrics" else None  # lyrics never change state
        callback_url = body.get("notify_hook") or None
        task = sim.create_task(
            NewTask(PROVIDER, operation, params, request.base_url, None, callback_url), render
        )
        task_ref = self.book.add(task)
        wait = LYRICS_WAIT_S * sim.config.speed if operation == "lyrics" else 0.0
        await wire.stall(request, wait + sim.draw_stall())
        return ok(task_ref)

    def _read(self, kind: str, body: Mapping[str, Any]) -> Read:
        for name in TASK_FIELDS:
            if body.get(name) is not None and not isinstance(body[name], str):
                return f"{name} must be a string"
        if kind == "upload":
            url = body.get("url")
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                return "url must be a public http(s) link to an audio file"
            return "upload", {"url": url}
        if kind == "concat":
            return self._concat(body)
        if kind == "music" and body.get("task") == "gen_stem":
            return self._stems(body)
        return self._song(kind, body)

    def _song(self, kind: str, body: Mapping[str, Any]) -> Read:
        try:
            INPUTS[kind].model_validate({k: v for k, v in body.items() if k not in TASK_FIELDS})
        except ValidationError as exc:
            problem = exc.errors()[0]
            name = ".".join(str(part) for part in problem["loc"]) or "body"
            return "prompt_empty" if kind == "lyrics" else f"{name}: {problem['msg']}"
        parent, clip = body.get("task_id"), body.get("continue_clip_id")
        if parent is not None and self._clip_of(str(parent), str(clip)) is None:
            return "task id is not a task of yours with that continue_clip_id"
        persona = body.get("persona_id")
        if persona is not None and persona not in self.book.personas:
            return f"persona {persona} not found"
        return kind, {k: v for k, v in body.items() if k != "notify_hook"}

    def _stems(self, body: Mapping[str, Any]) -> Read:
        stem_task = body.get("stem_task") or GROUPS.get(str(body.get("stem_type_group_name")), "two")
        if stem_task not in STEMS:
            return f"stem_task must be one of {sorted(STEMS)}"
        clip = str(body.get("continue_clip_id") or "")
        task = self._clip_of(str(body.get("task_id") or ""), clip)
        if task is None:
            return "task id is not a task of yours with that continue_clip_id"
        found = self.book.complete_clip(clip)
        if isinstance(found, str):
            return found
        params = {"stem_task": stem_task, "title": body.get("title") or None, "mv": body.get("mv")}
        return "stems", {**params, "source_task": task.task_id, "source_clip": clip}

    def _concat(self, body: Mapping[str, Any]) -> Read:
        clip, infill = body.get("clip_id"), body.get("is_infill", False)
        if not isinstance(clip, str) or not isinstance(infill, bool):
            return "clip_id must be a clip id, is_infill a boolean"
        found = self.book.complete_clip(clip)
        if isinstance(found, str):
            return found
        return "concat", {
            "clip_id": clip,
            "is_infill": infill,
            "source_task": found[0].task_id,
            "source_clip": clip,
        }

    def _clip_of(self, task_ref: str, clip: str) -> TaskRecord | None:
        """The account's task `task_ref`, if `clip` is one of its clips."""
        task, found = self.book.task(task_ref), self.book.clip(clip)
        return task if task is not None and found is not None and found[0].task_id == task.task_id else None

    def _dto(self, task: TaskRecord, base_url: str) -> dict[str, Any]:
        now = time.monotonic()
        return task_dto(self.sim, task, task.phase_at(now), now, base_url)

    def _callback_body(self, task: TaskRecord, phase: Phase) -> dict[str, Any]:
        return task_dto(self.sim, task, phase, task.entered_mono(phase), task.base_url)
