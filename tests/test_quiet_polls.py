"""Polls that change no state, written for a whole batch in one statement: each job's count, progress and
next poll as `apply_update` would write them, and only for a job still as the poll read it; the rest of
the batch goes through `apply_update` one job at a time."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from orchestrator import outbox
from orchestrator.db import Database
from orchestrator.models import Job, JobEvent
from orchestrator.pipeline import submission, tracking
from orchestrator.schedule import poll_delay
from orchestrator.settings import PollPolicy, Settings
from schemas.jobs import JobStatus
from tests.factories import Tenant, create_job
from workers.providers.base import ProviderUpdate, UpstreamStatus
from workers.providers.errors import ProviderUnavailableError
from workers.simulator import Outcome, Simulator

S = JobStatus
POLICY = PollPolicy(initial_s=5.0, factor=2.0, max_s=60.0)
SLACK = timedelta(seconds=2)


def job_row(db: Database, job_id: uuid.UUID) -> Job:
    with db.transaction() as session:
        return session.execute(select(Job).where(Job.job_id == job_id)).scalar_one()


def events_of(db: Database, job_id: uuid.UUID) -> int:
    with db.transaction() as session:
        return session.execute(select(func.count()).where(JobEvent.job_id == job_id)).scalar_one()


def report(progress: int | None = None) -> ProviderUpdate:
    return ProviderUpdate(status=UpstreamStatus.RUNNING, raw_status="processing", progress=progress)


def running(progress: int | None = None) -> tracking.PollOutcome:
    return tracking.PollOutcome(uuid.uuid4(), report(progress), None)


def set_job(db: Database, job_id: uuid.UUID, **values: object) -> None:
    with db.transaction() as session:
        session.execute(update(Job).where(Job.job_id == job_id).values(**values))


def job_with(db: Database, tenant: Tenant, settings: Settings, **values: object) -> uuid.UUID:
    """A new job, with these columns set as if it had got there."""
    job_id = create_job(db, tenant, settings)
    set_job(db, job_id, **values)
    return job_id


def polling_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(upstream_callbacks=False, poll={"default": POLICY}, learned_poll_every_s=None)


def test_quiet_polls_a_batch_counts_and_schedules_the_waiting_jobs_and_moves_the_one_that_ended(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = polling_settings(make_settings)
    simulator.configure(not_found_polls=0)
    simulator.script(
        "kling",
        [Outcome(result="succeed", held=True)] * 3
        + [Outcome(result="succeed", submitted_s=0, processing_s=0)],
    )
    job_ids = [create_job(db, tenant, settings) for _ in range(4)]
    for job_id in job_ids:
        assert submission.submit(db, http, settings, job_id) is S.SUBMITTED
    waiting, ended = job_ids[:3], job_ids[3]

    assert tracking.poll(db, http, settings, job_ids) == [ended]  # submitted -> running: state changes
    assert [job_row(db, job_id).state for job_id in waiting] == [S.RUNNING.value] * 3
    events_before = [events_of(db, job_id) for job_id in waiting]

    polled_at = datetime.now(UTC)
    assert tracking.poll(db, http, settings, job_ids) == []  # the ended job is storing: not polled
    for job_id, events in zip(waiting, events_before, strict=True):
        job = job_row(db, job_id)
        assert (job.state, job.poll_count) == (S.RUNNING.value, 2)
        assert job.polled_at is not None
        assert job.polled_at - polled_at == pytest.approx(timedelta(0), abs=SLACK)
        assert job.next_check_at is not None
        expected = polled_at + timedelta(seconds=poll_delay(POLICY, 2))
        assert job.next_check_at - expected == pytest.approx(timedelta(0), abs=SLACK)
        assert events_of(db, job_id) == events  # nothing to tell
    assert job_row(db, ended).state == S.STORING.value


def test_quiet_polls_a_job_moved_since_the_poll_read_it_is_left_for_apply_update(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    settings = polling_settings(make_settings)
    job_id = job_with(db, tenant, settings, state=S.SUBMITTED.value)
    assert tracking._quiet(settings, job_row(db, job_id), running(), None, datetime.now(UTC)) is None
    set_job(db, job_id, state=S.RUNNING.value)
    read = job_row(db, job_id)
    quiet = tracking._quiet(settings, read, running(), None, datetime.now(UTC))
    assert quiet is not None
    with db.transaction() as session:  # a callback arrives between the poll's read and its write
        tracking.apply_update(session, settings, job_id, report(), via_callback=True)

    assert tracking._apply_quiet(db, [quiet]) == set()
    assert job_row(db, job_id).poll_count == read.poll_count  # nothing written from the stale read

    fresh = tracking._quiet(settings, job_row(db, job_id), running(), None, datetime.now(UTC))
    assert fresh is not None
    assert tracking._apply_quiet(db, [fresh]) == {job_id}
    assert job_row(db, job_id).poll_count == read.poll_count + 1


def test_quiet_polls_a_small_rise_of_progress_is_kept_without_an_event_and_a_step_goes_one_by_one(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    settings = polling_settings(make_settings)
    job_id = job_with(db, tenant, settings, state=S.RUNNING.value, progress=10, notified_progress=10)
    events = events_of(db, job_id)
    below_step = 10 + outbox.PROGRESS_STEP - 1

    quiet = tracking._quiet(settings, job_row(db, job_id), running(below_step), None, datetime.now(UTC))
    assert quiet is not None
    assert tracking._apply_quiet(db, [quiet]) == {job_id}
    job = job_row(db, job_id)
    assert (job.progress, job.notified_progress, events_of(db, job_id)) == (below_step, 10, events)

    # A rise of a whole step since the last told is an event: not a quiet poll.
    step = tracking._quiet(settings, job, running(10 + outbox.PROGRESS_STEP), None, datetime.now(UTC))
    assert step is None
    # Progress never goes backwards, in one statement as one by one.
    lower = tracking._quiet(settings, job, running(5), None, datetime.now(UTC))
    assert lower is not None
    assert tracking._apply_quiet(db, [lower]) == {job_id}
    assert job_row(db, job_id).progress == below_step


def test_quiet_polls_a_failed_poll_is_quiet_and_a_job_past_its_deadline_is_not(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    settings = polling_settings(make_settings)
    job = job_row(db, job_with(db, tenant, settings, state=S.RUNNING.value))
    job_id = job.job_id
    failed = tracking.PollOutcome(job_id, None, ProviderUnavailableError("503 from upstream"))
    now = datetime.now(UTC)

    quiet = tracking._quiet(settings, job, failed, None, now)
    assert quiet is not None
    assert quiet.progress is None
    assert quiet.next_check_at - now == pytest.approx(timedelta(seconds=POLICY.initial_s), abs=SLACK)
    assert tracking._quiet(settings, job, failed, None, job.deadline_at) is None  # to be expired
    assert tracking._quiet(settings, job, running(), None, job.deadline_at) is None
