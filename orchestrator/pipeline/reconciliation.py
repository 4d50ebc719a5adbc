"""Reconciling a submit whose answer was lost: find the upstream task by the job id we sent with
it; send again only when the provider can prove nothing was created; else wait for the deadline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from orchestrator.db import Database
from orchestrator.lifecycle import Change, Sql, advance
from orchestrator.models import Job
from orchestrator.pipeline import tracking
from orchestrator.pipeline.channels import channel_for
from orchestrator.schedule import after, at_most, retry_delay
from orchestrator.settings import Settings
from schemas.jobs import JobStatus
from workers.providers import PROVIDERS
from workers.providers.errors import ProviderUnavailableError

S = JobStatus


def reconcile(db: Database, http: httpx.Client, settings: Settings, job_id: uuid.UUID) -> JobStatus | None:
    """Find out what became of an ambiguous submit, by the job id we sent along with it."""
    with db.transaction() as session:
        job = session.execute(
            select(Job).where(Job.job_id == job_id, Job.state == S.SUBMITTING.value)
        ).scalar()
    if job is None:
        return None
    provider = PROVIDERS[job.provider]
    if not provider.finds_by_job_id:
        return _await_deadline(db, settings, job)
    try:
        channel = channel_for(settings, job.provider, job.channel)
        found = provider.find(http, channel, str(job.job_id), job.operation)
    except ProviderUnavailableError as exc:
        with db.transaction() as session:
            _reschedule(session, job, retry_delay(job.submit_attempts, retry_after=exc.retry_after))
        return S.SUBMITTING
    with db.transaction() as session:
        if found is not None:
            transition = tracking.apply_update(session, settings, job.job_id, found)
            return transition.to_state if transition else S.SUBMITTING
        return _settle_not_found(session, settings, job)


def _settle_not_found(session: Session, settings: Settings, job: Job) -> JobStatus | None:
    """The provider has no task with our id: expire at the deadline, wait, or send it again."""
    now = datetime.now(UTC)
    if now >= job.deadline_at:
        transition = tracking.expire(session, settings, job.job_id)
        return transition.to_state if transition else None
    settled_at = after(job.updated_at, settings.submit_lease_s)
    if now < settled_at:
        # A task created moments ago may not be visible yet (CometAPI answers task_not_exist
        # for a while): trust "not found" only once the lease has outlived any request.
        _reschedule(session, job, (settled_at - now).total_seconds())
        return S.SUBMITTING
    # Nothing upstream carries our id although the lease outlived any request: safe to send again.
    change = Change(S.QUEUED, detail={"reconciled": "not_found"}, columns={"next_check_at": Sql.NOW})
    return S.QUEUED if advance(session, job.job_id, S.SUBMITTING, change) else None


def _await_deadline(db: Database, settings: Settings, job: Job) -> JobStatus | None:
    """Without a lookup by our id, an ambiguous submit is neither resent nor released before its deadline."""
    with db.transaction() as session:
        if datetime.now(UTC) >= job.deadline_at:
            transition = tracking.expire(session, settings, job.job_id)
            return transition.to_state if transition else None
        session.execute(update(Job).where(Job.job_id == job.job_id).values(next_check_at=job.deadline_at))
    return S.SUBMITTING


def _reschedule(session: Session, job: Job, delay: float) -> None:
    when = at_most(after(datetime.now(UTC), delay), job.deadline_at)
    session.execute(update(Job).where(Job.job_id == job.job_id).values(next_check_at=when))
