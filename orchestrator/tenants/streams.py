"""Reading the tenant events of a job or of an account for the event streams: the timeline rows that
make an event (`outbox.EVENT_TYPES`), each rendered as the webhook of that event renders it, and the
cursor a client resumes from.

A job's cursor is its timeline `sequence`: its changes are serialised by the job's row lock, so a job's
sequences commit in order.

An account's cursor cannot be a row id: an id is drawn when its row is inserted, not when it commits, so
a row with a lower id can commit after a higher one was read, and a reader past it would never see it.
Every row keeps the id of the transaction that wrote it (`job_events.xact_id`), and a read returns only
rows of transactions older than the oldest one still running (`pg_snapshot_xmin`): those have all ended,
so no row can appear below them later, while every row still to come belongs to a transaction at or
above that horizon. Rows are read in (transaction id, row id) order and the cursor is the last row's
pair; rows written by a transaction at or above the horizon wait for a later read (`Batch.held_back`),
which the reader schedules itself since no announcement may come when the older transaction ends.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, text, tuple_
from sqlalchemy.orm import Session

from orchestrator.errors import InvalidRequestError
from orchestrator.models import Job, JobEvent, JobOutput
from orchestrator.outbox import EVENT_TYPES, event_type_of, wanted
from orchestrator.storage import Storage
from orchestrator.tenants.jobs import find_job
from orchestrator.views import job_snapshot, output_views
from schemas.jobs import JobStatus
from schemas.webhooks import WebhookEvent

_EVENT_STATES = [state.value for state in EVENT_TYPES]
_HORIZON = text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
_ACCOUNT_CURSOR = re.compile(r"^(\d{1,19})-(\d{1,19})$")


@dataclass(frozen=True)
class StreamEvent:
    event_type: str
    cursor: str  # what the client sends back as `Last-Event-ID` to resume after this event
    body: str  # the JSON of a `WebhookEvent`


@dataclass(frozen=True)
class Batch:
    events: list[StreamEvent]
    ended: bool = False  # the job's terminal event is read: its stream is over
    held_back: bool = False  # events wait behind an older transaction: read again soon


@dataclass(frozen=True)
class AccountFilter:
    status: JobStatus | None = None  # only events of jobs entering this state
    provider: str | None = None


def job_cursor(value: str | None) -> int:
    """A job stream's resume point from `Last-Event-ID` (None or empty: from the job's first event)."""
    if not value:
        return 0
    if not value.isdigit() or len(value) > 9:
        raise InvalidRequestError("Last-Event-ID is not an event id of this job's stream", field="cursor")
    return int(value)


def account_cursor(value: str | None) -> tuple[int, int] | None:
    """An account stream's resume point from `Last-Event-ID` (None: from now on)."""
    if not value:
        return None
    found = _ACCOUNT_CURSOR.match(value)
    if found is None:
        raise InvalidRequestError("Last-Event-ID is not an event id of this account's stream", field="cursor")
    return int(found[1]), int(found[2])


def horizon(session: Session) -> int:
    """The oldest transaction still running (or the next one): every row of an older one is final."""
    return int(session.execute(_HORIZON).scalar_one())


def job_events(
    session: Session, account_id: uuid.UUID, job_id: uuid.UUID, after: int, storage: Storage, url_ttl_s: int
) -> tuple[Batch, int]:
    """The tenant's job's events after timeline `sequence` `after`, and the sequence past them;
    JobNotFoundError for another tenant's job."""
    job = find_job(session, account_id, job_id)  # first: a terminal state read here has its row below
    rows = (
        session.execute(
            select(JobEvent)
            .where(
                JobEvent.job_id == job_id,
                JobEvent.sequence > after,
                # An event row keeps the account (a progress step too, in any state); older rows do not.
                or_(JobEvent.account_id.is_not(None), JobEvent.to_state.in_(_EVENT_STATES)),
            )
            .order_by(JobEvent.sequence)
        )
        .scalars()
        .all()
    )
    shown = [(row, job.webhook_events, str(row.sequence)) for row in rows]
    events = _render(session, shown, storage, url_ttl_s, fallback=job)
    ended = JobStatus(job.state).is_terminal or any(JobStatus(row.to_state).is_terminal for row in rows)
    return Batch(events, ended=ended), rows[-1].sequence if rows else after


def account_events(
    session: Session,
    account_id: uuid.UUID,
    after: tuple[int, int],
    only: AccountFilter,
    storage: Storage,
    url_ttl_s: int,
) -> tuple[Batch, tuple[int, int]]:
    """The account's events after the cursor `after`, and the cursor past them (and past every
    transaction that has ended, when none of its rows is shown)."""
    now = horizon(session)  # first: every transaction below it has ended before the rows are read
    query = (
        select(JobEvent, Job.webhook_events)
        .join(Job, Job.job_id == JobEvent.job_id)
        .where(
            JobEvent.account_id == account_id,
            tuple_(JobEvent.xact_id, JobEvent.event_id) > tuple_(*after),
        )
        .order_by(JobEvent.xact_id, JobEvent.event_id)
    )
    if only.status is not None:  # jobs entering the state: its progress steps are not that
        query = query.where(
            JobEvent.to_state == only.status.value, JobEvent.from_state.is_distinct_from(JobEvent.to_state)
        )
    if only.provider is not None:
        query = query.where(Job.provider == only.provider)
    rows = session.execute(query).all()
    ready = [(row, webhook_events) for row, webhook_events in rows if (row.xact_id or 0) < now]
    shown = [(row, webhook_events, f"{row.xact_id}-{row.event_id}") for row, webhook_events in ready]
    events = _render(session, shown, storage, url_ttl_s)
    # Past the rows read, or up to the horizon when nothing waits below it (a skipped row included).
    cursor = (ready[-1][0].xact_id or 0, ready[-1][0].event_id) if ready else after
    if len(ready) == len(rows):
        cursor = max(cursor, (now, 0))
    return Batch(events, held_back=len(ready) < len(rows)), cursor


def start_of_account_stream(session: Session) -> tuple[int, int]:
    """Where an account stream without a cursor starts: at the events of transactions not ended yet."""
    return horizon(session), 0


def _render(
    session: Session,
    rows: Sequence[tuple[JobEvent, list[str] | None, str]],
    storage: Storage,
    url_ttl_s: int,
    fallback: Job | None = None,
) -> list[StreamEvent]:
    """Each row the client wants (`webhook_events`) as the webhook of its event: the job as it was then,
    and for `job.succeeded` its outputs with fresh links."""
    shown = []
    for row, chosen, cursor in rows:
        event_type = event_type_of(row.from_state, row.to_state, row.detail)
        if event_type is not None and wanted(chosen, event_type):
            shown.append((row, event_type, cursor))
    succeeded = {row.job_id for row, event_type, _ in shown if event_type == "job.succeeded"}
    outputs: dict[uuid.UUID, list[JobOutput]] = {job_id: [] for job_id in succeeded}
    if succeeded:
        for output in session.execute(select(JobOutput).where(JobOutput.job_id.in_(succeeded))).scalars():
            outputs[output.job_id].append(output)
    events = []
    for row, event_type, cursor in shown:
        links = output_views(outputs.get(row.job_id, []), storage, url_ttl_s)
        body = WebhookEvent.model_validate(
            {
                "type": event_type,
                "timestamp": row.created_at,
                "event_id": f"{row.job_id}:{row.sequence}",
                "sequence": row.sequence,
                "data": {**(row.snapshot or _as_it_was(row, fallback)), "outputs": links},
            }
        )
        events.append(StreamEvent(event_type, cursor, body.model_dump_json()))
    return events


def _as_it_was(row: JobEvent, job: Job | None) -> dict[str, Any]:
    """A row written before timeline rows kept snapshots: the job as it is, at the row's state."""
    assert job is not None, "only a job's own stream reaches rows without an account (or a snapshot)"
    return {**job_snapshot(job), "status": row.to_state, "progress": row.progress}
