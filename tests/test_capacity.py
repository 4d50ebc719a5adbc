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
from orchestrator.ops import audit
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


def midjourney_channels(tmp_path: Path, url: str, *entries: tuple[str, int | None]) -> Path:
    """A channel file of midjourney channels (name, max_concurrency), all keyed by SIM_KEY."""
    body = ""
    for name, cap in entries:
        body += f'[[channel]]\nprovider = "midjourney"\nname = "{name}"\nbase_url = "{url}"\n'
        body += 'api_key_env = "SIM_KEY"\n' + (f"max_concurrency = {cap}\n" if cap else "")
    path = tmp_path / f"channels-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(body)
    return path


def imagine(db: Database, tenant: Tenant, settings: Settings) -> uuid.UUID:
    return create_job(
        db, tenant, settings, provider="midjourney", operation="imagine", model="midjourney-v7",
        input={"prompt": "a lighthouse at dusk"},
    )  # fmt: skip


def run_to_success(db: Database, http: httpx.Client, settings: Settings, job_id: uuid.UUID) -> Job:
    assert submission.submit(db, http, settings, job_id) is S.SUBMITTED
    for _ in range(60):
        for stored_id in tracking.poll(db, http, settings, [job_id]):
            storing.store(db, http, build_storage(settings), settings, stored_id)
        if job(db, job_id).state == S.SUCCEEDED:
            return job(db, job_id)
    pytest.fail("the parent never succeeded")


def upsample_of(db: Database, tenant: Tenant, settings: Settings, parent: Job) -> uuid.UUID:
    assert parent.result is not None
    button = next(b for b in parent.result["buttons"] if "upsample" in b["customId"])
    follow_up = {"parent_job_id": str(parent.job_id), "custom_id": button["customId"]}
    return create_job(
        db,
        tenant,
        settings,
        provider="midjourney",
        operation="action",
        model="midjourney-v7",
        input=follow_up,
    )


def test_capacity_a_follow_up_runs_on_its_parents_channel_and_waits_for_it(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    simulator_url: str,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A follow-up acts on a task that only its parent's upstream account knows: it goes to that
    channel, never to another with room, and waits while that one is full."""
    monkeypatch.setenv("SIM_KEY", simulator.config.api_key)
    only_a = make_settings(channels_file=midjourney_channels(tmp_path, simulator_url, ("a", None)))
    both = make_settings(channels_file=midjourney_channels(tmp_path, simulator_url, ("a", 1), ("b", None)))
    parent = run_to_success(db, http, only_a, imagine(db, tenant, only_a))
    assert parent.channel == "a"
    simulator.script("midjourney", [Outcome(result="succeed", processing_s=600)])
    occupier = imagine(db, tenant, only_a)
    assert submission.submit(db, http, only_a, occupier) is S.SUBMITTED  # "a" is now full

    follow_up = upsample_of(db, tenant, both, parent)
    assert submission.submit(db, http, both, follow_up) is None
    waiting = job(db, follow_up)
    assert (waiting.state, waiting.awaiting_capacity) == (S.QUEUED, True)
    unpinned = imagine(db, tenant, both)
    assert submission.submit(db, http, both, unpinned) is S.SUBMITTED  # "b" had room all along
    assert job(db, unpinned).channel == "b"
    assert job(db, follow_up).state == S.QUEUED  # and the follow-up did not take it

    with db.transaction() as session:  # the occupier ends upstream: "a" has room again
        session.execute(update(Job).where(Job.job_id == occupier).values(state="failed"))
    assert submission.admit_waiting(db, http, both, "midjourney") == 1
    admitted = job(db, follow_up)
    assert (admitted.state, admitted.channel) == (S.SUBMITTED, "a")


def test_capacity_a_follow_up_whose_parents_channel_is_gone_fails_and_costs_nothing(
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
    only_a = make_settings(channels_file=midjourney_channels(tmp_path, simulator_url, ("a", None)))
    only_b = make_settings(channels_file=midjourney_channels(tmp_path, simulator_url, ("b", None)))
    parent = run_to_success(db, http, only_a, imagine(db, tenant, only_a))
    creates = simulator.stats()["midjourney"].creates

    follow_up = upsample_of(db, tenant, only_b, parent)
    assert submission.submit(db, http, only_b, follow_up) is None
    failed = job(db, follow_up)
    assert (failed.state, failed.error_code, failed.charged) == (S.FAILED, "parent_channel_gone", 0)
    assert "'a'" in (failed.error_message or "")
    assert simulator.stats()["midjourney"].creates == creates  # nothing was sent anywhere
    with db.transaction() as session:
        assert audit.find_breaches(session) == []
