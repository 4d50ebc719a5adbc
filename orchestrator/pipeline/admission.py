"""Claiming queued jobs for submission (queued -> submitting): the channel each goes to, within
the channels' concurrency caps and health, and first in, first out among jobs that had to wait.

The claim commits before any request leaves, so `submitting` always means "a request may have
reached the provider" (see reconciliation).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm import Session, aliased

from orchestrator.lifecycle import Change, Sql, advance
from orchestrator.models import Job, table
from orchestrator.pipeline import capacity, tracking
from orchestrator.pipeline.failures import failure_columns
from orchestrator.schedule import after
from orchestrator.settings import Settings
from schemas.jobs import JobStatus

S = JobStatus


_jobs = table(Job)
_QUEUED_PROVIDER = select(_jobs.c.provider).where(
    _jobs.c.job_id == bindparam("claiming_job"), _jobs.c.state == S.QUEUED.value
)


def claim(session: Session, settings: Settings, job_id: uuid.UUID) -> Job | None:
    """Claim work for a submit of `job_id`: a job that waited longer for capacity goes first.

    Returns the claimed job (maybe not `job_id`), or None when `job_id` is not queued or no channel
    can take anything now — then it waits, `awaiting_capacity`, holding no worker.
    """
    provider = session.execute(_QUEUED_PROVIDER, {"claiming_job": job_id}).scalar()
    if provider is None:
        return None
    waited = capacity.oldest_waiting(session, provider)
    for candidate in dict.fromkeys(c for c in (waited, job_id) if c is not None):
        channel = _channel_for(session, settings, provider, candidate)
        if channel is not None:
            return _take(session, settings, candidate, channel)
    _await_capacity(session, job_id)
    return None


def claim_waiting(session: Session, settings: Settings, provider: str) -> Job | None:
    """Claim the job that has waited longest for `provider`'s capacity, if a channel has room now."""
    job_id = capacity.oldest_waiting(session, provider)
    if job_id is None:
        return None
    channel = _channel_for(session, settings, provider, job_id)
    return None if channel is None else _take(session, settings, job_id, channel)


_parents = aliased(Job)
# A follow-up runs on the upstream account that owns what it acts on: a continuation after a modal
# step on its own task's channel, a job with a parent on the parent's.
_PINNED_CHANNEL = (
    select(
        case((_jobs.c.input.has_key(tracking.CONTINUATION_KEY), _jobs.c.channel), else_=_parents.channel),
        _jobs.c.start_deadline_at,
    )
    .select_from(_jobs)
    .outerjoin(_parents, _parents.job_id == _jobs.c.parent_job_id)
    .where(_jobs.c.job_id == bindparam("pinned_job"))
)


def _channel_for(session: Session, settings: Settings, provider: str, job_id: uuid.UUID) -> str | None:
    """The channel `job_id` can go to now, or None (it waits; or it ended: its client's start-by
    deadline passed, or its pinned channel is no longer configured)."""
    pinned, start_by = session.execute(_PINNED_CHANNEL, {"pinned_job": job_id}).one()
    if start_by is not None and datetime.now(UTC) >= start_by:
        # Checked in the claim's transaction, which commits before any request leaves: never sent late.
        tracking.expire(session, settings, job_id, before_start=True)
        return None
    if pinned is not None and not capacity.is_configured(session, settings, provider, pinned):
        message = (
            f"channel {pinned!r}, which holds the upstream task this job acts on, is no longer "
            "configured; a follow-up can only run on the upstream account that owns its parent"
        )
        code = "parent_channel_gone"
        columns = failure_columns(settings, code, message)
        advance(session, job_id, S.QUEUED, Change(S.FAILED, columns=columns, detail={"error": code}))
        return None
    return capacity.choose(session, settings, provider, only=pinned)


def _take(session: Session, settings: Settings, job_id: uuid.UUID, channel: str) -> Job | None:
    columns = {
        "submit_attempts": Sql.INCREMENT,
        "next_check_at": after(datetime.now(UTC), settings.submit_lease_s),
        "awaiting_capacity": False,
        # Recorded before sending, so a reconcile asks the channel the request went to.
        "channel": channel,
    }
    if advance(session, job_id, S.QUEUED, Change(S.SUBMITTING, columns=columns)) is None:
        return None
    return session.get(Job, job_id, populate_existing=True)


def _await_capacity(session: Session, job_id: uuid.UUID) -> None:
    # The sweep comes back at the (start) deadline to expire it; until then admission ticks let it in.
    session.execute(
        update(Job)
        .where(Job.job_id == job_id, Job.state == S.QUEUED.value)
        .values(awaiting_capacity=True, next_check_at=func.least(Job.deadline_at, Job.start_deadline_at))
    )
