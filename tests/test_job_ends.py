"""Waiting for a job to end (`Prefer: wait`) without a thread or a database connection per waiter: the
NOTIFY sent in the transaction that ends a job, the one listener per API process that wakes its waiters,
on a real uvicorn server with hundreds of requests waiting at once; a lost notification never leaves a
waiter past its timeout, and the listener comes back after losing its database connection."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
from sqlalchemy import select, text

from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.job_ends import CHANNEL, JobEnds, libpq_url
from orchestrator.lifecycle import Change, advance
from orchestrator.models import Job
from orchestrator.settings import Settings
from schemas.jobs import JobStatus
from tests import services
from tests.factories import Tenant, create_job

CREATE = "/v1/models/black-forest-labs/flux-schnell/predictions"
WAITERS = 300


def listener_of(app: Any) -> JobEnds:
    listener = app.state.context.job_ends
    assert isinstance(listener, JobEnds)
    return listener


def waiting(listener: JobEnds) -> int:
    """How many requests wait now (read from another thread: retried should the dict change meanwhile)."""
    while True:
        try:
            return listener.waiting
        except RuntimeError:
            continue


def queued_jobs(db: Database, tenant: Tenant) -> list[uuid.UUID]:
    with db.transaction() as session:
        query = select(Job.job_id).where(
            Job.account_id == tenant.account_id, Job.state == JobStatus.QUEUED.value
        )
        return list(session.execute(query).scalars())


def cancel_all(db: Database, job_ids: list[uuid.UUID]) -> None:
    """End the jobs in one transaction, through lifecycle.advance as the pipeline does."""
    with db.transaction() as session:
        for job_id in job_ids:
            assert advance(session, job_id, JobStatus.QUEUED, Change(JobStatus.CANCELLED)) is not None


def test_job_ends_hundreds_of_waiting_requests_hold_no_thread_and_no_connection(
    make_settings: Callable[..., Settings], db: Database, tenant: Tenant
) -> None:
    app = create_app(make_settings(rate_limit_rps=100_000))
    with services.serving(app) as server:
        listener = listener_of(app)
        pool = app.state.context.db.engine.pool
        services.wait_until(listener.connected.is_set, message="the listener connects")
        threads_before = threading.active_count()

        async def run() -> tuple[list[httpx.Response], int, int]:
            limits = httpx.Limits(max_connections=WAITERS + 10)
            # Each waits up to 60 s; the client gives up at 30 s: an answer proves the wake-up came.
            async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as client:
                headers = {**tenant.headers, "Prefer": "wait=60"}
                sent = [
                    asyncio.create_task(
                        client.post(CREATE, json={"input": {"prompt": f"boat {n}"}}, headers=headers)
                    )
                    for n in range(WAITERS)
                ]
                for _ in range(1200):  # up to a minute for all of them to be accepted, waiting, and for
                    # their first look at the job (a pooled connection, borrowed for one read) to be over
                    if waiting(listener) == WAITERS and pool.checkedout() == 0:
                        break
                    await asyncio.sleep(0.05)
                threads, connections = threading.active_count(), pool.checkedout()
                assert waiting(listener) == WAITERS
                await asyncio.to_thread(cancel_all, db, queued_jobs(db, tenant))
                return await asyncio.gather(*sent), threads, connections

        answers, threads_while_waiting, connections_while_waiting = asyncio.run(run())
    # All of them waited at once, each a coroutine: the thread pool (40) could not have held them.
    assert threads_while_waiting - threads_before < 45
    assert connections_while_waiting == 0
    assert all(answer.status_code == 201 for answer in answers)
    assert {answer.json()["status"] for answer in answers} == {"canceled"}
    assert {answer.headers["preference-applied"] for answer in answers} == {"wait=60"}
    assert listener.waiting == 0


def test_job_ends_the_listener_reconnects_after_losing_its_connection(
    make_settings: Callable[..., Settings], db: Database, tenant: Tenant
) -> None:
    app = create_app(make_settings())
    with services.serving(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        listener = listener_of(app)
        services.wait_until(lambda: listener.connections == 1, message="the listener connects")
        with db.transaction() as session:  # as a database restart would: the listener's session ends
            ended = session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query = :listen"
                ),
                {"listen": f"LISTEN {CHANNEL}"},
            ).all()
        assert len(ended) == 1
        services.wait_until(lambda: listener.connections == 2, timeout=30, message="the listener reconnects")

        def end_when_waiting() -> None:
            services.wait_until(lambda: waiting(listener) == 1, timeout=20)
            cancel_all(db, queued_jobs(db, tenant))

        ender = threading.Thread(target=end_when_waiting)
        ender.start()
        answer = client.post(
            CREATE, json={"input": {"prompt": "a boat"}}, headers={**tenant.headers, "Prefer": "wait=60"}
        )
        ender.join()
    assert answer.json()["status"] == "canceled"


def test_job_ends_a_waiter_gives_up_at_its_timeout_without_any_notification() -> None:
    async def run() -> tuple[bool, bool, int]:
        with services.closed_port() as port:
            listener = JobEnds(f"postgresql+psycopg://nobody@127.0.0.1:{port}/nothing")
            listener.start()  # never connects: every notification is lost
            looks = 0

            async def ended() -> bool:
                nonlocal looks
                looks += 1
                return False

            timed_out = await listener.wait("job-1", 0.2, ended)

            async def already() -> bool:
                return True

            done = await listener.wait("job-2", 60, already)
            await listener.stop()
            return timed_out, done, looks

    timed_out, done, looks = asyncio.run(run())
    assert (timed_out, done) == (False, True)
    assert looks >= 1


def test_job_ends_a_change_is_announced_when_it_commits_with_an_event_and_not_before(
    db: Database, tenant: Tenant, database_url: str, make_settings: Callable[..., Settings]
) -> None:
    with psycopg.connect(libpq_url(database_url), autocommit=True) as listening:
        listening.execute(f"LISTEN {CHANNEL}")
        job_id = create_job(db, tenant, make_settings())
        (created,) = list(listening.notifies(timeout=5, stop_after=1))  # the account's new jobs
        with db.transaction() as session:
            advance(session, job_id, JobStatus.QUEUED, Change(JobStatus.SUBMITTING))
        assert list(listening.notifies(timeout=0.2)) == []  # a step with no event: nobody is woken
        with db.transaction() as session:
            advance(session, job_id, JobStatus.SUBMITTING, Change(JobStatus.FAILED))
            assert list(listening.notifies(timeout=0.2)) == []  # not before it commits
        (ended,) = list(listening.notifies(timeout=5, stop_after=1))
    assert (created.channel, created.payload) == (CHANNEL, f"{tenant.account_id} queued")
    assert (ended.channel, ended.payload) == (CHANNEL, f"{tenant.account_id} failed {job_id}")
