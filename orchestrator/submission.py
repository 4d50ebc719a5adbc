"""Submitting a queued job upstream, and reconciling a submit whose answer was lost.

The claim (queued -> submitting) commits before the request leaves, so a job in `submitting` always
means "a request may have reached the provider": it is never simply sent again, only reconciled.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from orchestrator import tracking
from orchestrator.channels import channel_for, upstream_callback_url
from orchestrator.db import Database
from orchestrator.lifecycle import Change, advance
from orchestrator.models import Job
from orchestrator.schedule import after, at_most, poll_delay, retry_delay
from orchestrator.settings import Settings
from schemas.jobs import JobStatus
from workers.providers import PROVIDERS
from workers.providers.base import SubmitRequest, TaskRef
from workers.providers.errors import (
    ProviderRejectedError,
    ProviderUnavailableError,
    SubmitOutcomeUnknownError,
)

log = logging.getLogger(__name__)
S = JobStatus


def submit(db: Database, http: httpx.Client, settings: Settings, job_id: uuid.UUID) -> JobStatus | None:
    """Send one queued job upstream; returns the state it ended in, None if it was not queued."""
    with db.transaction() as session:
        job = _claim(session, job_id, settings)
        parent_external_id = _parent_external_id(session, job) if job else None
    if job is None:
        return None
    provider = PROVIDERS[job.provider]
    channel = channel_for(settings, job.provider, job.channel)
    wants_callbacks = settings.upstream_callbacks and provider.sends_callbacks
    request = SubmitRequest(
        job_id=str(job.job_id),
        operation=job.operation,
        model=job.model,
        input=job.input,
        callback_url=upstream_callback_url(settings, job.provider, job.callback_token)
        if wants_callbacks
        else None,
        parent_external_id=parent_external_id,
    )
    try:
        external_id = provider.submit(http, channel, request)
    except ProviderUnavailableError as exc:
        return _retry_later(db, settings, job, exc)
    except ProviderRejectedError as exc:
        return _fail(db, job.job_id, exc.code, exc.message)
    except SubmitOutcomeUnknownError as exc:
        log.warning("submit of job %s is ambiguous, reconciling: %s", job.job_id, exc)
        return S.SUBMITTING  # stays claimed; the sweep reconciles it when the lease runs out
    now = datetime.now(UTC)
    columns = {
        "external_id": external_id,
        "submitted_at": func.now(),
        "next_check_at": at_most(
            after(now, poll_delay(settings.poll_policy(job.provider), 0)), job.deadline_at
        ),
    }
    with db.transaction() as session:
        advance(session, job.job_id, S.SUBMITTING, Change(S.SUBMITTED, columns=columns))
    return S.SUBMITTED


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
        return _await_deadline(db, job)
    try:
        found = provider.find(
            http, channel_for(settings, job.provider, job.channel), str(job.job_id), job.operation
        )
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
        transition = tracking.expire(session, job.job_id)
        return transition.to_state if transition else None
    settled_at = after(job.updated_at, settings.submit_lease_s)
    if now < settled_at:
        # A task created moments ago may not be visible yet (CometAPI answers task_not_exist
        # for a while): trust "not found" only once the lease has outlived any request.
        _reschedule(session, job, (settled_at - now).total_seconds())
        return S.SUBMITTING
    # Nothing upstream carries our id although the lease outlived any request: safe to send again.
    change = Change(S.QUEUED, detail={"reconciled": "not_found"}, columns={"next_check_at": func.now()})
    return S.QUEUED if advance(session, job.job_id, S.SUBMITTING, change) else None


def _parent_external_id(session: Session, job: Job) -> str | None:
    """The upstream task a follow-up acts on: the job's own when it continues after a modal step,
    else its parent's (a Midjourney action)."""
    if tracking.CONTINUATION_KEY in job.input:
        return job.external_id
    if job.parent_job_id is None:
        return None
    return session.execute(select(Job.external_id).where(Job.job_id == job.parent_job_id)).scalar()


def _claim(session: Session, job_id: uuid.UUID, settings: Settings) -> Job | None:
    provider = session.execute(
        select(Job.provider).where(Job.job_id == job_id, Job.state == S.QUEUED.value)
    ).scalar()
    if provider is None:
        return None
    columns = {
        "submit_attempts": Job.submit_attempts + 1,
        "next_check_at": after(datetime.now(UTC), settings.submit_lease_s),
        # Recorded before sending, so a reconcile asks the channel the request went to.
        "channel": channel_for(settings, provider).name,
    }
    transition = advance(session, job_id, S.QUEUED, Change(S.SUBMITTING, columns=columns))
    return session.get(Job, job_id, populate_existing=True) if transition else None


def _retry_later(db: Database, settings: Settings, job: Job, exc: ProviderUnavailableError) -> JobStatus:
    if job.submit_attempts >= settings.max_submit_attempts:
        return _fail(db, job.job_id, "upstream_unavailable", f"the provider stayed unavailable: {exc}")
    delay = retry_delay(job.submit_attempts, retry_after=exc.retry_after)
    when = at_most(after(datetime.now(UTC), delay), job.deadline_at)
    with db.transaction() as session:
        advance(
            session,
            job.job_id,
            S.SUBMITTING,
            Change(S.QUEUED, columns={"next_check_at": when}, detail={"retry_in_s": round(delay, 1)}),
        )
    return S.QUEUED


def _fail(db: Database, job_id: uuid.UUID, code: str, message: str) -> JobStatus:
    with db.transaction() as session:
        advance(
            session,
            job_id,
            S.SUBMITTING,
            Change(
                S.FAILED,
                columns={"error_code": code, "error_message": message},
                detail={"error": code},
            ),
        )
    return S.FAILED


def _await_deadline(db: Database, job: Job) -> JobStatus | None:
    """Without a lookup by our id, an ambiguous submit is neither resent nor released before its deadline."""
    with db.transaction() as session:
        if datetime.now(UTC) >= job.deadline_at:
            transition = tracking.expire(session, job.job_id)
            return transition.to_state if transition else None
        session.execute(update(Job).where(Job.job_id == job.job_id).values(next_check_at=job.deadline_at))
    return S.SUBMITTING


def _reschedule(session: Session, job: Job, delay: float) -> None:
    when = at_most(after(datetime.now(UTC), delay), job.deadline_at)
    session.execute(update(Job).where(Job.job_id == job.job_id).values(next_check_at=when))


def cancel_upstream(db: Database, http: httpx.Client, settings: Settings, job_id: uuid.UUID) -> bool:
    """Tell the provider to stop a job that was cancelled here; True when it was asked to."""
    with db.transaction() as session:
        job = session.execute(
            select(Job).where(Job.job_id == job_id, Job.state == S.CANCELLED.value)
        ).scalar()
    if job is None or job.external_id is None or not PROVIDERS[job.provider].supports_cancel:
        return False
    task = TaskRef(job_id=str(job.job_id), operation=job.operation, external_id=job.external_id)
    PROVIDERS[job.provider].cancel(http, channel_for(settings, job.provider, job.channel), task)
    return True
