"""Midjourney as the simulator plays it, as CometAPI and midjourney-proxy serve it (providers.md §1):
submit (imagine, blend, describe, action, modal), fetch and list-by-condition under `/mj/...` (also
behind a mode prefix), the task object with its buttons, a callback on every progress tick, and the
MODAL pause of some actions."""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from workers.providers.midjourney.schemas import (
    MODAL_ACTIONS,
    MidjourneyBlendInput,
    MidjourneyDescribeInput,
    MidjourneyImagineInput,
    action_kind,
)
from workers.providers.simulation import wire
from workers.providers.simulation.engine import CALLBACK_GAP_S, Simulator, SubmitFault
from workers.providers.simulation.files import signed_url
from workers.providers.simulation.http import SimRequest, SimResponse, SimRoute, Simulation, answer
from workers.providers.simulation.timeline import Dwell, NewTask, TaskRecord

PROVIDER = "midjourney"
DWELL = Dwell(submitted=(2.0, 10.0), processing=(30.0, 100.0))  # Fast mode
PREFIXES = ("", "/mj-fast", "/mj-relax", "/mj-turbo")
INPUTS: Mapping[str, type[BaseModel]] = {
    "imagine": MidjourneyImagineInput,
    "blend": MidjourneyBlendInput,
    "describe": MidjourneyDescribeInput,
}
TASK_FIELDS = ("notifyHook", "state")
PROGRESS = (15, 46, 78)  # the IN_PROGRESS ticks, in percent
CONCURRENCY = 3  # running tasks per account; more are accepted as queued (code 22)
# The proxy's banned-word list refuses a prompt at submit (code 24, nothing created); a scripted
# "moderation" outcome is Midjourney's own filter instead: the task is created and ends in FAILURE.
BANNED_WORDS = frozenset({"nsfw", "gore", "bloodbath"})
REMIX_ACTIONS = frozenset({"variation", "reroll"})  # with enableRemix they stop in MODAL too
ACTION_NAMES = {"upsample": "UPSCALE", "upscale": "UPSCALE", "animate": "VIDEO", "other": "ACTION"}
RESULT_SHAPES = {"describe": "text", "upsample": "single", "upscale": "single", "animate": "video"}
FAIL_REASONS = {
    "fail": "任务超时",  # the proxy's own timeout, in its own words
    "moderation": "[Banned prompt detected] Sorry! Our AI moderator thinks this prompt is probably "
    "against our community standards.",
}
DESCRIBED = (
    "a paper boat drifting on a still lake, soft morning light",
    "watercolor sketch of a small folded boat, muted blues",
    "minimalist origami vessel on glassy water, studio photograph",
    "a lone paper boat at dawn, cinematic mist, shallow depth of field",
)
SINGLE_BUTTONS = (
    ("MJ::JOB::upsample_v6_2x_subtle::1::{h}::SOLO", "Upscale (Subtle)"),
    ("MJ::JOB::upsample_v6_2x_creative::1::{h}::SOLO", "Upscale (Creative)"),
    ("MJ::JOB::high_variation::1::{h}::SOLO", "Vary (Strong)"),
    ("MJ::JOB::low_variation::1::{h}::SOLO", "Vary (Subtle)"),
    ("MJ::Inpaint::1::{h}::SOLO", "Vary (Region)"),
    ("MJ::Outpaint::50::1::{h}::SOLO", "Zoom Out 2x"),
    ("MJ::Outpaint::75::1::{h}::SOLO", "Zoom Out 1.5x"),
    ("MJ::CustomZoom::{h}", "Custom Zoom"),
    ("MJ::JOB::pan_left::1::{h}::SOLO", "⬅️"),
    ("MJ::JOB::pan_right::1::{h}::SOLO", "➡️"),
    ("MJ::JOB::pan_up::1::{h}::SOLO", "⬆️"),
    ("MJ::JOB::pan_down::1::{h}::SOLO", "⬇️"),
    ("MJ::JOB::animate_high::1::{h}::SOLO", "Animate (High motion)"),
    ("MJ::JOB::animate_low::1::{h}::SOLO", "Animate (Low motion)"),
)


@dataclass(frozen=True)
class Tick:
    """A state the task shows from `offset_s` after its segment began."""

    offset_s: float
    status: str
    progress: str | None
    notify: bool = True  # the proxy calls back on every change once dispatched, not on creation


@dataclass(frozen=True)
class Modal:
    """The answer to a MODAL pause: the task's second segment starts at `at_mono`."""

    at_mono: float
    prompt: str
    mask: str


def kind_of(task: TaskRecord) -> str:
    return action_kind(str(task.params.get("customId", ""))) if task.operation == "action" else task.operation


def waits_for_modal(task: TaskRecord) -> bool:
    kind = kind_of(task)
    return task.operation == "action" and (
        kind in MODAL_ACTIONS or (bool(task.params.get("enableRemix")) and kind in REMIX_ACTIONS)
    )


def timeline(task: TaskRecord, modal: Modal | None) -> list[Tick]:
    """NOT_START, SUBMITTED 0%, IN_PROGRESS n%..., SUCCESS 100% or FAILURE "" (or a stop in MODAL)."""
    queued, running = task.submitted_s, task.processing_s
    start = [Tick(0.0, "SUBMITTED", "0%")]
    if modal is None:
        start = [Tick(0.0, "NOT_START", None, notify=False), Tick(queued / 2, "SUBMITTED", "0%")]
        if waits_for_modal(task):
            return [*start, Tick(queued, "MODAL", "0%")]
    ticks = [
        Tick(queued + running * n / len(PROGRESS), "IN_PROGRESS", f"{p}%") for n, p in enumerate(PROGRESS)
    ]
    end = ("SUCCESS", "100%") if task.result == "succeed" else ("FAILURE", "")
    return [*start, *ticks, Tick(queued + running, *end)]


def banned_word(prompt: str) -> str | None:
    return next((word for word in prompt.lower().split() if word.strip(",.!?") in BANNED_WORDS), None)


def _button(custom_id: str, label: str, emoji: str = "") -> dict[str, Any]:
    return {"customId": custom_id, "emoji": emoji, "label": label, "type": 2, "style": 2}


def buttons(shape: str, task_id: str) -> list[dict[str, Any]]:
    """The buttons a finished task offers; each customId embeds a hash of the task."""
    h = str(uuid.uuid5(uuid.NAMESPACE_URL, f"midjourney/{task_id}"))
    if shape == "grid":
        upsample = [_button(f"MJ::JOB::upsample::{n}::{h}", f"U{n}") for n in range(1, 5)]
        variation = [_button(f"MJ::JOB::variation::{n}::{h}", f"V{n}") for n in range(1, 5)]
        return [*upsample, _button(f"MJ::JOB::reroll::0::{h}::SOLO", "", "🔄"), *variation]
    if shape == "single":
        return [_button(custom_id.format(h=h), label) for custom_id, label in SINGLE_BUTTONS]
    if shape == "text":
        return [
            *(_button(f"MJ::Job::PicReader::{n}", str(n)) for n in range(1, 5)),
            _button("MJ::Picread::Retry", "", "🔄"),
        ]
    return []


def routes(sim: Simulator) -> list[SimRoute]:
    handlers = MidjourneyRoutes(sim)
    return [
        route
        for prefix in PREFIXES
        for route in (
            SimRoute("POST", f"{prefix}/mj/submit/{{kind}}", handlers.submit),
            SimRoute("GET", f"{prefix}/mj/task/{{task_id}}/fetch", handlers.fetch),
            SimRoute("POST", f"{prefix}/mj/task/list-by-condition", handlers.list_by_condition),
        )
    ]


SIMULATION = Simulation(dwell=DWELL, routes=routes)


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
        if kind not in {*INPUTS, "action", "modal"}:
            self.sim.reject(PROVIDER, "unknown_operation")
            return _answer(4, f"unsupported: /mj/submit/{kind}", http_status=404)
        refusal = self.sim.draw_submit_fault(PROVIDER)
        if refusal is None:
            return None
        if refusal.fault is SubmitFault.RATE_LIMITED:
            return _answer(23, refusal.message or "队列已满, 请稍后尝试", numberOfQueues=10)
        if refusal.fault is SubmitFault.UNAVAILABLE:
            return _answer(9, refusal.message or "系统异常: discord instance unavailable")
        return _answer(4, refusal.message or "参数错误", http_status=400)

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
        tick, params = ticks[index], task.params
        started = next((t for t in ticks[: index + 1] if t.status == "IN_PROGRESS"), None)
        prompt = (modal.prompt if modal else "") or self._prompt(task)
        body: dict[str, Any] = {
            "id": task.task_id,
            "action": ACTION_NAMES.get(kind_of(task), kind_of(task).upper()),
            "customId": params.get("customId", ""),
            "botType": params.get("botType") or "MID_JOURNEY",
            "prompt": prompt,
            "promptEn": prompt,
            "description": f"/{task.operation} {prompt}".strip(),
            "state": params.get("state") or "",
            "submitTime": _ms(task, task.created_mono),
            "startTime": _ms(task, base + started.offset_s) if started else 0,
            "finishTime": _ms(task, base + tick.offset_s) if tick.status in ("SUCCESS", "FAILURE") else 0,
            "imageUrl": "",
            "videoUrl": "",
            "videoUrls": [],
            "status": tick.status,
            "progress": tick.progress,
            "failReason": (
                (task.message or FAIL_REASONS.get(task.result, FAIL_REASONS["fail"]))
                if tick.status == "FAILURE"
                else ""
            ),
            "buttons": [],
            "maskBase64": modal.mask if modal else "",
            "properties": {"finalPrompt": prompt, "finalZhPrompt": "", "discordInstanceId": "sim-instance"},
        }
        if tick.status == "SUCCESS":
            self._add_results(body, task, base_url)
        return body

    def _add_results(self, body: dict[str, Any], task: TaskRecord, base_url: str) -> None:
        shape = RESULT_SHAPES.get(kind_of(task), "grid")
        body["imageUrl"] = signed_url(self.sim, base_url, task.task_id, 0, "png")
        body["buttons"] = buttons(shape, task.task_id)
        if shape == "text":
            text = "\n\n".join(
                f"{n}\ufe0f\u20e3 {line} --ar 1:1" for n, line in enumerate(DESCRIBED, start=1)
            )
            body["promptEn"] = body["properties"]["finalPrompt"] = text
        if shape == "video":
            videos = [{"url": signed_url(self.sim, base_url, task.task_id, n, "mp4")} for n in range(1, 5)]
            body["videoUrls"], body["videoUrl"] = videos, videos[0]["url"]

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


def _ms(task: TaskRecord, mono: float) -> int:
    return int((task.created_wall + mono - task.created_mono) * 1000)


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
