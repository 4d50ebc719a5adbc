"""The videos the simulated Kling made, and whether a follow-up may name one by its `video_id`: only
on the account (key) that made it, once it is finished, and for 30 days (`SimConfig.asset_ttl_s`)."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from workers.providers.simulation.engine import Simulator
from workers.providers.simulation.timeline import Phase, TaskRecord


def video_id_of(task_id: str) -> str:
    """Kling's id of a task's video: stable, so every query and callback shows the same one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kling/{task_id}"))


@dataclass(frozen=True)
class MadeVideo:
    task_id: str
    created_mono: float  # tells this task from a later one with the same id (after a reset)
    owner: str  # the key that created the task


class Videos:
    """Videos by id, with the key that made each (the simulator takes one key at a time; a test
    that changes it plays another account)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._lock = threading.Lock()
        self._made: dict[str, MadeVideo] = {}

    def record(self, task: TaskRecord) -> None:
        with self._lock:
            made = MadeVideo(task.task_id, task.created_mono, self.sim.config.api_key)
            self._made[video_id_of(task.task_id)] = made

    def task_of(self, video_id: str) -> TaskRecord | None:
        with self._lock:
            made = self._made.get(video_id)
        task = None if made is None else self.sim.task(made.task_id)
        same = made is not None and task is not None and task.created_mono == made.created_mono
        return task if same else None

    def refusal(self, video_id: str) -> str | None:
        """Why Kling would refuse a follow-up on this video (code 1201), or None."""
        with self._lock:
            made = self._made.get(video_id)
        task = self.task_of(video_id)
        if made is None or task is None or made.owner != self.sim.config.api_key:
            return f"video_id {video_id}: no such video on this account"
        if task.phase_at(time.monotonic()) is not Phase.DONE or task.result != "succeed":
            return f"video_id {video_id}: the video is not ready"
        finished_wall = task.created_wall + task.submitted_s + task.processing_s
        if time.time() - finished_wall > self.sim.config.asset_ttl_s:
            return f"video_id {video_id}: the video has expired (usable for 30 days)"
        return None
