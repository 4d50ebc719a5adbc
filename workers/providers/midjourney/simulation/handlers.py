"""The simulated `/mj/...` routes: submit (refused, queued or accepted in the proxy's envelope), fetch,
list-by-condition, the modal step, and a callback on every tick of a task's timeline."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from workers.providers.midjourney.schemas import (
    MidjourneyBlendInput,
    MidjourneyDescribeInput,
    MidjourneyImagineInput,
)
from workers.providers.midjourney.simulation.results import banned_word
from workers.providers.midjourney.simulation.task_object import Moment, task_object
from workers.providers.midjourney.simulation.timeline import Modal, Tick, kind_of, timeline
from workers.providers.midjourney.simulation.video_edits import edits_refusal, video_refusal
from workers.providers.simulation import wire
from workers.providers.simulation.engine import CALLBACK_GAP_S, Refusal, Simulator, SubmitFault
from workers.providers.simulation.http import SimRequest, SimResponse, answer
from workers.providers.simulation.timeline import NewTask, TaskRecord

PROVIDER = "midjourney"
INPUTS: Mapping[str, type[BaseModel]] = {
    "imagine": MidjourneyImagineInput,
    "blend": MidjourneyBlendInput,
    "describe": MidjourneyDescribeInput,
}
TASK_FIELDS = ("notifyHook", "state")
CONCURRENCY = 3  # running tasks per account; more are accepted as queued (code 22)


class MidjourneyRoutes:
    """The route handlers, bound to one simulator, and what Midjourney adds to its tasks: modal answers
    and which button of which parent each action pressed."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        # Keyed by (task id, creation instant): a reset that reseeds the simulator reuses task ids.
        self._modals: dict[tuple[str, float], Modal] = {}
        self._actions: dict[tuple[str, str], str] = {}

    async def submit(self, request: SimRequest) -> SimResponse:
        kind, sim = request.path_params["kind"], self.sim
        await wire.latency(sim)
        sim.count_attempt(PROVIDER)
        refusal = self._refuse_submit(request, kind)
        if refusal is not None:
            return refusal
        body = await wire.json_object(request)
        if body is None:
            sim.reject(PROVIDER, "invalid_params")
            return _answer(4, "请求参数错误: the body must be a JSON object", http_status=400)
        if kind == "modal":
            return self._modal(body)
        if kind in ("video", "edits"):
            refusal = self._refuse_video_edits(kind, body)
        else:
            refusal = self._refuse_action(body) if kind == "action" else self._refuse_generation(kind, body)
        if refusal is not None:
            return refusal
        waiting = sim.stats()[PROVIDER].running_now - CONCURRENCY + 1
        task = self._create(kind, body, request)
        await wire.stall(request, sim.draw_stall())
        if waiting > 0:
            return _answer(22, f"排队中, 前面还有{waiting}个任务", task.task_id, numberOfQueues=waiting)
        return _answer(1, "提交成功", task.task_id, discordInstanceId="sim-instance")

    async def fetch(self, request: SimRequest) -> SimResponse:
        task_id = request.path_params["task_id"]
        await wire.latency(self.sim)
        if not _authorized(self.sim, request):
            return _unauthorized()
        task = self.sim.lookup(PROVIDER, task_id)
        if task is None or task.task_id != task_id:
            # new-api's (CometAPI's) answer; midjourney-proxy itself answers `null`.
            return answer({"code": 4, "description": "task_no_found", "type": "upstream_error"}, 400)
        return answer(self.current(task, request.base_url))

    async def list_by_condition(self, request: SimRequest) -> SimResponse:
        """`{"ids": [...]}` as documented, and `{"state": "<ours>"}`, a tolerant proxy's extension."""
        await wire.latency(self.sim)
        if not _authorized(self.sim, request):
            return _unauthorized()
        body = await wire.json_object(request) or {}
        ids, state = body.get("ids"), body.get("state")
        wanted = [str(task_id) for task_id in ids] if isinstance(ids, list) else []
        found = [
            task
            for task_id in wanted
            if (task := self.sim.lookup(PROVIDER, task_id)) and task.task_id == task_id
        ]
        if (
            isinstance(state, str)
            and state
            and (task := self.sim.lookup(PROVIDER, state))
            and task.external_id == state
        ):
            found.append(task)
        return answer([self.current(task, request.base_url) for task in found])

    def current(self, task: TaskRecord, base_url: str) -> dict[str, Any]:
        """The task object as it stands now."""
        modal = self._modals.get(_key(task))
        ticks, base = timeline(task, modal), modal.at_mono if modal else task.created_mono
        elapsed = time.monotonic() - base
        index = max(n for n, tick in enumerate(ticks) if tick.offset_s <= elapsed)
        return self._render(task, ticks, index, base, modal, base_url)

    def _refuse_submit(self, request: SimRequest, kind: str) -> SimResponse | None:
        """Refusals before the body is read: auth, unknown route, injected faults (nothing created)."""
        if not _authorized(self.sim, request):
            self.sim.reject(PROVIDER, "unauthorized")
            return _unauthorized()
        if kind not in {*INPUTS, "action", "modal", "video", "edits"}:
            self.sim.reject(PROVIDER, "unknown_operation")
            return _answer(4, f"unsupported: /mj/submit/{kind}", http_status=404)
        refusal = self.sim.draw_submit_fault(PROVIDER)
        if refusal is None:
            return None
        return _refusal(refusal)

    def _refuse_generation(self, kind: str, body: Mapping[str, Any]) -> SimResponse | None:
        for name in TASK_FIELDS:
            if body.get(name) is not None and not isinstance(body[name], str):
                return self._invalid(f"{name} must be a string")
        try:
            INPUTS[kind].model_validate({k: v for k, v in body.items() if k not in TASK_FIELDS})
        except ValidationError as exc:
            error = exc.errors()[0]
            return self._invalid(f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}")
        prompt = str(body.get("prompt", ""))
        word = banned_word(prompt)
        if word is not None:
            self.sim.reject(PROVIDER, "banned_prompt")
            return _answer(24, "可能包含敏感词", promptEn=prompt, bannedWord=word)
        return None

    def _refuse_action(self, body: Mapping[str, Any]) -> SimResponse | None:
        parent_id, custom_id = body.get("taskId"), body.get("customId")
        if not (isinstance(parent_id, str) and isinstance(custom_id, str) and custom_id):
            return self._invalid("taskId and customId are required")
        parent = self._task(parent_id)
        if parent is None:
            self.sim.reject(PROVIDER, "parent_not_found")
            return _answer(3, "关联任务不存在或已失效", http_status=404)
        offered = [button["customId"] for button in self.current(parent, parent.base_url)["buttons"]]
        if custom_id not in offered:
            return self._invalid(f"customId is not a button of task {parent_id}")
        existing = self._task(self._actions.get((parent_id, custom_id), ""))
        if existing is not None and existing.params.get("taskId") == parent_id:
            now = self.current(existing, existing.base_url)
            return _answer(21, "任务已存在", existing.task_id, status=now["status"], imageUrl=now["imageUrl"])
        return None

    def _refuse_video_edits(self, kind: str, body: Mapping[str, Any]) -> SimResponse | None:
        found = video_refusal(body, self._status_of) if kind == "video" else edits_refusal(body)
        if found is None:
            return None
        self.sim.reject(PROVIDER, found.reason)
        http_status = {3: 404, 4: 400}.get(found.code, 200)
        return _answer(found.code, found.description, http_status=http_status, **found.properties)

    def _status_of(self, task_id: str) -> tuple[TaskRecord, str] | None:
        task = self._task(task_id)
        return None if task is None else (task, self.current(task, task.base_url)["status"])

    def _modal(self, body: Mapping[str, Any]) -> SimResponse:
        task = self._task(str(body.get("taskId", "")))
        if task is None:
            return _answer(3, "关联任务不存在或已失效", http_status=404)
        if self.current(task, task.base_url)["status"] != "MODAL":
            return self._invalid("the task is not waiting in MODAL")
        prompt, mask = str(body.get("prompt") or ""), str(body.get("maskBase64") or "")
        if (kind_of(task) == "inpaint" and not mask) or (kind_of(task) != "inpaint" and not prompt):
            return self._invalid(
                "maskBase64 is required" if kind_of(task) == "inpaint" else "prompt is required"
            )
        word = banned_word(prompt)
        if word is not None:
            return _answer(24, "可能包含敏感词", promptEn=prompt, bannedWord=word)
        self._modals[_key(task)] = Modal(time.monotonic(), prompt, mask)
        self._schedule_callbacks(task)
        return _answer(1, "提交成功", task.task_id)

    def _create(self, kind: str, body: Mapping[str, Any], request: SimRequest) -> TaskRecord:
        state = body.get("state") or None
        # `state` is ours and need not be unique upstream: only its first task is findable by it.
        taken = state is None or self.sim.task_by_external_id(state, PROVIDER) is not None
        new = NewTask(
            provider=PROVIDER,
            operation=kind,
            params={k: v for k, v in body.items() if k != "notifyHook"},
            base_url=request.base_url,
            external_id=None if taken else state,
            callback_url=body.get("notifyHook") or None,
        )
        task = self.sim.create_task(new)
        if kind == "action":
            self._actions[(str(body["taskId"]), str(body["customId"]))] = task.task_id
        self._schedule_callbacks(task)
        return task

    def _schedule_callbacks(self, task: TaskRecord) -> None:
        """One callback per tick of the task's current segment, with the knobs' duplicates/reordering."""
        if not task.callback_url:
            return
        config, modal = self.sim.config, self._modals.get(_key(task))
        ticks, base = timeline(task, modal), modal.at_mono if modal else task.created_mono
        notified = [n for n, tick in enumerate(ticks) if tick.notify]
        due = {n: base + ticks[n].offset_s + config.callback_delay_s for n in notified}
        if config.reorder_callbacks:  # the latest first, then the stale ones, newest first
            for rank, n in enumerate(reversed(notified[:-1]), start=1):
                due[n] = due[notified[-1]] + rank * CALLBACK_GAP_S
        rng = random.Random(f"{task.task_id}/{base}")  # noqa: S311 - seeded by the task, not a secret
        for n in notified:
            render = functools.partial(self._render, task, ticks, n, base, modal, task.base_url)
            copies = 1 + (
                config.duplicate_callback_rate > 0 and rng.random() < config.duplicate_callback_rate
            )
            for copy in range(copies):
                self.sim.callbacks.push(
                    due[n] + copy * CALLBACK_GAP_S / 2, PROVIDER, task.callback_url, render
                )

    def _render(
        self, task: TaskRecord, ticks: list[Tick], index: int, base: float, modal: Modal | None, base_url: str
    ) -> dict[str, Any]:
        prompt = (modal.prompt if modal else "") or self._prompt(task)
        return task_object(self.sim, Moment(task, ticks, index, base, modal), prompt, base_url)

    def _prompt(self, task: TaskRecord) -> str:
        if task.operation != "action":
            return str(task.params.get("prompt", ""))
        parent = self._task(str(task.params.get("taskId", "")))
        return "" if parent is None else self._prompt(parent)

    def _task(self, task_id: str) -> TaskRecord | None:
        task = self.sim.task(task_id)
        return task if task is not None and task.provider == PROVIDER else None

    def _invalid(self, problem: str) -> SimResponse:
        self.sim.reject(PROVIDER, "invalid_params")
        return _answer(4, f"参数错误: {problem}", http_status=400)


def _key(task: TaskRecord) -> tuple[str, float]:
    return task.task_id, task.created_mono


def _authorized(sim: Simulator, request: SimRequest) -> bool:
    """CometAPI takes the key as a bearer token, a midjourney-proxy host in `mj-api-secret`."""
    return wire.authorized(sim, request) or wire.authorized(sim, request, header="mj-api-secret", scheme="")


def _unauthorized() -> SimResponse:
    return answer({"error": {"message": "invalid token", "type": "new_api_error"}}, 401)


def _answer(
    code: int, description: str, result: str | None = None, http_status: int = 200, **properties: Any
) -> SimResponse:
    """The proxy's envelope; its `code` is a business code, whatever the HTTP status."""
    body = {"code": code, "description": description, "result": result, "properties": properties}
    return answer(body, http_status)


def _refusal(refusal: Refusal) -> SimResponse:
    """A drawn or scripted refusal in the proxy's words; a scripted `code` is answered as it is."""
    if refusal.code:
        return _answer(int(refusal.code), refusal.message or "refused", http_status=200)
    if refusal.fault is SubmitFault.RATE_LIMITED:
        return _answer(23, refusal.message or "队列已满, 请稍后尝试", numberOfQueues=10)
    if refusal.fault is SubmitFault.UNAVAILABLE:
        return _answer(9, refusal.message or "系统异常: discord instance unavailable")
    return _answer(4, refusal.message or "参数错误", http_status=400)
