"""Channels under load and faults: global concurrency caps with first-in-first-out admission, the
circuit breaker, 429 Retry-After, and failover only when nothing was created upstream."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from orchestrator.db import Database
from orchestrator.models import ChannelState, Job
from orchestrator.pipeline import storing, submission, tracking
from orchestrator.settings import Settings
from orchestrator.storage import build_storage
from schemas.jobs import JobStatus
from tests import services
from tests.factories import Tenant, create_job, kling_request
from tests.processes import celery_worker
from tests.stack import Stack
from workers.simulator import Outcome, Simulator

S = JobStatus


def channels(tmp_path: Path, url: str, *entries: tuple[str, str, int | None]) -> Path:
    """A channel file of kling channels: (name, key env var, max_concurrency)."""
    body = ""
    for name, key_env, cap in entries:
        body += f'[[channel]]\nprovider = "kling"\nname = "{name}"\nbase_url = "{url}"\n'
        body += f'api_key_env = "{key_env}"\n'
        body += f"max_concurrency = {cap}\n" if cap else ""
    path = tmp_path / f"channels-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(body)
    return path


def job(db: Database, job_id: uuid.UUID) -> Job:
    with db.transaction() as session:
        row = session.get(Job, job_id)
        assert row is not None
        return row


def test_capacity_waiting_jobs_hold_no_worker_and_are_admitted_first_in_first_out(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    simulator_url: str,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIM_KEY", simulator.config.api_key)
    settings = make_settings(channels_file=channels(tmp_path, simulator_url, ("only", "SIM_KEY", 1)))
    simulator.script("kling", [Outcome(result="succeed", processing_s=600)])
    first, second, third = (create_job(db, tenant, settings) for _ in range(3))
    assert submission.submit(db, http, settings, first) is S.SUBMITTED
    # At capacity: each returns at once (no worker waits) and the job waits in the queue.
    assert submission.submit(db, http, settings, third) is None
    assert submission.submit(db, http, settings, second) is None
    assert job(db, third).awaiting_capacity
    assert job(db, third).next_check_at == job(db, third).deadline_at  # only the deadline brings it back
    assert submission.admit_waiting(db, http, settings, "kling") == 0  # still full
    with db.transaction() as session:  # the first one ends upstream: its slot frees
        session.execute(update(Job).where(Job.job_id == first).values(state="failed"))
    assert submission.admit_waiting(db, http, settings, "kling") == 1
    assert job(db, third).state == "queued"  # created later: still waiting
    assert job(db, second).state == "submitted"  # the older one went first
    assert simulator.stats()["kling"].creates == 2


def test_capacity_breaker_opens_and_the_job_fails_over_to_a_healthy_channel(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    simulator_url: str,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIM_KEY", simulator.config.api_key)
    monkeypatch.setenv("WRONG_KEY", "sk-revoked")  # Kling answers 401: a channel problem, nothing created
    files = channels(tmp_path, simulator_url, ("broken", "WRONG_KEY", None), ("healthy", "SIM_KEY", None))
    settings = make_settings(channels_file=files, breaker_failures=1, breaker_cooldown_s=60)
    job_id = create_job(db, tenant, settings)
    for _ in range(10):  # the weighted pick may try "broken" first; it opens after one failure
        state = submission.submit(db, http, settings, job_id)
        if state is S.SUBMITTED:
            break
        assert state is S.QUEUED
        assert job(db, job_id).next_check_at <= datetime.now(UTC)  # failed over at once, no back-off
    assert (job(db, job_id).state, job(db, job_id).channel) == ("submitted", "healthy")
    assert simulator.stats()["kling"].creates == 1
    with db.transaction() as session:
        states = {s.name: s for s in session.execute(select(ChannelState)).scalars()}
    if "broken" in states:
        assert states["broken"].open_until is not None
        assert states["broken"].open_until > datetime.now(UTC) + timedelta(seconds=30)


def test_capacity_429_rests_the_channel_for_retry_after_and_a_success_closes_it(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(breaker_failures=5)
    simulator.configure(rate_limit_rate=1.0)
    job_id = create_job(db, tenant, settings)
    sent_at = datetime.now(UTC)
    assert submission.submit(db, http, settings, job_id) is S.QUEUED
    with db.transaction() as session:
        state = session.get(ChannelState, ("kling", "default"))
        assert state is not None
        assert state.consecutive_failures == 1
        assert state.open_until is not None
        assert state.open_until >= sent_at + timedelta(seconds=1)  # Retry-After: 1
    # While the only channel rests, a new submit waits instead of hammering it.
    other = create_job(db, tenant, settings)
    assert submission.submit(db, http, settings, other) is None
    assert job(db, other).awaiting_capacity
    simulator.configure(rate_limit_rate=0.0)
    with db.transaction() as session:  # the rest is over: half-open
        session.execute(update(ChannelState).values(open_until=datetime.now(UTC) - timedelta(seconds=1)))
    assert submission.admit_waiting(db, http, settings, "kling") == 1
    with db.transaction() as session:
        state = session.get(ChannelState, ("kling", "default"))
        assert state is not None
        assert (state.consecutive_failures, state.open_until) == (0, None)


def test_capacity_ambiguous_submit_never_fails_over(
    db: Database,
    tenant: Tenant,
    simulator: Simulator,
    simulator_url: str,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIM_KEY", simulator.config.api_key)
    files = channels(tmp_path, simulator_url, ("a", "SIM_KEY", None), ("b", "SIM_KEY", None))
    settings = make_settings(channels_file=files)
    simulator.configure(read_timeout_rate=1.0, stall_s=3.0)
    job_id = create_job(db, tenant, settings)
    with httpx.Client(timeout=0.3) as impatient:
        assert submission.submit(db, impatient, settings, job_id) is S.SUBMITTING
    chosen = job(db, job_id).channel
    assert chosen in {"a", "b"}
    assert submission.submit(db, impatient, settings, job_id) is None  # not queued: never resent
    assert job(db, job_id).channel == chosen
    assert simulator.stats()["kling"].creates == 1


@pytest.mark.e2e
def test_capacity_cap_of_5_holds_across_three_worker_processes(
    start_stack: Callable[..., Stack],
    tenant: Tenant,
    simulator: Simulator,
    simulator_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIM_KEY", simulator.config.api_key)
    simulator.configure(speed=0.02)  # each task runs for about a second upstream
    stack = start_stack(channels_file=channels(tmp_path, simulator_url, ("capped", "SIM_KEY", 5)))
    with (
        celery_worker(stack.settings, tmp_path / "w2.log", beat=False),
        celery_worker(stack.settings, tmp_path / "w3.log", beat=False),
    ):
        job_ids = [stack.create(tenant, kling_request(prompt=f"boat {n}")) for n in range(30)]
        finished = [stack.wait_for_end(tenant, job_id, timeout=110) for job_id in job_ids]
    stats = simulator.stats()["kling"]
    print(f"capacity: 30 jobs, cap 5, 3 workers: upstream max concurrent = {stats.max_concurrent}")
    assert [job["status"] for job in finished] == ["succeeded"] * 30
    assert stats.max_concurrent == 5  # the cap was used, and never exceeded
    assert stats.creates == 30


def test_capacity_no_leaked_slot_after_jobs_end(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    simulator_url: str,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIM_KEY", simulator.config.api_key)
    settings = make_settings(channels_file=channels(tmp_path, simulator_url, ("only", "SIM_KEY", 1)))
    for _ in range(3):
        job_id = create_job(db, tenant, settings)
        assert submission.submit(db, http, settings, job_id) is S.SUBMITTED
        services.wait_until(
            lambda job_id=job_id: bool(tracking.poll(db, http, settings, [job_id])), timeout=10
        )
        assert storing.store(db, http, build_storage(settings), settings, job_id) is S.SUCCEEDED
