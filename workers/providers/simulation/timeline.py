"""A simulated task and its timeline: the phase it is in at any moment follows from durations fixed
at creation, so polling needs no background timers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

# How a task ends. "cancelled" and "expired" end it without a result, as a provider's own queue does
# (Seedance); a provider with no word for them plays them as failures.
Result = Literal["succeed", "fail", "moderation", "cancelled", "expired"]


class Phase(Enum):
    """Provider-neutral phases; each provider module names them in its own words."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


@dataclass(frozen=True)
class Dwell:
    """A provider's (low, high) dwell ranges in seconds at speed 1."""

    submitted: tuple[float, float]
    processing: tuple[float, float]


@dataclass(frozen=True)
class NewTask:
    """What a create request asks for; the simulator adds the id, timeline and fate."""

    provider: str
    operation: str
    params: Mapping[str, Any]
    base_url: str  # where the create came in: callbacks link result files through it
    external_id: str | None = None
    callback_url: str | None = None


@dataclass(frozen=True)
class TaskRecord:
    """One upstream task, as created; `result` is the terminal fate it reaches when DONE."""

    provider: str
    operation: str
    params: Mapping[str, Any]
    base_url: str
    external_id: str | None
    callback_url: str | None
    task_id: str
    result: Result
    message: str | None
    created_mono: float
    created_wall: float
    submitted_s: float
    processing_s: float
    hidden_polls: int  # queries answered "not found" before the task shows up
    file_size: int
    download_error: str | None = None  # result files are refused with this text
    code: str | None = None  # the provider's own failure code, when scripted
    held: bool = False  # runs until the simulator releases it

    @property
    def finished_mono(self) -> float:
        return self.created_mono + self.submitted_s + self.processing_s

    def phase_at(self, mono: float) -> Phase:
        if mono < self.created_mono + self.submitted_s:
            return Phase.QUEUED
        return Phase.RUNNING if mono < self.finished_mono else Phase.DONE

    def entered_mono(self, phase: Phase) -> float:
        offsets = {Phase.QUEUED: 0.0, Phase.RUNNING: self.submitted_s}
        return self.created_mono + offsets.get(phase, self.submitted_s + self.processing_s)

    def entered_ms(self, phase: Phase) -> int:
        """Wall-clock milliseconds at which the task entered `phase`."""
        return int((self.created_wall + self.entered_mono(phase) - self.created_mono) * 1000)


def max_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """Most half-open [start, end) intervals covering one instant."""
    # At equal times an end (-1) sorts before a start (+1): [a, b) and [b, c) never overlap.
    events = sorted(e for start, end in intervals if end > start for e in ((start, 1), (end, -1)))
    best = current = 0
    for _, step in events:
        current += step
        best = max(best, current)
    return best
