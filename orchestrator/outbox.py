"""Tenant-facing events, written in the same transaction as the state change they report."""

from __future__ import annotations

import uuid

from sqlalchemy import insert
from sqlalchemy.orm import Session

from orchestrator.ids import new_uuid7
from orchestrator.models import OutboxEvent
from schemas.jobs import JobStatus

EVENT_TYPES: dict[JobStatus, str] = {
    JobStatus.QUEUED: "job.queued",
    JobStatus.RUNNING: "job.running",
    JobStatus.ACTION_REQUIRED: "job.action_required",
    JobStatus.SUCCEEDED: "job.succeeded",
    JobStatus.FAILED: "job.failed",
    JobStatus.CANCELLED: "job.cancelled",
    JobStatus.EXPIRED: "job.expired",
}


def record(
    session: Session, job_id: uuid.UUID, account_id: uuid.UUID, state: JobStatus, sequence: int
) -> uuid.UUID | None:
    """Queue the event for `state`, if tenants hear about that state at all."""
    event_type = EVENT_TYPES.get(state)
    if event_type is None:
        return None
    event_id = new_uuid7()
    session.execute(
        insert(OutboxEvent).values(
            event_id=event_id,
            job_id=job_id,
            account_id=account_id,
            event_type=event_type,
            sequence=sequence,
        )
    )
    return event_id
