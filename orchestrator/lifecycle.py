"""The job state machine: the table of legal moves and the only function that changes a job's state.

Every change is a compare-and-set on the state the caller read, writes a `job_events` row, and, when
the new state is terminal, settles the job's hold in the same transaction: captured on success,
released otherwise. A change that makes a tenant event also keeps the job as it then is in its row and
announces itself to the API processes (`job_ends`), which wake the streams and waiters watching it.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, cast

from sqlalchemy import SmallInteger, Update, bindparam, func, insert, null, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ClauseElement, ColumnElement

from orchestrator import job_ends, ledger, logs, outbox
from orchestrator.errors import InvalidTransitionError, LedgerError
from orchestrator.models import Job, JobEvent, table
from orchestrator.views import job_snapshot
from schemas import failures
from schemas.jobs import TERMINAL_STATUSES, JobStatus

log = logging.getLogger(__name__)
# Built once with bound values (cheaper per call than an ORM statement built from values).
_INSERT_EVENT = insert(table(JobEvent))
_jobs = table(Job)
S = JobStatus
_ENDINGS = frozenset({S.FAILED, S.CANCELLED, S.EXPIRED})
# What a change to a state with a tenant event returns besides: the job as the API shows it (the
# columns `views.job_snapshot` reads) and its account.
_SNAPSHOT_COLUMNS = (
    "job_id",
    "account_id",
    "provider",
    "operation",
    "model",
    "state",
    "error_code",
    "error_message",
    "provider_error",
    "result",
    "outputs_expired_at",
    "inputs_cleared_at",
    "data_deleted_at",
    "parent_job_id",
    "charged",
    "metadata",
    "created_at",
    "updated_at",
    "submitted_at",
    "finished_at",
    "deadline_at",
    "start_deadline_at",
    "webhook_events",
)

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


class Sql(Enum):
    """A column value the database computes in the changing statement itself (see `Change.columns`)."""

    NOW = "now()"
    INCREMENT = "the column plus one"
    NOW_IF_UNSET = "now(), unless the column is already set"


@dataclass(frozen=True)
class Change:
    """A requested move to `to`, with the columns it sets and what the timeline should say.

    `columns` maps column names to plain values, None (SQL NULL) or a `Sql` value; nothing else, so
    that each shape of change is one statement built once (building a statement per call cost more
    CPU than executing it).
    """

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
    code = change.columns.get("error_code")
    if isinstance(code, str) and not failures.is_known(code):
        # Tenants are promised a closed set: a code of the core's own outside it is a bug, never shown.
        raise InvalidTransitionError(f"error code {code!r} is not in the failure catalogue")
    kinds = {key: _kind(key, value) for key, value in change.columns.items()}
    shape = tuple(sorted(kinds.items()))
    params = {
        "cas_job_id": job_id,
        "cas_expected": expected.value,
        "cas_progress": change.progress,
        **{f"v_{key}": change.columns[key] for key, kind in kinds.items() if kind == _VALUE},
    }
    statement = _advance_statement(change.to, change.progress is not None, shape)
    row = session.execute(statement, params).one_or_none()
    if row is None:
        return None
    event = event_row(job_id, row.event_seq, expected, change.to, row.progress, change.detail)
    if change.to in outbox.EVENT_TYPES:
        event.update(account_id=row.account_id, snapshot=job_snapshot(_as_job(row)))
    record_events(session, [event])
    _settle(session, job_id, change.to, row.price)
    if change.to in outbox.EVENT_TYPES:
        # Wakes the streams watching the job or its account, and requests waiting for its end.
        job_ends.announce(session, row.account_id, change.to, job_id)
    if row.callback_url:
        outbox.record_state(session, job_id, change.to)
    moved = Transition(job_id, expected, change.to, row.event_seq)
    _log_on_commit(session, moved, row.provider, row.channel)
    return moved


_VALUE, _NULL = "value", "null"
Shape = tuple[tuple[str, str | Sql], ...]  # (column, _VALUE | _NULL | Sql) for each column a change sets


def _kind(key: str, value: Any) -> str | Sql:
    if isinstance(value, Sql):
        return value
    if isinstance(value, ClauseElement):
        raise TypeError(f"column {key!r}: pass a plain value or a lifecycle.Sql, not an SQL expression")
    return _NULL if value is None else _VALUE


@functools.lru_cache(maxsize=256)
def _advance_statement(to: JobStatus, with_progress: bool, shape: Shape) -> Update:
    """The compare-and-set UPDATE for one shape of change, executed with bound values."""
    values: dict[str, Any] = {
        "state": to.value,
        "updated_at": func.now(),
        "event_seq": _jobs.c.event_seq + 1,
    }
    for key, kind in shape:
        values[key] = _column_value(_jobs.c[key], kind)
    if with_progress:
        values["progress"] = func.greatest(_jobs.c.progress, bindparam("cas_progress", type_=SmallInteger))
    if to in TERMINAL_STATUSES:
        values.update(finished_at=func.now(), next_check_at=null())
    if to is S.SUCCEEDED:
        # The hold is the price (ledger.reserve), and it is captured below in this transaction.
        values.update(progress=100, charged=_jobs.c.price)
    returned = ["event_seq", "progress", "price", "callback_url", "provider", "channel"]
    if to in outbox.EVENT_TYPES:  # only these keep a snapshot: the others return no more than before
        returned += [name for name in _SNAPSHOT_COLUMNS if name not in returned]
    return (
        update(_jobs)
        .where(_jobs.c.job_id == bindparam("cas_job_id"), _jobs.c.state == bindparam("cas_expected"))
        .values(values)
        # Each column under its model attribute's name, so that the row reads as the job does.
        .returning(*(_jobs.c[name].label("metadata_" if name == "metadata" else name) for name in returned))
    )


def _as_job(row: Any) -> Job:
    """The returned row, which `views.job_snapshot` reads as it reads a job: building an ORM object from
    it cost more than the snapshot itself."""
    return cast(Job, row)


def _column_value(column: ColumnElement[Any], kind: str | Sql) -> ColumnElement[Any]:
    if kind == _VALUE:
        return bindparam(f"v_{column.key}", type_=column.type)
    if kind == _NULL:
        return null()
    if kind is Sql.INCREMENT:
        return column + 1
    if kind is Sql.NOW_IF_UNSET:
        return func.coalesce(column, func.now())
    return func.now()


def _settle(session: Session, job_id: uuid.UUID, to_state: JobStatus, price: int) -> None:
    """Capture the hold on success, release it on any other ending."""
    if to_state is S.SUCCEEDED:
        captured = ledger.capture(session, job_id)
        if captured != price:  # `charged` was set to the price in the same statement as the state
            raise LedgerError(f"job {job_id} captured {captured}, not its price {price}")
    elif to_state in _ENDINGS:
        ledger.release(session, job_id)


def record_events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append timeline entries (`event_row`s), in one statement however many."""
    session.execute(_INSERT_EVENT, rows)


def event_row(
    job_id: uuid.UUID,
    sequence: int,
    from_state: JobStatus | None,
    to_state: JobStatus,
    progress: int,
    detail: dict[str, Any] | None,
) -> dict[str, Any]:
    """The job's timeline entry number `sequence`."""
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


_RAISE_PROGRESS = (
    update(_jobs)
    .where(
        _jobs.c.job_id == bindparam("raising_job"),
        _jobs.c.state == bindparam("raising_state"),
        _jobs.c.progress < bindparam("raising_to", type_=SmallInteger),
    )
    .values(progress=bindparam("raising_to", type_=SmallInteger), updated_at=func.now())
)


# A rise of PROGRESS_STEP points since the last told is an event (`job.progress`): a timeline row that
# keeps the job's snapshot (streams replay it) and, for a job with a callback URL, its webhook.
_CLAIM_PROGRESS_EVENT = (
    update(_jobs)
    .where(
        _jobs.c.job_id == bindparam("told_job"),
        _jobs.c.notified_progress <= bindparam("told_progress", type_=SmallInteger) - outbox.PROGRESS_STEP,
    )
    .values(notified_progress=bindparam("told_progress", type_=SmallInteger), event_seq=_jobs.c.event_seq + 1)
    .returning(
        *(
            _jobs.c[name].label("metadata_" if name == "metadata" else name)
            for name in ("event_seq", "progress", "price", "callback_url", *_SNAPSHOT_COLUMNS)
        )
    )
)


def record_progress(session: Session, job_id: uuid.UUID, state: JobStatus, progress: int) -> bool:
    """Raise the progress of a job still in `state`; progress never goes backwards. A rise of
    `outbox.PROGRESS_STEP` points since the last one told makes a `job.progress` event."""
    result = session.execute(
        _RAISE_PROGRESS, {"raising_job": job_id, "raising_state": state.value, "raising_to": progress}
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    told = {"told_job": job_id, "told_progress": progress}
    row = session.execute(_CLAIM_PROGRESS_EVENT, told).one_or_none()
    if row is None:
        return True
    event = event_row(job_id, row.event_seq, state, state, row.progress, {outbox.PROGRESS_DETAIL: progress})
    event.update(account_id=row.account_id, snapshot=job_snapshot(_as_job(row)))
    record_events(session, [event])
    job_ends.announce(session, row.account_id, state, job_id)  # wakes its streams, not its waiters
    if row.callback_url:
        outbox.record(session, job_id, outbox.PROGRESS_EVENT)
    return True
