"""When a job is looked at again: the poll policy, and a poll placed where the provider's own progress
predicts the end."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from orchestrator import lifecycle
from orchestrator.db import Database
from orchestrator.models import Job
from orchestrator.pipeline import tracking
from orchestrator.schedule import ETA_MARGIN, ETA_MARGIN_S, next_poll_delay, poll_delay, progress_eta_s
from orchestrator.settings import PollPolicy, Settings
from schemas.jobs import JobStatus
from tests.conftest import Tenant
from tests.factories import create_job
from workers.providers.base import ProviderUpdate, UpstreamStatus

S = JobStatus
POLICY = PollPolicy(initial_s=5.0, factor=1.5, max_s=30.0)


def test_schedule_progress_eta_extends_the_rise_since_the_last_report() -> None:
    assert progress_eta_s(60, 40, 10.0) == pytest.approx(20.0)
    assert progress_eta_s(90, 30, 30.0) == pytest.approx(5.0)
    assert progress_eta_s(40, 40, 10.0) is None  # no rise: nothing to extend
    assert progress_eta_s(30, 40, 10.0) is None
    assert progress_eta_s(100, 40, 10.0) is None
    assert progress_eta_s(50, 40, 0.0) is None


def test_schedule_a_predicted_end_moves_the_poll_within_the_policys_cap() -> None:
    assert next_poll_delay(POLICY, 2) == poll_delay(POLICY, 2) == pytest.approx(11.25)
    assert next_poll_delay(POLICY, 2, eta_s=3.0) == pytest.approx(3.0 * ETA_MARGIN + ETA_MARGIN_S)
    assert next_poll_delay(POLICY, 0, eta_s=20.0) == pytest.approx(20.0 * ETA_MARGIN + ETA_MARGIN_S)
    assert next_poll_delay(POLICY, 0, eta_s=500.0) == POLICY.max_s
    assert next_poll_delay(POLICY, 0, eta_s=0.0) == 1.0


def running_at(db: Database, job_id: uuid.UUID, progress: int, seconds_ago: float) -> datetime:
    """The job is running at `progress`, last changed `seconds_ago`; returns that moment."""
    changed_at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    with db.transaction() as session:
        for state in (S.SUBMITTING, S.SUBMITTED):
            current = S(session.execute(select(Job.state).where(Job.job_id == job_id)).scalar_one())
            lifecycle.advance(session, job_id, current, lifecycle.Change(state))
        lifecycle.advance(session, job_id, S.SUBMITTED, lifecycle.Change(S.RUNNING, progress=progress))
        session.execute(update(Job).where(Job.job_id == job_id).values(updated_at=changed_at))
    return changed_at


def assert_next_poll(
    db: Database,
    settings: Settings,
    job_id: uuid.UUID,
    progress: int | None,
    delay_at: Callable[[datetime], float],
) -> None:
    """Apply a RUNNING report; the job's next poll is `delay_at(moment it was applied)` seconds later
    (checked at both ends of the window in which it was applied; `delay_at` never decreases)."""
    update_ = ProviderUpdate(status=UpstreamStatus.RUNNING, raw_status="RUNNING", progress=progress)
    before = datetime.now(UTC)
    with db.transaction() as session:
        tracking.apply_update(session, settings, job_id, update_)
    after = datetime.now(UTC)
    with db.transaction() as session:
        next_check_at = session.execute(select(Job.next_check_at).where(Job.job_id == job_id)).scalar_one()
    slack = timedelta(milliseconds=1)
    earliest = before + timedelta(seconds=delay_at(before)) - slack
    assert earliest <= next_check_at <= after + timedelta(seconds=delay_at(after)) + slack


def constant(seconds: float) -> Callable[[datetime], float]:
    return lambda _: seconds


@pytest.mark.parametrize("callback_url", [None, "http://127.0.0.1:9/hooks"], ids=["silent", "webhooks"])
def test_tracking_polls_a_running_job_when_its_progress_predicts_the_end(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings], callback_url: str | None
) -> None:
    settings = make_settings(poll={"default": POLICY}, webhook_allowlist=["127.0.0.1"])
    # With a callback_url, recording the progress also queues a webhook (which re-reads the job).
    job_id = create_job(db, tenant, settings, callback_url=callback_url)
    changed_at = running_at(db, job_id, progress=40, seconds_ago=10.0)

    def just_after_the_predicted_end(now: datetime) -> float:
        # 40 % -> 60 % in the time since the last change: the remaining 40 % takes twice as long.
        return 2 * (now - changed_at).total_seconds() * ETA_MARGIN + ETA_MARGIN_S

    # About 21 s: sooner than the policy's cap (30 s), later than its first step (5 s).
    assert_next_poll(db, settings, job_id, 60, just_after_the_predicted_end)
    with db.transaction() as session:
        assert session.execute(select(Job.progress).where(Job.job_id == job_id)).scalar_one() == 60


def test_tracking_without_a_rise_in_progress_keeps_the_policy(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(poll={"default": POLICY})
    flat, silent = create_job(db, tenant, settings), create_job(db, tenant, settings)
    running_at(db, flat, progress=40, seconds_ago=10.0)
    running_at(db, silent, progress=40, seconds_ago=10.0)
    assert_next_poll(db, settings, flat, 40, constant(POLICY.initial_s))
    assert_next_poll(db, settings, silent, None, constant(POLICY.initial_s))


def test_tracking_once_callbacks_arrive_progress_no_longer_moves_the_poll(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(poll={"default": POLICY}, callback_poll=PollPolicy(initial_s=60.0, max_s=600.0))
    job_id = create_job(db, tenant, settings)
    running_at(db, job_id, progress=40, seconds_ago=10.0)
    with db.transaction() as session:
        session.execute(update(Job).where(Job.job_id == job_id).values(callback_count=1))
    assert_next_poll(db, settings, job_id, 60, constant(60.0))
