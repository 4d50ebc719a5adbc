"""What a tenant is told of an unfinished job's future: its place among the jobs waiting for its
provider's capacity, and when it should finish, from the recent run durations of its provider and
model (`durations`). `tenants.job_outlooks` reads them for the jobs a request shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrator.models import DurationStat, Job
from schemas.jobs import JobStatus

S = JobStatus
PROGRESS_SIGNAL = 10  # below this a provider's progress says little about the time left


@dataclass(frozen=True)
class Outlook:
    queue_position: int | None = None
    estimated_finish_at: datetime | None = None


UNKNOWN = Outlook()


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
