"""Polling learned from each model's run times: the poll that sees a task's end records when it ended
upstream (halfway from the look before), the sweep keeps each model's run-time quantiles from those
times and plans a poll schedule from them within the polls of a poll every `learned_poll_every_s`,
and jobs of the model are then polled at its times."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from orchestrator import durations
from orchestrator.db import Database
from orchestrator.models import DurationStat, Job
from orchestrator.pipeline import submission, tracking
from orchestrator.poll_placement import RunTimes, cost, fixed
from orchestrator.settings import PollPolicy, Settings
from schemas.jobs import JobStatus
from tests.factories import Tenant, create_job
from workers.simulator import Outcome, Simulator

S = JobStatus
MODEL = "kling-v1-6"  # create_job's
SLACK = timedelta(seconds=2)


def job_row(db: Database, job_id: uuid.UUID) -> Job:
    with db.transaction() as session:
        return session.execute(select(Job).where(Job.job_id == job_id)).scalar_one()


def succeeded(
    db: Database, job_id: uuid.UUID, model: str, ran_s: float, *, measured: bool, span_s: float = 0.0
) -> None:
    """The job succeeded just now, its task having ended upstream `ran_s` s after its acceptance (or
    within `span_s` after that), recorded if `measured`; the job finished 20 s after that span."""
    now = datetime.now(UTC)
    submitted = now - timedelta(seconds=ran_s + span_s + 20)
    after = submitted + timedelta(seconds=ran_s) if measured else None
    by = submitted + timedelta(seconds=ran_s + span_s) if measured else None
    values = {"submitted_at": submitted, "upstream_ended_after": after, "upstream_ended_by": by}
    with db.transaction() as session:
        session.execute(
            update(Job)
            .where(Job.job_id == job_id)
            .values(state="succeeded", model=model, finished_at=now, **values)
        )


def given_schedule(db: Database, schedule: list[float]) -> None:
    """The model has learned this poll schedule."""
    now = datetime.now(UTC)
    figures = {"samples": 50, "p10_s": 1.0, "p50_s": 2.0, "p90_s": 3.0, "refreshed_at": now}
    with db.transaction() as session:
        session.add(DurationStat(provider="kling", model=MODEL, poll_schedule_s=schedule, **figures))


def submitted_on(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    settings: Settings,
    schedule: list[float],
) -> uuid.UUID:
    """A job of a model that learned `schedule`, accepted upstream and running until released."""
    given_schedule(db, schedule)
    simulator.script("kling", [Outcome(result="succeed", held=True)])
    job_id = create_job(db, tenant, settings)
    assert submission.submit(db, http, settings, job_id) is S.SUBMITTED
    return job_id


def learn(db: Database, settings: Settings) -> dict[tuple[str, str], DurationStat]:
    with db.transaction() as session:
        refreshed = durations.refresh(session)
    durations.plan_polls(db, settings, refreshed)
    with db.transaction() as session:
        return {(s.provider, s.model): s for s in session.execute(select(DurationStat)).scalars()}


def test_learned_polling_next_delay_is_the_schedules_next_time_early_by_the_lead_and_none_past_its_end() -> (
    None
):
    schedule = (10.0, 20.0, 30.0)
    assert durations.next_scheduled_delay(schedule, 0.0) == 10.0
    assert durations.next_scheduled_delay(schedule, 10.0) == 10.0  # just polled at 10: the next is 20
    assert durations.next_scheduled_delay(schedule, 24.0) == 6.0
    assert durations.next_scheduled_delay(schedule, 31.0) is None  # outran every measured run
    # Falling due half a sweep early, a poll runs at the schedule's time on average; one that ran up to
    # that much early was the schedule's poll, not one before it.
    assert durations.next_scheduled_delay(schedule, 0.0, lead_s=0.5) == 9.5
    assert durations.next_scheduled_delay(schedule, 9.6, lead_s=0.5) == pytest.approx(9.9)
    assert durations.next_scheduled_delay(schedule, 10.4, lead_s=0.5) == pytest.approx(9.1)


def test_learned_polling_schedules_come_from_runs_measured_upstream_within_the_fixed_budget(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    runs = [5.0 + 55.0 * n / 39 for n in range(40)]  # 5 to 60 s, evenly
    for ran_s in runs:
        succeeded(db, create_job(db, tenant, settings), MODEL, ran_s, measured=True)
        succeeded(db, create_job(db, tenant, settings), "kling-v2-master", ran_s, measured=False)

    learned = learn(db, settings)

    stat = learned[("kling", MODEL)]
    assert stat.run_quantiles_s is not None
    assert stat.poll_schedule_s is not None
    # From the end upstream, not from when it was seen (20 s later): 5 to 60 s.
    assert stat.run_quantiles_s[0] == pytest.approx(5.0)
    assert stat.run_quantiles_s[-1] == pytest.approx(60.0)
    assert stat.p50_s == pytest.approx(32.5 + 20)  # what a tenant waits for keeps the seeing
    measured = RunTimes(tuple(stat.run_quantiles_s))
    every_15 = cost(fixed(15.0, measured), measured)
    planned = cost(stat.poll_schedule_s, measured)
    assert planned.mean_polls <= every_15.mean_polls + 1e-9
    assert planned.mean_delay_s < every_15.mean_delay_s * 0.95
    # Runs of the other model were never measured to their end upstream: nothing to plan from.
    other = learned[("kling", "kling-v2-master")]
    assert (other.samples, other.run_quantiles_s, other.poll_schedule_s) == (40, None, None)


def test_learned_polling_a_run_seen_between_two_polls_counts_across_the_span(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    """Runs seen ending between polls at 40 and 65 s (as the default policy's would) spread over that
    span: the learned runs reach past 60 s, so the schedule's last poll sees the longest of them."""
    settings = make_settings()
    for _ in range(durations.MIN_PLAN_SAMPLES):
        succeeded(db, create_job(db, tenant, settings), MODEL, 40.0, measured=True, span_s=25.0)
    stat = learn(db, settings)[("kling", MODEL)]
    assert stat.run_quantiles_s is not None
    assert stat.run_quantiles_s[0] == pytest.approx(40.0 + 25.0 / 8)  # the first of 4 points per run
    assert stat.run_quantiles_s[-1] == pytest.approx(40.0 + 25.0 * 7 / 8)
    assert stat.poll_schedule_s is not None
    assert stat.poll_schedule_s[-1] == pytest.approx(stat.run_quantiles_s[-1])


def test_learned_polling_can_be_turned_off(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(learned_poll_every_s=None)
    for n in range(durations.MIN_PLAN_SAMPLES):
        succeeded(db, create_job(db, tenant, settings), MODEL, 5.0 + n, measured=True)
    stat = learn(db, settings)[("kling", MODEL)]
    assert stat.run_quantiles_s is not None
    assert stat.poll_schedule_s is None


def test_learned_polling_a_job_is_polled_on_its_models_schedule_and_its_end_is_placed_between_two_polls(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(upstream_callbacks=False)
    job_id = submitted_on(db, http, tenant, simulator, settings, [40.0, 90.0, 200.0])

    job = job_row(db, job_id)
    assert job.submitted_at is not None
    assert job.next_check_at is not None
    assert job.next_check_at - job.submitted_at == pytest.approx(timedelta(seconds=40), abs=SLACK)

    back(db, job_id, submitted_at=40)  # the first poll is due
    assert tracking.poll(db, http, settings, [job_id]) == []  # running, unfinished
    job = job_row(db, job_id)
    assert job.submitted_at is not None
    assert job.next_check_at is not None
    assert job.next_check_at - job.submitted_at == pytest.approx(timedelta(seconds=90), abs=SLACK)

    back(db, job_id, submitted_at=50, polled_at=50)  # the second is due
    looked_at = job_row(db, job_id).polled_at
    assert simulator.release("kling") == 1
    assert tracking.poll(db, http, settings, [job_id]) == [job_id]  # ended: to be stored
    job = job_row(db, job_id)
    assert job.state == S.STORING.value
    # It ended after the poll that saw it running and by the one that saw it end.
    assert (job.upstream_ended_after, job.upstream_ended_by) == (looked_at, job.polled_at)
    assert looked_at is not None
    assert job.polled_at is not None
    assert job.polled_at - looked_at == pytest.approx(timedelta(seconds=50), abs=SLACK)


def back(db: Database, job_id: uuid.UUID, **seconds: float) -> None:
    """Move these times of the job back by so many seconds, as if that much time had passed."""
    with db.transaction() as session:
        values = {name: getattr(Job, name) - timedelta(seconds=s) for name, s in seconds.items()}
        session.execute(update(Job).where(Job.job_id == job_id).values(**values))


def test_learned_polling_a_job_past_its_models_longest_run_falls_back_to_the_policy(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(upstream_callbacks=False)
    job_id = submitted_on(db, http, tenant, simulator, settings, [1.0, 2.0, 3.0])
    with db.transaction() as session:  # it has been running upstream for 10 s
        session.execute(
            update(Job)
            .where(Job.job_id == job_id)
            .values(submitted_at=Job.submitted_at - timedelta(seconds=10))
        )
    before = datetime.now(UTC)
    assert tracking.poll(db, http, settings, [job_id]) == []
    job = job_row(db, job_id)
    policy = settings.poll_policy("kling")
    expected = policy.initial_s * policy.factor  # the policy's delay after one poll
    assert job.next_check_at is not None
    assert job.next_check_at - before == pytest.approx(timedelta(seconds=expected), abs=timedelta(seconds=2))


def test_learned_polling_spends_no_more_polls_than_the_poll_policy(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    """A policy that polls once, after every run has ended, leaves one poll to place: at the longest run."""
    settings = make_settings(poll={"default": PollPolicy(initial_s=100.0, factor=1.0, max_s=100.0)})
    for n in range(30):
        succeeded(db, create_job(db, tenant, settings), MODEL, 5.0 + 55.0 * n / 29, measured=True)
    stat = learn(db, settings)[("kling", MODEL)]
    assert stat.poll_schedule_s == [pytest.approx(60.0)]
