"""Job use-cases for tenants after creation (see `creating`): read, list, cancel, continue, and the
timeline."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator import lifecycle
from orchestrator.errors import (
    InvalidRequestError,
    JobNotCancellableError,
    JobNotContinuableError,
    JobNotFoundError,
)
from orchestrator.models import Job, JobEvent, JobOutput
from orchestrator.pipeline import tracking
from orchestrator.pipeline.failures import failure_columns
from orchestrator.settings import Settings
from orchestrator.tenants.creating import validate_input
from schemas.jobs import JobStatus
from workers.providers import PROVIDERS

MAX_PAGE = 100


def find_job(session: Session, account_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    """The tenant's job; JobNotFoundError for a job of another tenant, as for one that doesn't exist."""
    job = session.execute(
        select(Job).where(Job.job_id == job_id, Job.account_id == account_id)
    ).scalar_one_or_none()
    if job is None:
        raise JobNotFoundError(f"no job {job_id} in this account")
    return job


def job_status(session: Session, account_id: uuid.UUID, job_id: uuid.UUID) -> JobStatus:
    """The tenant's job's state alone: what a waiting request reads each time it is woken."""
    state = session.execute(
        select(Job.state).where(Job.job_id == job_id, Job.account_id == account_id)
    ).scalar_one_or_none()
    if state is None:
        raise JobNotFoundError(f"no job {job_id} in this account")
    return JobStatus(state)


def get_job(session: Session, account_id: uuid.UUID, job_id: uuid.UUID) -> tuple[Job, Sequence[JobOutput]]:
    """The job and its stored outputs."""
    job = find_job(session, account_id, job_id)
    outputs = session.execute(select(JobOutput).where(JobOutput.job_id == job_id)).scalars().all()
    return job, outputs


def list_jobs(
    session: Session,
    account_id: uuid.UUID,
    *,
    status: JobStatus | None = None,
    provider: str | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[tuple[Job, list[JobOutput]]], str | None]:
    """Newest first. Returns the page and the cursor of the next one (None at the end)."""
    query = select(Job).where(Job.account_id == account_id)
    if status is not None:
        query = query.where(Job.state == status.value)
    if provider is not None:
        query = query.where(Job.provider == provider)
    if cursor is not None:
        query = query.where(Job.job_id < decode_cursor(cursor))
    rows = session.execute(query.order_by(Job.job_id.desc()).limit(limit + 1)).scalars().all()
    page, more = rows[:limit], len(rows) > limit
    outputs: dict[uuid.UUID, list[JobOutput]] = {job.job_id: [] for job in page}
    if page:
        for output in session.execute(select(JobOutput).where(JobOutput.job_id.in_(outputs))).scalars():
            outputs[output.job_id].append(output)
    next_cursor = encode_cursor(page[-1].job_id) if more else None
    return [(job, outputs[job.job_id]) for job in page], next_cursor


def encode_cursor(job_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(job_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise InvalidRequestError("cursor is not one this API returned", field="cursor") from exc


def cancel_job(session: Session, account_id: uuid.UUID, job_id: uuid.UUID, settings: Settings) -> bool:
    """Cancel and release the hold, while nothing upstream is running that cannot be stopped.

    Returns True when an upstream task must now be told to stop (after the caller commits).
    """
    job = find_job(session, account_id, job_id)
    state = JobStatus(job.state)
    if state is JobStatus.CANCELLED:
        return False
    if state.is_terminal:
        raise JobNotCancellableError(f"the job already ended as {state}")
    provider = PROVIDERS[job.provider]
    stoppable = {JobStatus.QUEUED, JobStatus.ACTION_REQUIRED}
    if provider.supports_cancel:
        stoppable |= (
            {JobStatus.SUBMITTED, JobStatus.RUNNING} if provider.cancels_running else {JobStatus.SUBMITTED}
        )
    if state not in stoppable:
        raise JobNotCancellableError(_not_cancellable_reason(job.provider, state))
    change = lifecycle.Change(
        JobStatus.CANCELLED,
        columns=failure_columns(settings, "cancelled", "cancelled at the client's request"),
        detail={"reason": "client_request"},
    )
    if lifecycle.advance(session, job_id, state, change) is None:
        raise JobNotCancellableError("the job changed state while cancelling; fetch it and try again")
    return job.external_id is not None and state in {JobStatus.SUBMITTED, JobStatus.RUNNING}


def _not_cancellable_reason(provider: str, state: JobStatus) -> str:
    if state is JobStatus.RUNNING and PROVIDERS[provider].supports_cancel:
        return f"{provider} cannot stop a task once it is running; it will finish or fail on its own"
    if state in {JobStatus.SUBMITTED, JobStatus.RUNNING}:
        return f"{provider} cannot stop a task once it is submitted; it will finish or fail on its own"
    return f"the job is {state} right now; try again in a moment"


def continue_job(
    session: Session, account_id: uuid.UUID, job_id: uuid.UUID, raw_input: dict[str, Any], settings: Settings
) -> None:
    """Give a job waiting for input (Midjourney's modal step) what it needs; it is submitted again,
    holding the same credits, with a fresh deadline."""
    job = find_job(session, account_id, job_id)
    if job.state != JobStatus.ACTION_REQUIRED:
        raise JobNotContinuableError(
            f"the job is {job.state}; only a job in action_required can be continued"
        )
    model = PROVIDERS[job.provider].continuation_input
    if model is None:
        raise JobNotContinuableError(f"{job.provider} jobs never wait for more input")
    continuation = validate_input(model, raw_input)
    now = datetime.now(UTC)
    columns = {
        "input": {**job.input, tracking.CONTINUATION_KEY: continuation},
        "next_check_at": now + timedelta(seconds=settings.redispatch_after_s),
        "deadline_at": now + timedelta(seconds=settings.deadline_for(job.provider, job.model)),
        "start_deadline_at": None,  # spent: the task was accepted upstream before it asked for input
    }
    change = lifecycle.Change(JobStatus.QUEUED, columns=columns, detail={"continued": True})
    if lifecycle.advance(session, job_id, JobStatus.ACTION_REQUIRED, change) is None:
        raise JobNotContinuableError("the job changed state meanwhile; fetch it and try again")


def list_events(session: Session, account_id: uuid.UUID, job_id: uuid.UUID) -> Sequence[JobEvent]:
    find_job(session, account_id, job_id)
    return (
        session.execute(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.sequence))
        .scalars()
        .all()
    )
