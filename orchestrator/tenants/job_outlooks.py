"""The outlook of the jobs a request shows: their places in their providers' first-in-first-out
queues (jobs held back by channel caps) and their estimated finish, in three reads for any number."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from orchestrator import durations
from orchestrator.models import Job
from orchestrator.outlook import Outlook, estimate_finish
from orchestrator.pipeline import capacity
from orchestrator.settings import Settings
from schemas.jobs import JobStatus

S = JobStatus

# 1 for the job admitted next; the partial index on (provider, created_at) of waiting jobs counts it.
_POSITIONS = text(
    """
    SELECT j.job_id, 1 + (
        SELECT count(*) FROM jobs w
        WHERE w.provider = j.provider AND w.state = 'queued' AND w.awaiting_capacity
          AND w.created_at < j.created_at
    ) AS position
    FROM jobs j
    WHERE j.job_id = ANY(:ids) AND j.state = 'queued' AND j.awaiting_capacity
    """
)


def outlooks(session: Session, settings: Settings, jobs: Sequence[Job]) -> dict[uuid.UUID, Outlook]:
    """Each unfinished job's outlook (the finished have none), in three reads at most for any number."""
    open_jobs = [job for job in jobs if not S(job.state).is_terminal]
    if not open_jobs:
        return {}
    stats = durations.of_models(session, ((job.provider, job.model) for job in open_jobs))
    waiting = [job.job_id for job in open_jobs if job.awaiting_capacity and job.state == S.QUEUED]
    positions: dict[uuid.UUID, int] = {}
    if waiting:
        positions = {row.job_id: row.position for row in session.execute(_POSITIONS, {"ids": waiting})}
    slots = {
        provider: _slots(session, settings, provider)
        for provider in {job.provider for job in open_jobs if job.job_id in positions}
    }
    now = datetime.now(UTC)
    return {
        job.job_id: Outlook(
            positions.get(job.job_id),
            estimate_finish(
                now,
                job,
                stats.get((job.provider, job.model)),
                positions.get(job.job_id),
                slots.get(job.provider),
            ),
        )
        for job in open_jobs
    }


def _slots(session: Session, settings: Settings, provider: str) -> int | None:
    """How many of the provider's jobs may run at once; None when an enabled channel has no cap."""
    options = capacity.options(session, settings, provider)
    caps = [option.max_concurrency for option in options if option.enabled]
    if not caps or any(cap is None for cap in caps):
        return None
    return sum(cap for cap in caps if cap is not None) or None
