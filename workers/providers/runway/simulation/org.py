"""The simulated Runway organisation: its concurrency slots, where each task queues FIFO behind the
running ones (Runway's THROTTLED), cancels and deletes, and the knobs at `/_sim/runway/config`."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workers.providers.simulation.engine import Simulator
from workers.providers.simulation.timeline import TaskRecord

PROVIDER = "runway"


class RunwaySettings(BaseModel):
    """This module's own knobs (SimConfig is shared by every provider)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wrapped: bool = False  # answer `/runwayml` queries in CometAPI's new-api envelope
    concurrency: int = Field(default=5, ge=1)  # tasks an org runs at once; the rest wait THROTTLED


@dataclass
class Schedule:
    """When a task leaves THROTTLED (takes a slot) and when it frees that slot."""

    start_mono: float
    end_mono: float
    slot: int
    cancelled_mono: float | None = None
    deleted: bool = False


class RunwayState:
    """Slots, schedules and settings of one simulator's Runway org."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.settings = RunwaySettings()
        self._slots = [0.0] * self.settings.concurrency  # monotonic time each slot frees up
        # By the task's wire id (a fresh UUID): engine ids repeat after a reset with the same seed.
        self._schedules: dict[str, Schedule] = {}

    def configure(self, **changes: Any) -> RunwaySettings:
        with self._lock:
            self.settings = RunwaySettings.model_validate({**self.settings.model_dump(), **changes})
            slots, size = sorted(self._slots, reverse=True), self.settings.concurrency
            self._slots = (slots + [0.0] * size)[:size]
            return self.settings

    def admit(self, sim: Simulator, task: TaskRecord) -> Schedule:
        """Queue a new task FIFO behind the org's running ones (Runway's THROTTLED)."""
        with self._lock:
            latest = next(reversed(self._schedules), None)
            if latest is not None and sim.task_by_external_id(latest, provider=PROVIDER) is None:
                self._slots, self._schedules = [0.0] * self.settings.concurrency, {}  # sim was reset
            slot = min(range(len(self._slots)), key=self._slots.__getitem__)
            start = max(task.created_mono, self._slots[slot])
            schedule = Schedule(start, start + task.submitted_s + task.processing_s, slot)
            self._slots[slot] = schedule.end_mono
            self._schedules[str(task.external_id)] = schedule
            return schedule

    def schedule(self, task: TaskRecord) -> Schedule:
        with self._lock:
            return self._schedules.get(str(task.external_id)) or Schedule(
                task.created_mono, task.finished_mono, -1
            )

    def cancel(self, task: TaskRecord, now: float) -> bool:
        """Cancel an unfinished task, delete a finished one; False if it is already deleted."""
        with self._lock:
            schedule = self._schedules.get(str(task.external_id))
            if schedule is None or schedule.deleted:
                return False
            if schedule.cancelled_mono is not None:
                return True
            if now >= schedule.end_mono:
                schedule.deleted = True
                return True
            schedule.cancelled_mono = now
            freed = max(schedule.start_mono, now)
            if schedule.slot < len(self._slots) and self._slots[schedule.slot] == schedule.end_mono:
                self._slots[schedule.slot] = freed  # later creates may start sooner
            schedule.end_mono = freed
            return True

    def counts(self, now: float) -> dict[str, int]:
        with self._lock:
            live = [s for s in self._schedules.values() if s.cancelled_mono is None and now < s.end_mono]
        return {
            "throttled_now": sum(now < s.start_mono for s in live),
            "active_now": sum(now >= s.start_mono for s in live),
        }


_STATES: weakref.WeakKeyDictionary[Simulator, RunwayState] = weakref.WeakKeyDictionary()


def state_for(sim: Simulator) -> RunwayState:
    """The Runway state of `sim` (one per simulator, however many apps serve it)."""
    return _STATES.setdefault(sim, RunwayState())
