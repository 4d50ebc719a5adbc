"""What a tenant is told of an unfinished job's future: its place among the jobs waiting for its
provider's capacity (admitted first in, first out) and when it should finish, from the recent run
durations of its provider and model (`durations`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from orchestrator import durations
from orchestrator.models import DurationStat, Job
from orchestrator.pipeline import capacity
from orchestrator.settings import Settings
from schemas.jobs import JobStatus

S = JobStatus
PROGRESS_SIGNAL = 10  # below this a provider's progress says little about the time left


@dataclass(frozen=True)
class Outlook:
    queue_position: int | None = None
    estimated_finish_at: datetime | None = None


UNKNOWN = Outlook()

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


def estimate_finish(
    now: datetime,
    job: Job,
    stat: DurationStat | None,
    position: int | None = None,
    slots: int | None = None,
) -> datetime | None:
    """When the job should end; None without recent figures for its model, or while it waits for its
    client's input. A job not yet accepted upstream needs a median run after the jobs ahead of it in
    its queue, `slots` at a time; an accepted one its median run from acceptance, or what its progress
    projects, and once past its median, its 90th percentile; an overdue one a short while more."""
    state = S(job.state)
    if stat is None or state.is_terminal or state is S.ACTION_REQUIRED:
        return None
    median, p90 = timedelta(seconds=stat.p50_s), timedelta(seconds=stat.p90_s)
    if state is S.STORING:
        return now
    since = job.submitted_at or job.started_at
    if state in (S.QUEUED, S.SUBMITTING) or since is None:
        rounds = 1 + ((position - 1) // slots if position and slots else 0)
        return now + median * rounds
    elapsed = now - since
    if PROGRESS_SIGNAL <= job.progress < 100 and elapsed > timedelta(0):
        return max(now, since + elapsed * (100 / job.progress))
    for quantile in (median, p90):
        if since + quantile > now:
            return since + quantile
    return now + timedelta(seconds=stat.p10_s)


def _slots(session: Session, settings: Settings, provider: str) -> int | None:
    """How many of the provider's jobs may run at once; None when an enabled channel has no cap."""
    options = capacity.options(session, settings, provider)
    caps = [option.max_concurrency for option in options if option.enabled]
    if not caps or any(cap is None for cap in caps):
        return None
    return sum(cap for cap in caps if cap is not None) or None
