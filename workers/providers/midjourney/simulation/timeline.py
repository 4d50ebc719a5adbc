"""The life of a simulated Midjourney task: the ticks it shows (NOT_START, SUBMITTED, IN_PROGRESS n%,
SUCCESS or FAILURE), the MODAL pause some actions make, and the answer that resumes one."""

from __future__ import annotations

from dataclasses import dataclass

from workers.providers.midjourney.schemas import MODAL_ACTIONS, action_kind
from workers.providers.simulation.timeline import TaskRecord

PROGRESS = (15, 46, 78)  # the IN_PROGRESS ticks, in percent
REMIX_ACTIONS = frozenset({"variation", "reroll"})  # with enableRemix they stop in MODAL too


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
