"""The job state machine: the table of legal moves and the only function that changes a job's state.

Every change is a compare-and-set on the state the caller read, writes a `job_events` row, and, when
the new state is terminal, settles the job's hold in the same transaction: captured on success,
released otherwise.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, update
from sqlalchemy.orm import Session

from orchestrator import ledger, logs, outbox
from orchestrator.errors import InvalidTransitionError, LedgerError
from orchestrator.models import Job, JobEvent, table
from schemas.jobs import TERMINAL_STATUSES, JobStatus

log = logging.getLogger(__name__)
# Built once with bound values (cheaper per call than an ORM statement built from values).
_INSERT_EVENT = insert(table(JobEvent))
S = JobStatus
_ENDINGS = frozenset({S.FAILED, S.CANCELLED, S.EXPIRED})

TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    S.QUEUED: frozenset({S.SUBMITTING}) | _ENDINGS,
    # Back to QUEUED only when the provider proved it created nothing (retry later).
    S.SUBMITTING: frozenset({S.QUEUED, S.SUBMITTED, S.RUNNING, S.ACTION_REQUIRED, S.STORING}) | _ENDINGS,
    S.SUBMITTED: frozenset({S.RUNNING, S.ACTION_REQUIRED, S.STORING}) | _ENDINGS,
    S.RUNNING: frozenset({S.ACTION_REQUIRED, S.STORING}) | _ENDINGS,
    # Back to QUEUED when the client continues it (the continuation is submitted like a new task).
    S.ACTION_REQUIRED: frozenset({S.QUEUED, S.SUBMITTED, S.RUNNING, S.STORING}) | _ENDINGS,
    S.STORING: frozenset({S.SUCCEEDED}) | _ENDINGS,
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}

# How far along each state is; an update that would move a job backwards is stale.
RANK: Mapping[JobStatus, int] = {
    S.QUEUED: 0,
    S.SUBMITTING: 1,
    S.SUBMITTED: 2,
    S.RUNNING: 3,
    S.ACTION_REQUIRED: 3,
    S.STORING: 4,
    S.SUCCEEDED: 5,
    S.FAILED: 5,
    S.CANCELLED: 5,
    S.EXPIRED: 5,
}


@dataclass(frozen=True)
class Change:
    """A requested move to `to`, with the columns it sets and what the timeline should say."""

    to: JobStatus
    progress: int | None = None
    columns: Mapping[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] | None = None


@dataclass(frozen=True)
class Transition:
    job_id: uuid.UUID
    from_state: JobStatus
    to_state: JobStatus
    sequence: int


def is_legal(from_state: JobStatus, to_state: JobStatus) -> bool:
    return to_state in TRANSITIONS[from_state]


def advance(session: Session, job_id: uuid.UUID, expected: JobStatus, change: Change) -> Transition | None:
    """Move the job from `expected` to `change.to`; None when it is no longer in `expected`.

    A move to the state the job is already in is a no-op; a move the table forbids raises.
    """
    if change.to == expected:
        return None
    if not is_legal(expected, change.to):
        raise InvalidTransitionError(f"a job cannot go from {expected} to {change.to}")
    values: dict[str, Any] = {
        "state": change.to.value,
        "updated_at": func.now(),
        "event_seq": Job.event_seq + 1,
        **change.columns,
    }
    if change.progress is not None:
        values["progress"] = func.greatest(Job.progress, change.progress)
    if change.to in TERMINAL_STATUSES:
        values.update(finished_at=func.now(), next_check_at=None)
    if change.to is S.SUCCEEDED:
        # The hold is the price (ledger.reserve), and it is captured below in this transaction.
        values.update(progress=100, charged=Job.price)
    row = session.execute(
        update(Job)
        .where(Job.job_id == job_id, Job.state == expected.value)
        .values(values)
        .returning(Job.event_seq, Job.progress, Job.price, Job.callback_url, Job.provider, Job.channel)
    ).one_or_none()
    if row is None:
        return None
    record_event(session, job_id, row.event_seq, expected, change.to, row.progress, change.detail)
    _settle(session, job_id, change.to, row.price)
    if row.callback_url:
        outbox.record_state(session, job_id, change.to)
    moved = Transition(job_id, expected, change.to, row.event_seq)
    _log_on_commit(session, moved, row.provider, row.channel)
    return moved


def _settle(session: Session, job_id: uuid.UUID, to_state: JobStatus, price: int) -> None:
    """Capture the hold on success, release it on any other ending."""
    if to_state is S.SUCCEEDED:
        captured = ledger.capture(session, job_id)
        if captured != price:  # `charged` was set to the price in the same statement as the state
            raise LedgerError(f"job {job_id} captured {captured}, not its price {price}")
    elif to_state in _ENDINGS:
        ledger.release(session, job_id)


def record_event(
    session: Session,
    job_id: uuid.UUID,
    sequence: int,
    from_state: JobStatus | None,
    to_state: JobStatus,
    progress: int,
    detail: dict[str, Any] | None,
) -> None:
    """Append the job's timeline entry number `sequence`."""
    session.execute(_INSERT_EVENT, event_row(job_id, sequence, from_state, to_state, progress, detail))


def record_events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append many timeline entries (`event_row`s) in one statement."""
    session.execute(_INSERT_EVENT, rows)


def event_row(
    job_id: uuid.UUID,
    sequence: int,
    from_state: JobStatus | None,
    to_state: JobStatus,
    progress: int,
    detail: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "sequence": sequence,
        "from_state": from_state.value if from_state else None,
        "to_state": to_state.value,
        "progress": progress,
        "detail": detail,
    }


def _log_on_commit(session: Session, moved: Transition, provider: str, channel: str | None) -> None:
    # Ids and states only: never the job's input, keys or URLs.
    logs.on_commit(
        session,
        log,
        f"job {moved.job_id} {moved.from_state.value} -> {moved.to_state.value}",
        event="job_transition",
        job_id=str(moved.job_id),
        provider=provider,
        channel=channel,
        from_state=moved.from_state.value,
        state=moved.to_state.value,
        sequence=moved.sequence,
    )


def record_progress(session: Session, job_id: uuid.UUID, state: JobStatus, progress: int) -> bool:
    """Raise the progress of a job still in `state`; progress never goes backwards."""
    result = session.execute(
        update(Job)
        .where(Job.job_id == job_id, Job.state == state.value, Job.progress < progress)
        .values(progress=progress, updated_at=func.now())
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    outbox.record_progress(session, job_id, progress)
    return True
