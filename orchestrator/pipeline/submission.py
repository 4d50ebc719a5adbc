"""Sending claimed jobs upstream and acting on the answer: submitted, back to the queue (nothing was
created: retry, on another channel if one is healthy), failed (refused), or left `submitting` for
reconciliation (the answer was lost). Each channel's breaker learns from every answer."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.db import Database
from orchestrator.durations import claim_lead_s, next_scheduled_delay
from orchestrator.lifecycle import Change, Sql, advance
from orchestrator.models import Job
from orchestrator.pipeline import admission, capacity, channel_health, tracking
from orchestrator.pipeline.channels import channel_for, upstream_callback_url
from orchestrator.pipeline.failures import catalogued, failure_columns, redacted
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
ADMISSIONS_PER_TICK = 50


@dataclass(frozen=True)
class Parent:
    """The upstream task a follow-up acts on, and what its provider reported of it."""

    external_id: str | None = None
    result: Mapping[str, Any] | None = None


NO_PARENT = Parent()


def submit(db: Database, http: httpx.Client, settings: Settings, job_id: uuid.UUID) -> JobStatus | None:
    """Submit `job_id` (after any job that waited longer for capacity); its state afterwards, or None
    when it was not queued or has to wait for capacity."""
    for _ in range(2):  # an older waiting job may go first; then this one gets its turn
        with db.transaction() as session:
            job = admission.claim(session, settings, job_id)
            parent = _parent_of(session, job) if job else NO_PARENT
        if job is None:
            return None
        state = send(db, http, settings, job, parent)
        if job.job_id == job_id:
            return state
    return None


def admit_waiting(db: Database, http: httpx.Client, settings: Settings, provider: str) -> int:
    """Submit jobs that waited for `provider`'s capacity, oldest first, while channels have room."""
    admitted = 0
    while admitted < ADMISSIONS_PER_TICK:
        with db.transaction() as session:
            job = admission.claim_waiting(session, settings, provider)
            parent = _parent_of(session, job) if job else NO_PARENT
        if job is None:
            break
        send(db, http, settings, job, parent)
        admitted += 1
    return admitted


def send(
    db: Database, http: httpx.Client, settings: Settings, job: Job, parent: Parent = NO_PARENT
) -> JobStatus:
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
        parent_external_id=parent.external_id,
        parent_result=parent.result,
        deadline_at=job.deadline_at,
    )
    try:
        external_id = provider.submit(http, channel, request)
    except ProviderUnavailableError as exc:
        return _retry_later(db, settings, job, exc)
    except ProviderRejectedError as exc:
        return _refused(db, settings, job, exc)
    except SubmitOutcomeUnknownError as exc:
        error = redacted(settings, str(exc))
        log.warning("submit of job %s is ambiguous, reconciling: %s", job.job_id, error)
        with db.transaction() as session:
            channel_health.record_failure(session, settings, job.provider, channel.name, error, None)
        return S.SUBMITTING  # stays claimed; the sweep reconciles it when the lease runs out
    return _submitted(db, settings, job, external_id)


def _submitted(db: Database, settings: Settings, job: Job, external_id: str) -> JobStatus:
    with db.transaction() as session:
        model = (job.provider, job.model)
        # The first poll of the model's learned schedule, else the policy's.
        schedule = tracking.learned_schedules(session, settings, [model]).get(model)
        delay = next_scheduled_delay(schedule, 0.0, claim_lead_s(settings)) if schedule else None
        if delay is None:
            delay = poll_delay(settings.poll_policy(job.provider), 0)
        columns = {
            "external_id": external_id,
            "submitted_at": Sql.NOW,
            "next_check_at": at_most(after(datetime.now(UTC), delay), job.deadline_at),
        }
        channel_health.record_success(session, job.provider, job.channel or "")
        advance(session, job.job_id, S.SUBMITTING, Change(S.SUBMITTED, columns=columns))
    return S.SUBMITTED


def _parent_of(session: Session, job: Job) -> Parent:
    """The upstream task a follow-up acts on: the job's own when it continues after a modal step,
    else its parent's (a Midjourney action, a Kling extension)."""
    if tracking.CONTINUATION_KEY in job.input:
        return Parent(job.external_id, job.result)
    if job.parent_job_id is None:
        return NO_PARENT
    row = session.execute(
        select(Job.external_id, Job.result).where(Job.job_id == job.parent_job_id)
    ).one_or_none()
    return NO_PARENT if row is None else Parent(row.external_id, row.result)


def _retry_later(db: Database, settings: Settings, job: Job, exc: ProviderUnavailableError) -> JobStatus:
    """Nothing was created upstream: retry, at once on another healthy channel, else after a back-off."""
    with db.transaction() as session:
        channel_health.record_failure(
            session, settings, job.provider, job.channel or "", redacted(settings, str(exc)), exc.retry_after
        )
        if job.submit_attempts >= settings.max_submit_attempts:
            message = f"the provider stayed unavailable: {exc}"
            return _fail_in(session, settings, job, "upstream_unavailable", message)
        if capacity.has_other_healthy(session, settings, job.provider, exclude=job.channel):
            delay = 0.0  # fail over: another channel takes it now
        else:
            delay = retry_delay(job.submit_attempts, retry_after=exc.retry_after)
        ends = [at for at in (job.deadline_at, job.start_deadline_at) if at is not None]
        when = at_most(after(datetime.now(UTC), delay), min(ends))  # back to expire it, if need be
        change = Change(S.QUEUED, columns={"next_check_at": when}, detail={"retry_in_s": round(delay, 1)})
        advance(session, job.job_id, S.SUBMITTING, change)
    return S.QUEUED


def _refused(db: Database, settings: Settings, job: Job, exc: ProviderRejectedError) -> JobStatus:
    """Fail a job its provider refused, with the provider's own code and message kept beside ours."""
    code = catalogued(exc.code, "upstream_rejected", source=f"provider {job.provider}")
    with db.transaction() as session:
        return _fail_in(session, settings, job, code, exc.message, exc)


def _fail_in(
    session: Session,
    settings: Settings,
    job: Job,
    code: str,
    message: str,
    refusal: ProviderRejectedError | None = None,
) -> JobStatus:
    """Fail the job; `message` may quote the provider, so it is redacted and cut to length here."""
    columns = failure_columns(
        settings,
        code,
        message,
        provider_code=refusal.provider_code if refusal else None,
        provider_message=refusal.provider_message if refusal else None,
    )
    change = Change(S.FAILED, columns=columns, detail={"error": code})
    advance(session, job.job_id, S.SUBMITTING, change)
    return S.FAILED


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
