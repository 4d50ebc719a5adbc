"""Following submitted jobs: polling them in batches and applying what the provider reports.

`apply_update` is the one path from a provider's report (poll, callback or reconcile) to a state
change. It re-reads the job inside the transaction, ignores reports that would move it backwards
or that arrive after it ended, and leaves the money to `lifecycle.advance`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session

from orchestrator import durations, outbox
from orchestrator.db import Database
from orchestrator.lifecycle import RANK, Change, Sql, Transition, advance, record_progress
from orchestrator.models import Job, table
from orchestrator.pipeline.channels import channel_for
from orchestrator.pipeline.failures import catalogued, failure_columns, redacted
from orchestrator.schedule import after, at_most, next_poll_delay, progress_eta_s
from orchestrator.settings import Settings
from schemas.jobs import JobStatus
from workers.providers import PROVIDERS
from workers.providers.base import OutputRef, ProviderUpdate, TaskRef, UpstreamStatus
from workers.providers.errors import ProviderError

log = logging.getLogger(__name__)
S = JobStatus
POLLABLE = (S.SUBMITTED.value, S.RUNNING.value, S.ACTION_REQUIRED.value)

TARGETS: Mapping[UpstreamStatus, JobStatus | None] = {
    UpstreamStatus.PENDING: S.SUBMITTED,
    UpstreamStatus.RUNNING: S.RUNNING,
    UpstreamStatus.ACTION_REQUIRED: S.ACTION_REQUIRED,
    UpstreamStatus.SUCCEEDED: S.STORING,
    UpstreamStatus.FAILED: S.FAILED,
    UpstreamStatus.CANCELLED: S.CANCELLED,
    UpstreamStatus.EXPIRED: S.EXPIRED,
    UpstreamStatus.UNKNOWN: None,
}
# Why a job ended upstream without a result, when the provider's report does not say.
ENDING_CODES: Mapping[JobStatus, tuple[str, str]] = {
    S.FAILED: ("upstream_failed", "the provider reported the task failed"),
    S.CANCELLED: ("upstream_cancelled", "the provider reported the task cancelled"),
    S.EXPIRED: ("upstream_expired", "the provider let the task expire before it ran to the end"),
}
DEADLINE_MISSED = ("deadline_exceeded", "the job did not finish before its deadline")
START_DEADLINE_MISSED = (
    "start_deadline_exceeded",
    "the provider had not accepted the job by its start deadline; it was never sent and its hold is released",
)
SUBMIT_UNCONFIRMED = (
    "submit_unconfirmed",
    "the submit's answer was lost and the provider never confirmed the task before the job's deadline; "
    "it was not sent again and its hold is released",
)

MAX_RACES = 3  # a report re-judged after losing its compare-and-set to a concurrent one
CONTINUATION_KEY = "modal"  # where a job's continuation input lives (see jobs.continue_job)

_jobs = table(Job)
# Built once, executed with bound values (cheaper than building a statement per report).
_COUNT_POLL = (
    update(_jobs)
    .where(_jobs.c.job_id == bindparam("counting_job"))
    .values(poll_count=_jobs.c.poll_count + 1, polled_at=func.now())
)
_COUNT_CALLBACK = (
    update(_jobs)
    .where(_jobs.c.job_id == bindparam("counting_job"))
    .values(callback_count=_jobs.c.callback_count + 1)
)
_SCHEDULE = update(_jobs).where(_jobs.c.job_id == bindparam("scheduling_job"))
# Most polls of a waiting job tell nothing new: the same state, and no rise of progress worth an event.
# Their counts, progress and next polls are written for a whole batch in one statement, each row only
# where the job is still as the poll read it (state, progress, counts), so that the next poll computed
# from that reading holds; the jobs it leaves go through `apply_update` one by one.
_QUIET_POLLS = text(
    """
    UPDATE jobs AS j SET
        poll_count = j.poll_count + 1,
        polled_at = now(),
        next_check_at = v.next_check_at,
        progress = greatest(j.progress, coalesce(v.progress, j.progress)),
        updated_at = CASE WHEN v.progress > j.progress THEN now() ELSE j.updated_at END
    FROM unnest(
        CAST(:job_ids AS uuid[]), CAST(:states AS varchar[]), CAST(:next_checks AS timestamptz[]),
        CAST(:progresses AS smallint[]), CAST(:read_progresses AS smallint[]),
        CAST(:read_polls AS integer[]), CAST(:read_callbacks AS integer[])
    ) AS v(job_id, state, next_check_at, progress, read_progress, read_polls, read_callbacks)
    WHERE j.job_id = v.job_id AND j.state = v.state AND j.progress = v.read_progress
        AND j.poll_count = v.read_polls AND j.callback_count = v.read_callbacks
        AND (v.progress IS NULL OR v.progress < j.notified_progress + :progress_step)
    RETURNING j.job_id
    """
)

# Progress to show when a provider reports none (Kling, Veo): enough to tell the stages apart.
STAGE_PROGRESS: Mapping[JobStatus, int] = {S.SUBMITTED: 5, S.RUNNING: 10, S.STORING: 95}


@dataclass(frozen=True)
class PollOutcome:
    job_id: uuid.UUID
    update: ProviderUpdate | None
    error: ProviderError | None


@dataclass(frozen=True)
class QuietPoll:
    """A poll that changes no state, as one row of `_QUIET_POLLS`."""

    job: Job
    next_check_at: datetime
    progress: int | None  # the report's progress to raise the job's to, if any


# For a report that the task has ended upstream, the last time it was known to be running: the
# previous poll, now() (a callback comes as it ends), or unknown (a report found by reconciliation).
EndedAfter = datetime | Sql | None
Schedule = Sequence[float]


def poll(
    db: Database, http: httpx.Client, settings: Settings, job_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """Poll the jobs concurrently and apply each answer; returns the jobs that are now `storing`."""
    with db.transaction() as session:
        jobs = (
            session.execute(select(Job).where(Job.job_id.in_(job_ids), Job.state.in_(POLLABLE)))
            .scalars()
            .all()
        )
        schedules = learned_schedules(session, settings, [(job.provider, job.model) for job in jobs])
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(settings.poll_concurrency, len(jobs))) as pool:
        outcomes = list(pool.map(lambda job: _poll_one(http, settings, job), jobs))
    polled = [
        (job, outcome, schedules.get((job.provider, job.model)))
        for job, outcome in zip(jobs, outcomes, strict=True)
    ]
    now = datetime.now(UTC)
    applied = _apply_quiet(db, [q for q in (_quiet(settings, *p, now) for p in polled) if q is not None])
    to_store: list[uuid.UUID] = []
    for job, outcome, schedule in polled:
        if job.job_id in applied:
            continue
        with db.transaction() as session:
            transition = _apply_outcome(session, settings, job, outcome, schedule)
        if transition is not None and transition.to_state is S.STORING:
            to_store.append(job.job_id)
    return to_store


def _quiet(
    settings: Settings, job: Job, outcome: PollOutcome, schedule: Schedule | None, now: datetime
) -> QuietPoll | None:
    """The poll as a quiet one, if it changes no state (what `_apply_outcome` would do, from the job
    as read before the poll); None for one that may change something."""
    if now >= job.deadline_at:
        return None
    if outcome.update is None:
        log.info("poll of job %s failed, will retry: %s", job.job_id, redacted(settings, str(outcome.error)))
        return QuietPoll(job, _next_poll_at(settings, job, schedule=schedule), None)
    current, target, report = _target(job, outcome.update)
    if target is not None and target != current and RANK[target] >= RANK[current]:
        return None
    progress = report.progress if target == current else None
    if progress is not None and progress >= job.notified_progress + outbox.PROGRESS_STEP:
        return None  # a job.progress event to tell
    eta_s = _progress_eta_s(job, report, now)
    next_check_at = _next_poll_at(settings, job, eta_s, schedule, polls_done=job.poll_count + 1)
    return QuietPoll(job, next_check_at, progress)


def _apply_quiet(db: Database, quiet: Sequence[QuietPoll]) -> set[uuid.UUID]:
    """Write the quiet polls in one statement; returns the jobs it applied to."""
    if not quiet:
        return set()
    values = {
        "job_ids": [q.job.job_id for q in quiet],
        "states": [q.job.state for q in quiet],
        "next_checks": [q.next_check_at for q in quiet],
        "progresses": [q.progress for q in quiet],
        "read_progresses": [q.job.progress for q in quiet],
        "read_polls": [q.job.poll_count for q in quiet],
        "read_callbacks": [q.job.callback_count for q in quiet],
        "progress_step": outbox.PROGRESS_STEP,
    }
    with db.transaction() as session:
        return set(session.execute(_QUIET_POLLS, values).scalars())


def _poll_one(http: httpx.Client, settings: Settings, job: Job) -> PollOutcome:
    provider = PROVIDERS[job.provider]
    task = TaskRef(job_id=str(job.job_id), operation=job.operation, external_id=job.external_id or "")
    try:
        return PollOutcome(
            job.job_id,
            provider.poll(http, channel_for(settings, job.provider, job.channel), task),
            None,
        )
    except ProviderError as exc:
        return PollOutcome(job.job_id, None, exc)


def learned_schedules(
    session: Session, settings: Settings, models: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Schedule]:
    """The learned poll schedules of these models, unless learning is off."""
    return durations.poll_schedules(session, models) if settings.learned_poll_every_s is not None else {}


def _apply_outcome(
    session: Session, settings: Settings, job: Job, outcome: PollOutcome, schedule: Schedule | None
) -> Transition | None:
    session.execute(_COUNT_POLL, {"counting_job": job.job_id})
    if outcome.update is not None:
        # `job` is as it was before this poll: the task ended after the previous look at it.
        transition = apply_update(
            session,
            settings,
            job.job_id,
            outcome.update,
            ended_after=job.polled_at or job.submitted_at,
            schedule=schedule,
        )
        if transition is not None:
            return transition
    else:
        error = redacted(settings, str(outcome.error))
        log.info("poll of job %s failed, will retry: %s", job.job_id, error)
        _schedule_next_poll(session, settings, job, schedule=schedule)
    if datetime.now(UTC) >= job.deadline_at:
        return expire(session, settings, job.job_id)
    return None


def apply_update(
    session: Session,
    settings: Settings,
    job_id: uuid.UUID,
    report: ProviderUpdate,
    *,
    via_callback: bool = False,
    ended_after: EndedAfter = None,
    schedule: Schedule | None = None,
) -> Transition | None:
    """Apply one provider report to the job; None when it changes no state (stale, repeated, unknown).
    `ended_after`: when the task was last known to run, should the report say it has ended;
    `schedule`: the model's learned poll schedule, for the next poll."""
    if via_callback:
        # Callbacks arrive for this job: polling becomes the slower safety net from now on.
        session.execute(_COUNT_CALLBACK, {"counting_job": job_id})
        ended_after = Sql.NOW
    for _ in range(MAX_RACES):
        job = session.execute(
            select(Job).where(Job.job_id == job_id).execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if job is None or S(job.state).is_terminal or S(job.state) is S.STORING:
            return None  # a late report for a job that has moved past what any provider can tell us
        current, target, report = _target(job, report)
        if target is None or target == current or RANK[target] < RANK[current]:
            # Read before the progress is recorded: that re-reads the job, and the rise is from before.
            eta_s = _progress_eta_s(job, report, datetime.now(UTC))
            if report.progress is not None and target == current:
                record_progress(session, job_id, current, report.progress)
            _schedule_next_poll(session, settings, job, eta_s, schedule)
            return None
        progress = report.progress if report.progress is not None else STAGE_PROGRESS.get(target)
        columns = _columns(settings, job, report, target, ended_after, schedule)
        change = Change(target, progress, columns, {"upstream_status": columns["upstream_status"]})
        transition = advance(session, job_id, current, change)
        if transition is not None:
            return transition
        # Another report (a concurrent poll or callback) moved the job first: judge this one again
        # against the state it left, rather than drop it (a lost success would wait for a slow poll).
    return None


def _target(job: Job, report: ProviderUpdate) -> tuple[JobStatus, JobStatus | None, ProviderUpdate]:
    current, target = S(job.state), TARGETS[report.status]
    if target is S.STORING and not report.outputs and not _result_is_the_outcome(job, report):
        return current, S.FAILED, _no_output(report)
    if target is S.ACTION_REQUIRED and CONTINUATION_KEY in job.input:
        return current, None, report  # a late "waiting for input" after the client already continued
    return current, target, report


def expire(
    session: Session, settings: Settings, job_id: uuid.UUID, *, before_start: bool = False
) -> Transition | None:
    """Expire an unfinished job and release its hold: it passed its deadline, or (`before_start`) its
    client's start-by deadline without being accepted upstream. A job still `submitting` then is one
    whose submit was never confirmed (its answer was lost): it says so rather than "too slow"."""
    job = session.execute(select(Job.state).where(Job.job_id == job_id)).scalar_one_or_none()
    if job is None or S(job).is_terminal:
        return None
    if before_start:
        code, reason = START_DEADLINE_MISSED
    else:
        code, reason = SUBMIT_UNCONFIRMED if S(job) is S.SUBMITTING else DEADLINE_MISSED
    columns = failure_columns(settings, code, reason)
    return advance(session, job_id, S(job), Change(S.EXPIRED, columns=columns))


def _columns(
    settings: Settings,
    job: Job,
    report: ProviderUpdate,
    target: JobStatus,
    ended_after: EndedAfter,
    schedule: Schedule | None,
) -> dict[str, Any]:
    # The raw status reaches the tenant too, in the timeline: it is the provider's text.
    columns: dict[str, Any] = {"upstream_status": redacted(settings, report.raw_status)[:64]}
    if report.external_id and not job.external_id:
        columns["external_id"] = report.external_id
    if report.result is not None:
        columns["result"] = dict(report.result)
    if target is S.RUNNING:
        columns["started_at"] = Sql.NOW_IF_UNSET
    if target is S.STORING:
        columns["pending_outputs"] = pending_outputs(report.outputs)
        if ended_after is not None:  # it ended between then and now: what polling learns from
            columns |= {"upstream_ended_after": ended_after, "upstream_ended_by": Sql.NOW}
        # Dispatched to a store task right after commit; should that publish be lost, the sweep sends
        # it later. Not due at once: the sweep would send a second store for nearly every job.
        columns["next_check_at"] = after(datetime.now(UTC), settings.redispatch_after_s)
    elif target in ENDING_CODES:
        fallback, message = ENDING_CODES[target]
        code = catalogued(report.error_code, fallback, source=f"provider {job.provider}")
        columns |= failure_columns(
            settings,
            code,
            report.error_message or message,
            provider_code=report.provider_code,
            provider_message=report.provider_message,
        )
    else:
        columns["next_check_at"] = _next_poll_at(settings, job, schedule=schedule)
    return columns


def pending_outputs(outputs: Sequence[OutputRef]) -> list[dict[str, Any]]:
    """Output references as kept on the job until stored (links only, never credentials)."""
    return [
        {
            "url": o.url,
            "content_type": o.content_type,
            "label": o.label,
            "authenticated": o.authenticated,
            "resolve": o.resolve,
            "optional": o.optional,
        }
        for o in outputs
    ]


def _next_poll_at(
    settings: Settings,
    job: Job,
    eta_s: float | None = None,
    schedule: Schedule | None = None,
    *,
    polls_done: int | None = None,
) -> datetime:
    """From the progress's prediction, else the model's learned schedule (until the job outruns it),
    else the poll policy; once callbacks arrive, only the safety-net policy. `polls_done`: the job's
    polls, when more than it shows (one counted in a statement still to run)."""
    now = datetime.now(UTC)
    polls_done = job.poll_count if polls_done is None else polls_done
    if job.callback_count:
        return at_most(after(now, next_poll_delay(settings.callback_poll, polls_done)), job.deadline_at)
    delay = None
    if eta_s is None and schedule and job.submitted_at is not None:
        elapsed_s = (now - job.submitted_at).total_seconds()
        delay = durations.next_scheduled_delay(schedule, elapsed_s, durations.claim_lead_s(settings))
    if delay is None:
        delay = next_poll_delay(settings.poll_policy(job.provider), polls_done, eta_s)
    return at_most(after(now, delay), job.deadline_at)


def _progress_eta_s(job: Job, report: ProviderUpdate, now: datetime) -> float | None:
    """When the report's progress predicts the end of a job that was already running: from the rise
    since the job's last change of progress (`updated_at`). Not once callbacks arrive: they tell."""
    if report.progress is None or job.callback_count or job.state != S.RUNNING:
        return None
    return progress_eta_s(report.progress, job.progress, (now - job.updated_at).total_seconds())


def _schedule_next_poll(
    session: Session,
    settings: Settings,
    job: Job,
    eta_s: float | None = None,
    schedule: Schedule | None = None,
) -> None:
    next_check_at = _next_poll_at(settings, job, eta_s, schedule)
    session.execute(_SCHEDULE, {"scheduling_job": job.job_id, "next_check_at": next_check_at})


def _result_is_the_outcome(job: Job, report: ProviderUpdate) -> bool:
    provider = PROVIDERS.get(job.provider)
    return bool(report.result) and provider is not None and job.operation in provider.result_operations


def _no_output(report: ProviderUpdate) -> ProviderUpdate:
    return ProviderUpdate(
        status=UpstreamStatus.FAILED,
        raw_status=report.raw_status,
        error_code="upstream_no_output",
        error_message="the provider reported success but returned no result files",
    )
