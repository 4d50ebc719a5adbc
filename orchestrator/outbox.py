"""Tenant-facing events: recorded in the same transaction as the change they report, with a snapshot
of the job at that moment and a per-job sequence number; delivered by `webhooks`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, insert, update
from sqlalchemy.orm import Session

from orchestrator.ids import new_uuid7
from orchestrator.models import Job, OutboxEvent
from orchestrator.projections import family_of
from orchestrator.views import job_snapshot
from schemas.jobs import JobStatus

NEW_EVENTS = "webhook_events"  # session.info key: events to dispatch once the transaction commits
DISPATCH_LEASE = timedelta(seconds=60)  # the sweep re-dispatches an event whose first send was lost
PROGRESS_STEP = 20  # job.progress goes out when progress has risen this much since the last one
PROGRESS_EVENT = "job.progress"
# A timeline row of a job.progress event: the state unchanged, detail {"progress": n}.
PROGRESS_DETAIL = "progress"

EVENT_TYPES: dict[JobStatus, str] = {
    JobStatus.QUEUED: "job.queued",
    JobStatus.RUNNING: "job.running",
    JobStatus.ACTION_REQUIRED: "job.action_required",
    JobStatus.SUCCEEDED: "job.succeeded",
    JobStatus.FAILED: "job.failed",
    JobStatus.CANCELLED: "job.cancelled",
    JobStatus.EXPIRED: "job.expired",
}


def record_state(session: Session, job_id: uuid.UUID, state: JobStatus) -> uuid.UUID | None:
    """Queue the event for a job entering `state`, if tenants hear about that state at all."""
    event_type = EVENT_TYPES.get(state)
    return record(session, job_id, event_type) if event_type else None


def event_type_of(from_state: str | None, to_state: str, detail: dict[str, object] | None) -> str | None:
    """The tenant event a timeline row stands for, if any: a move into a state tenants hear about, or
    (the state unchanged) a progress step."""
    if from_state == to_state and detail is not None and PROGRESS_DETAIL in detail:
        return PROGRESS_EVENT
    return EVENT_TYPES.get(JobStatus(to_state))


def wanted(webhook_events: Sequence[str] | None, event_type: str) -> bool:
    """Whether a job whose client chose `webhook_events` (None: all of them) tells of `event_type`."""
    return webhook_events is None or event_type in webhook_events


def record(session: Session, job_id: uuid.UUID, event_type: str) -> uuid.UUID | None:
    row = session.execute(
        update(Job)
        .where(Job.job_id == job_id, Job.callback_url.is_not(None))
        .values(webhook_seq=Job.webhook_seq + 1)
        .returning(Job.webhook_seq)
    ).first()
    if row is None:
        return None  # no callback_url: nobody to tell
    job = session.get(Job, job_id, populate_existing=True)
    if job is None or job.callback_url is None:
        return None
    if not wanted(job.webhook_events, event_type):
        return None  # an event the client did not ask for (its sequence number unused)
    family = family_of(job.api_format)
    if family is not None and family.sends is not None and not family.sends(job.input, event_type):
        return None  # an event the client's route family did not ask for (its sequence number unused)
    event_id = new_uuid7()
    session.execute(
        insert(OutboxEvent).values(
            event_id=event_id,
            job_id=job_id,
            account_id=job.account_id,
            event_type=event_type,
            sequence=row.webhook_seq,
            url=job.callback_url,
            snapshot=job_snapshot(job),
            next_attempt_at=func.now() + DISPATCH_LEASE,
        )
    )
    session.info.setdefault(NEW_EVENTS, []).append(str(event_id))
    return event_id
