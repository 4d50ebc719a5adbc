"""What the simulated Suno remembers besides the engine's tasks: which engine task each Suno task UUID
and each clip id names, the personas made, and the conversions asked for (per kind and clip)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from workers.providers.simulation.engine import Simulator
from workers.providers.simulation.timeline import TaskRecord
from workers.providers.suno.simulation.tasks import clip_count, clip_id, clip_statuses, suno_task_id


@dataclass
class Book:
    """Served from one event loop, so plain dicts: no handler runs while another holds them."""

    sim: Simulator
    tasks: dict[str, str] = field(default_factory=dict)  # Suno task UUID -> engine task id
    clips: dict[str, tuple[str, int]] = field(default_factory=dict)  # clip id -> (engine task id, n)
    personas: dict[str, dict[str, Any]] = field(default_factory=dict)  # persona id -> its object
    conversions: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, clip) -> engine id

    def add(self, task: TaskRecord) -> str:
        """Remember a new task and its clips; its Suno UUID."""
        task_ref = suno_task_id(task)
        self.tasks[task_ref] = task.task_id
        for n in range(clip_count(task)):
            self.clips[clip_id(task, n)] = (task.task_id, n)
        return task_ref

    def task(self, task_ref: str) -> TaskRecord | None:
        return self.sim.task(self.tasks.get(task_ref, ""))

    def clip(self, clip_ref: str) -> tuple[TaskRecord, int] | None:
        engine_id, n = self.clips.get(clip_ref, ("", 0))
        task = self.sim.task(engine_id)
        # Clip ids follow from engine ids, which a reset hands out again: the clip is that task's if it
        # has one.
        return None if task is None or n >= clip_count(task) else (task, n)

    def complete_clip(self, clip_ref: str) -> tuple[TaskRecord, int] | str:
        """The task and place of a complete clip of this account, or why it is not one."""
        found = self.clip(clip_ref)
        if found is None:
            return f"clip {clip_ref} not found"
        task, n = found
        now = time.monotonic()
        if clip_statuses(task, task.phase_at(now), now)[n] != "complete":
            return f"clip {clip_ref} is not complete"
        return found
