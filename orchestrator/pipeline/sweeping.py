"""The sweep: claim jobs whose `next_check_at` has come and hand each to the work its state needs.

The jobs table is the schedule (no countdown messages): the claim bumps `next_check_at` by a lease
under `FOR UPDATE SKIP LOCKED`, so concurrent sweeps never claim the same job, and a job whose
worker died comes due again when its lease runs out. Each sweep stamps when it ran, so that a sweep
that stopped coming (beat, or the sweep queue's worker, down) shows in /metrics and /readyz.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import extract, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from orchestrator import durations, messaging, outbox, request_log
from orchestrator.db import Database
from orchestrator.models import SweepState, table
from orchestrator.pipeline import batching, capacity
from orchestrator.pipeline.tracking import expire
from orchestrator.settings import Settings
from schemas.jobs import JobStatus

S = JobStatus

CLAIM_DUE = text(
    """
    WITH due AS (
        SELECT job_id FROM jobs
        WHERE state IN ('queued','submitting','submitted','running','action_required','storing')
          AND next_check_at <= now()
        ORDER BY next_check_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE jobs j
    SET next_check_at = LEAST(
            now() + make_interval(secs => CASE j.state
                WHEN 'queued' THEN LEAST(:redispatch * power(2, LEAST(j.dispatch_count, 10)), 300)
                WHEN 'submitting' THEN :submit_lease
                WHEN 'storing' THEN :store_lease
                ELSE :poll_lease END),
            -- a queued job is back at its start-by deadline to expire it (LEAST skips a NULL)
            CASE WHEN j.state = 'queued' THEN j.start_deadline_at END),
        dispatch_count = j.dispatch_count + 1
    FROM due WHERE j.job_id = due.job_id
    RETURNING j.job_id, j.provider, j.state, j.deadline_at, j.start_deadline_at
    """
)
POLL_LEASE_S = 60.0


@dataclass
class Dispatch:
    """What one sweep decided: task name -> job ids, plus the jobs it expired on the spot."""

    work: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    expired: list[uuid.UUID] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return sum(len(ids) for ids in self.work.values()) + len(self.expired)


def claim_due(session: Session, settings: Settings, limit: int) -> Dispatch:
    rows = session.execute(
        CLAIM_DUE,
        {
            "limit": limit,
            "redispatch": settings.redispatch_after_s,
            "submit_lease": settings.submit_lease_s,
            "store_lease": settings.store_lease_s,
            "poll_lease": POLL_LEASE_S,
        },
    ).all()
    dispatch = Dispatch()
    now = datetime.now(UTC)
    for job_id, provider, state, deadline_at, start_deadline_at in rows:
        late_start = start_deadline_at is not None and now >= start_deadline_at
        if state == S.QUEUED and (now >= deadline_at or late_start):
            # Nothing was ever sent upstream: the hold can go back at once.
            if expire(session, settings, job_id, before_start=now < deadline_at) is not None:
                dispatch.expired.append(job_id)
            continue
        dispatch.work[_task_for(provider, S(state))].append(str(job_id))
    return dispatch


def _task_for(provider: str, state: JobStatus) -> str:
    if state is S.QUEUED:
        return messaging.submit_task(provider)
    if state is S.SUBMITTING:
        return messaging.reconcile_task(provider)
    if state is S.STORING:
        return messaging.STORE_TASK
    return messaging.poll_task(provider)


CLAIM_DUE_EVENTS = text(
    """
    WITH due AS (
        SELECT event_id FROM outbox
        WHERE state = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox o SET next_attempt_at = now() + make_interval(secs => :lease)
    FROM due WHERE o.event_id = due.event_id
    RETURNING o.event_id
    """
)


def claim_due_events(session: Session, limit: int) -> list[str]:
    """Webhook events due for an attempt (first sends lost, or retries whose time has come)."""
    lease = outbox.DISPATCH_LEASE.total_seconds()
    return [str(row.event_id) for row in session.execute(CLAIM_DUE_EVENTS, {"limit": limit, "lease": lease})]


def sweep(db: Database, dispatcher: messaging.Dispatcher, settings: Settings, *, rounds: int = 20) -> int:
    """Claim and dispatch due jobs and webhook events, a batch per transaction, until none are left
    (or `rounds` ran)."""
    claimed = 0
    for _ in range(rounds):
        with db.transaction() as session:
            dispatch = claim_due(session, settings, settings.sweep_batch)
        for task_name, ids in dispatch.work.items():
            dispatcher.send(task_name, ids)
        claimed += dispatch.claimed
        if dispatch.claimed < settings.sweep_batch:
            break
    with db.transaction() as session:
        waiting = capacity.providers_waiting(session)
    for provider in waiting:  # an admission tick: capacity freed since the last one is used now
        dispatcher.send(messaging.admit_task(provider), [provider])
    with db.transaction() as session:
        due_batches = batching.claim_due(session, settings.sweep_batch)
        batching.end_finished(session, settings)  # their webhooks go out with the events below
    dispatcher.send(messaging.EXPAND_BATCHES_TASK, due_batches)
    for _ in range(rounds):
        with db.transaction() as session:
            events = claim_due_events(session, settings.sweep_batch)
        dispatcher.send(messaging.DELIVER_TASK, events)
        claimed += len(events)
        if len(events) < settings.sweep_batch:
            break
    for _ in range(rounds):  # a bounded batch per transaction: never one long delete
        with db.transaction() as session:
            if request_log.prune(session, settings.request_log_days) < request_log.PRUNE_BATCH:
                break
    with db.transaction() as session:
        refreshed = durations.refresh(session)  # at most once a minute, whichever sweep comes first
        record_sweep(session)
    if refreshed:
        durations.plan_polls(db, settings, refreshed)
    return claimed


_sweeps = table(SweepState)
_new_stamp = insert(_sweeps).values(singleton=True, last_swept_at=func.now())
# Never backwards: of two sweeps at once, the one that began later may commit first.
_STAMP = _new_stamp.on_conflict_do_update(
    index_elements=[_sweeps.c.singleton],
    set_={"last_swept_at": func.greatest(_sweeps.c.last_swept_at, _new_stamp.excluded.last_swept_at)},
)
_AGE = select(extract("epoch", func.now() - _sweeps.c.last_swept_at))


def record_sweep(session: Session) -> None:
    """Stamp the sweep as run now, by the database's clock (the one every reader measures with)."""
    session.execute(_STAMP)


def last_sweep_age_s(session: Session) -> float | None:
    """Seconds since the last sweep ran; None when none ever did."""
    age = session.execute(_AGE).scalar()
    return None if age is None else max(float(age), 0.0)


def sweep_health(age_s: float | None, stale_after_s: float, up_for_s: float) -> tuple[str, bool]:
    """What readiness says about the sweep, and whether that is ready. A deployment whose sweep has
    never run (a fresh database, beat still starting) is given `stale_after_s` from the API's start
    before that counts against it, as a sweep that stopped does."""
    if age_s is None:
        if up_for_s <= stale_after_s:
            return "waiting: no sweep has run yet", True
        return f"never: no sweep has run in the {up_for_s:.0f} s this API has been up", False
    if age_s > stale_after_s:
        return f"stale: the last sweep ran {age_s:.0f} s ago", False
    return "ok", True
