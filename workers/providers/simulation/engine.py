"""The provider-agnostic core of the simulator: its tasks, the scripted outcomes and faults it draws,
the counters it keeps (what it is told and reports: `scripts`). One lock guards it, because tests read
it from their own thread while uvicorn serves it."""

from __future__ import annotations

import dataclasses
import functools
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from workers.providers.simulation.callbacks import CallbackBody, CallbackQueue
from workers.providers.simulation.scripts import (
    HELD_S,
    Counters,
    DuplicateExternalIdError,
    Outcome,
    ProviderStats,
    Refusal,
    SimConfig,
    SubmitFault,
)
from workers.providers.simulation.timeline import Dwell, NewTask, Phase, Result, TaskRecord, max_overlap

# A duplicate or reordered callback lands this long after the one it follows.
CALLBACK_GAP_S = 0.01

Render = Callable[[TaskRecord, Phase], CallbackBody]


class Simulator:
    """State of the fake upstream, shared by every simulated provider's routes."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._config = config or SimConfig()
        # Seeded, so a run can be replayed; nothing here is a secret.
        self._rng = random.Random(self._config.seed)  # noqa: S311
        self._providers: dict[str, Dwell] = {}
        self.callbacks = CallbackQueue()
        self.file_secret = secrets.token_bytes(32)  # kept across reset: issued links stay valid
        self._clear()

    def _clear(self) -> None:
        self._tasks: dict[str, TaskRecord] = {}
        self._held: dict[str, Render | None] = {}  # held task ids, with what renders their callbacks
        self._external: dict[tuple[str, str], str] = {}
        self._scripts: dict[str, deque[Outcome]] = {name: deque() for name in self._providers}
        self._refusals: dict[str, deque[Refusal]] = {name: deque() for name in self._providers}
        self._counters: dict[str, Counters] = {name: Counters() for name in self._providers}
        self.callbacks.clear()

    @property
    def config(self) -> SimConfig:
        return self._config

    def add_provider(self, name: str, dwell: Dwell) -> None:
        with self._lock:
            self._providers[name] = dwell
            self._scripts.setdefault(name, deque())
            self._refusals.setdefault(name, deque())
            self._counters.setdefault(name, Counters())

    def configure(self, **changes: Any) -> SimConfig:
        """Validate and apply a partial update; a new seed restarts the random stream."""
        with self._lock:
            self._config = SimConfig.model_validate({**self._config.model_dump(), **changes})
            if "seed" in changes:
                self._rng.seed(self._config.seed)
            return self._config

    def script(self, provider: str, outcomes: Iterable[Outcome]) -> None:
        """Queue outcomes for the next tasks of `provider`, first in first out."""
        with self._lock:
            if provider not in self._providers:
                raise ValueError(f"unknown simulated provider: {provider}")
            self._scripts[provider].extend(outcomes)

    def refuse(self, provider: str, refusals: Iterable[Refusal]) -> None:
        """Refuse the next creates of `provider`, one per refusal, before the fault rates are drawn."""
        with self._lock:
            if provider not in self._providers:
                raise ValueError(f"unknown simulated provider: {provider}")
            self._refusals[provider].extend(refusals)

    def reset(self) -> None:
        """Forget tasks, scripts, refusals, counters and pending callbacks; keep the configuration."""
        with self._lock:
            self._clear()

    def release(self, provider: str) -> int:
        """End `provider`'s held tasks now: each reaches its scripted fate (and sends its last
        callback) as if it had just finished running. Returns how many it ended."""
        with self._lock:
            held = [t for t in self._held if self._tasks[t].provider == provider]
            renders = {task_id: self._held.pop(task_id) for task_id in held}
        ended = [self.end(task_id, self._tasks[task_id].result, renders[task_id]) for task_id in held]
        return sum(task is not None for task in ended)

    def task(self, task_id: str) -> TaskRecord | None:
        with self._lock:
            return self._tasks.get(task_id)

    def task_by_external_id(self, external_id: str, provider: str = "kling") -> TaskRecord | None:
        with self._lock:
            task_id = self._external.get((provider, external_id))
            return None if task_id is None else self._tasks[task_id]

    def stats(self) -> dict[str, ProviderStats]:
        now = time.monotonic()
        with self._lock:
            spans: dict[str, list[tuple[float, float]]] = {name: [] for name in self._counters}
            for task in self._tasks.values():
                spans[task.provider].append((task.created_mono, task.finished_mono))
            return {
                name: ProviderStats(
                    **vars(counters),  # validation copies the dicts: callers get a snapshot
                    max_concurrent=max_overlap(spans[name]),
                    running_now=sum(start <= now < end for start, end in spans[name]),
                )
                for name, counters in self._counters.items()
            }

    # Used by the provider routes.

    def count_attempt(self, provider: str) -> None:
        with self._lock:
            self._counters[provider].create_attempts += 1

    def reject(self, provider: str, reason: str) -> None:
        with self._lock:
            self._reject(provider, reason)

    def _reject(self, provider: str, reason: str) -> None:
        rejected = self._counters[provider].rejected
        rejected[reason] = rejected.get(reason, 0) + 1

    def _chance(self, rate: float) -> bool:
        # No draw at rate 0, so a seeded run's timings don't depend on which faults are off.
        return rate > 0 and self._rng.random() < rate

    def draw_submit_fault(self, provider: str) -> Refusal | None:
        """Decide whether this create is refused before anything is created (and count it): a
        scripted refusal first, else one drawn from the fault rates."""
        with self._lock:
            scripted = self._refusals[provider]
            refusal = None
            if scripted:
                refusal = scripted.popleft()
            elif self._chance(self._config.rate_limit_rate):
                refusal = Refusal(fault=SubmitFault.RATE_LIMITED)
            elif self._chance(self._config.submit_error_rate):
                refusal = Refusal(fault=SubmitFault.UNAVAILABLE)
            if refusal is not None:
                self._reject(provider, refusal.fault.value)
            return refusal

    def draw_stall(self) -> float:
        """Seconds to hold back a create's answer so that the client's read timeout fires."""
        with self._lock:
            return self._config.stall_s if self._chance(self._config.read_timeout_rate) else 0.0

    def create_task(self, request: NewTask, render: Render | None = None) -> TaskRecord:
        """Create a task with its id, timeline and fate; `render` projects it into the provider's
        callback body. Raises DuplicateExternalIdError."""
        with self._lock:
            provider, external_id = request.provider, request.external_id
            if external_id and (provider, external_id) in self._external:
                self._counters[provider].duplicate_external_ids += 1
                self._reject(provider, "duplicate_external_id")
                raise DuplicateExternalIdError(external_id)
            task = self._fill(request)
            self._tasks[task.task_id] = task
            if external_id:
                self._external[(provider, external_id)] = task.task_id
            self._counters[provider].creates += 1
            if task.held:
                self._held[task.task_id] = render
            config = self._config
            copies = {p: 1 + self._chance(config.duplicate_callback_rate) for p in Phase}
        if task.callback_url and render is not None:
            self._schedule_callbacks(task, task.callback_url, render, config, copies)
        return task

    def _fill(self, request: NewTask) -> TaskRecord:
        config, dwell = self._config, self._providers[request.provider]
        outcome = self._next_outcome(request.provider)
        submitted_s, processing_s = outcome.submitted_s, outcome.processing_s
        if submitted_s is None:
            submitted_s = self._rng.uniform(*dwell.submitted) * config.speed
        if outcome.held:
            processing_s = HELD_S
        elif processing_s is None:
            processing_s = self._rng.uniform(*dwell.processing) * config.speed
        return TaskRecord(
            **vars(request),
            task_id=self._new_task_id(),
            result=outcome.result,
            message=outcome.message,
            code=outcome.code,
            download_error=outcome.download_error,
            held=outcome.held,
            created_mono=time.monotonic(),
            created_wall=time.time(),
            submitted_s=submitted_s,
            processing_s=processing_s,
            hidden_polls=config.not_found_polls,
            file_size=config.file_size,
        )

    def _next_outcome(self, provider: str) -> Outcome:
        if self._scripts[provider]:
            return self._scripts[provider].popleft()
        moderation, failure = self._config.moderation_rate, self._config.failure_rate
        draw = self._rng.random() if moderation + failure > 0 else 1.0
        if draw < moderation:
            return Outcome(result="moderation")
        return Outcome(result="fail" if draw < moderation + failure else "succeed")

    def _new_task_id(self) -> str:
        while True:
            task_id = str(self._rng.randrange(10**17, 10**18))  # 18 digits, like Kling's
            if task_id not in self._tasks:
                return task_id

    def _schedule_callbacks(
        self,
        task: TaskRecord,
        url: str,
        render: Render,
        config: SimConfig,
        copies: Mapping[Phase, int],
    ) -> None:
        phases = list(Phase)
        due = {phase: task.entered_mono(phase) + config.callback_delay_s for phase in phases}
        if config.reorder_callbacks:
            # The receiver's worst case: the terminal state first, then the stale ones, newest first.
            for rank, phase in enumerate(reversed(phases[:-1]), start=1):
                due[phase] = due[Phase.DONE] + rank * CALLBACK_GAP_S
        for phase in phases:
            body = functools.partial(render, task, phase)
            for copy in range(copies[phase]):
                due_at = due[phase] + copy * CALLBACK_GAP_S / 2
                self.callbacks.push(due_at, task.provider, url, body, task.task_id)

    def end(
        self, task_id: str, result: Result, render: Render | None = None, *, only: TaskRecord | None = None
    ) -> TaskRecord | None:
        """End an unfinished task now with `result` (a provider's cancel of a queued task): its timeline
        stops here, and its callbacks not yet sent give way to one announcing the end (rendered by
        `render`). None when it had ended already, or is unknown. With `only`, end it only if it is
        still that task: a seeded simulator reset hands the same ids out again, so a timer set for a
        forgotten task must not end the new one that took its id."""
        now = time.monotonic()
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.phase_at(now) is Phase.DONE:
                return None
            if only is not None and task.created_mono != only.created_mono:
                return None
            elapsed = now - task.created_mono
            waited = min(task.submitted_s, elapsed)
            ended = dataclasses.replace(
                task, result=result, submitted_s=waited, processing_s=elapsed - waited, held=False
            )
            self._tasks[task_id] = ended
            self._held.pop(task_id, None)
            due = now + self._config.callback_delay_s
        if ended.callback_url and render is not None:
            self.callbacks.drop(task_id)
            body = functools.partial(render, ended, Phase.DONE)
            self.callbacks.push(due, ended.provider, ended.callback_url, body, task_id)
        return ended

    def delete(self, task_id: str) -> TaskRecord | None:
        """Forget a task, as a provider deleting its record: it is found, counted and served no more."""
        with self._lock:
            task = self._tasks.pop(task_id, None)
            if task is not None and task.external_id:
                self._external.pop((task.provider, task.external_id), None)
        if task is not None:
            self.callbacks.drop(task_id)
        return task

    def lookup(self, provider: str, ref: str) -> TaskRecord | None:
        """Resolve a task id or external id for a query, and count the query. A fresh task stays
        invisible for its first `not_found_polls` queries, as on CometAPI."""
        with self._lock:
            counters = self._counters[provider]
            counters.queries += 1
            task_id = ref if ref in self._tasks else self._external.get((provider, ref))
            task = None if task_id is None else self._tasks[task_id]
            if task is None or task.provider != provider:
                return None
            seen = counters.queries_by_task.get(task.task_id, 0)
            counters.queries_by_task[task.task_id] = seen + 1
            return task if seen >= task.hidden_polls else None

    def record_callback(self, provider: str, outcome: Literal["sent", "failed", "dropped"]) -> None:
        with self._lock:
            counters = self._counters.get(provider)
            if counters is not None:
                name = f"callbacks_{outcome}"
                setattr(counters, name, getattr(counters, name) + 1)


__all__ = [
    "DuplicateExternalIdError",
    "Outcome",
    "ProviderStats",
    "Refusal",
    "Render",
    "SimConfig",
    "Simulator",
    "SubmitFault",
]
