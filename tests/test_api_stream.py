"""The event streams on a real uvicorn server: a job's stream replays its past events as they were, then
its live ones as they commit, and closes after its end; a resumed stream gets only later events; the
job's chosen event types filter it; an account's stream sees only the account's jobs (filtered by
status and provider), in the order their transactions ended, with none lost to a transaction that
commits late; idle streams send keep-alives; hundreds of open streams hold no thread and no pooled
connection; errors before a stream starts are JSON."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.lifecycle import Change, advance, record_progress
from orchestrator.models import Job
from orchestrator.settings import Settings
from orchestrator.tenants import streams
from schemas.jobs import JobStatus
from schemas.webhooks import WebhookEvent
from tests import services
from tests.factories import Tenant, create_job
from tests.test_job_ends import listener_of

S = JobStatus
STREAMS = 200


class Reader:
    """One stream read to its end in a thread: its answer's status, events and comments as they come."""

    def __init__(self, base_url: str, path: str, headers: dict[str, str]) -> None:
        self.status: int | None = None
        self.body = b""
        self.events: list[dict[str, Any]] = []
        self.comments: list[str] = []
        self.closed = False
        self._http = httpx.Client(base_url=base_url, timeout=30)
        self._thread = threading.Thread(target=self._read, args=(path, headers), daemon=True)
        self._thread.start()

    def _read(self, path: str, headers: dict[str, str]) -> None:
        try:
            with self._http.stream("GET", path, headers=headers) as response:
                self.status = response.status_code
                if response.status_code != 200:
                    self.body = response.read()
                    return
                event: dict[str, Any] = {}
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self.comments.append(line[1:].strip())
                    elif line:
                        field, _, value = line.partition(":")
                        event[field] = value.removeprefix(" ")
                    elif event:
                        event["data"] = json.loads(event["data"])
                        self.events.append(event)
                        event = {}
        except httpx.HTTPError:
            pass  # closed by the test
        finally:
            self.closed = True

    @property
    def types(self) -> list[str]:
        return [event["event"] for event in self.events]

    def close(self) -> None:
        self._http.close()
        self._thread.join(timeout=10)


@pytest.fixture
def server(make_settings: Callable[..., Settings]) -> Iterator[tuple[str, Any]]:
    app = create_app(make_settings(rate_limit_rps=100_000, stream_keepalive_s=0.3))
    with services.serving(app) as running:
        services.wait_until(listener_of(app).connected.is_set, message="the listener connects")
        yield running.url, app


@pytest.fixture
def read(server: tuple[str, Any]) -> Iterator[Callable[..., Reader]]:
    readers: list[Reader] = []

    def start(path: str, tenant: Tenant, **headers: str) -> Reader:
        reader = Reader(server[0], path, {**tenant.headers, **headers})
        readers.append(reader)
        services.wait_until(lambda: reader.status is not None, message=f"{path} answers")
        return reader

    yield start
    for reader in readers:
        reader.close()


def move(db: Database, job_id: uuid.UUID, *steps: JobStatus) -> None:
    """Take the job through `steps`, one transaction each, as the pipeline does."""
    with db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        state = S(job.state)
    for step in steps:
        with db.transaction() as session:
            assert advance(session, job_id, state, Change(step)) is not None
        state = step


def watching(app: Any, count: int) -> None:
    services.wait_until(lambda: listener_of(app).watching == count, message=f"{count} streams watch")


def test_stream_a_job_replays_its_past_as_it_was_then_live_events_and_closes_after_its_end(
    server: tuple[str, Any], read: Callable[..., Reader], db: Database, tenant: Tenant, make_settings: Any
) -> None:
    _, app = server
    job_id = create_job(db, tenant, make_settings())
    move(db, job_id, S.SUBMITTING, S.RUNNING)
    reader = read(f"/v1/jobs/{job_id}/stream", tenant)
    assert reader.status == 200
    services.wait_until(lambda: reader.types == ["job.queued", "job.running"], message="the past")
    watching(app, 1)
    move(db, job_id, S.STORING)  # a step with no event
    move(db, job_id, S.SUCCEEDED)
    services.wait_until(lambda: reader.closed, message="the stream closes after the end")
    assert reader.types == ["job.queued", "job.running", "job.succeeded"]
    assert [event["id"] for event in reader.events] == ["1", "3", "5"]
    bodies = [WebhookEvent.model_validate(event["data"]) for event in reader.events]
    # Each as the job was at that event, though the first two were read after it had moved on.
    assert [body.data.status for body in bodies] == [S.QUEUED, S.RUNNING, S.SUCCEEDED]
    assert [body.sequence for body in bodies] == [1, 3, 5]
    assert {body.data.job_id for body in bodies} == {str(job_id)}
    assert [body.type for body in bodies] == reader.types
    assert listener_of(app).watching == 0


def test_stream_a_jobs_progress_steps_are_events_it_replays_and_resumes_after(
    server: tuple[str, Any], read: Callable[..., Reader], db: Database, tenant: Tenant, make_settings: Any
) -> None:
    _, app = server
    job_id = create_job(db, tenant, make_settings())
    move(db, job_id, S.SUBMITTING, S.SUBMITTED)
    reader = read(f"/v1/jobs/{job_id}/stream", tenant)
    watching(app, 1)
    with db.transaction() as session:  # accepted upstream, not yet running: a step there counts too
        assert record_progress(session, job_id, S.SUBMITTED, 20)
    move(db, job_id, S.RUNNING)
    for progress in (30, 45, 60):  # a step of 20 points since the last told is an event
        with db.transaction() as session:
            assert record_progress(session, job_id, S.RUNNING, progress)
    services.wait_until(lambda: reader.types.count("job.progress") == 2, message="two progress steps")
    progress_events = [event for event in reader.events if event["event"] == "job.progress"]
    assert [event["data"]["data"]["progress"] for event in progress_events] == [20, 45]
    move(db, job_id, S.FAILED)
    services.wait_until(lambda: reader.closed)
    assert reader.types == ["job.queued", "job.progress", "job.running", "job.progress", "job.failed"]
    resumed = read(f"/v1/jobs/{job_id}/stream", tenant, **{"Last-Event-ID": progress_events[0]["id"]})
    services.wait_until(lambda: resumed.closed)
    assert resumed.types == ["job.running", "job.progress", "job.failed"]


def test_stream_a_resumed_job_stream_gets_only_later_events(
    server: tuple[str, Any], read: Callable[..., Reader], db: Database, tenant: Tenant, make_settings: Any
) -> None:
    job_id = create_job(db, tenant, make_settings())
    move(db, job_id, S.SUBMITTING, S.RUNNING, S.FAILED)
    by_header = read(f"/v1/jobs/{job_id}/stream", tenant, **{"Last-Event-ID": "1"})
    by_query = read(f"/v1/jobs/{job_id}/stream?last_event_id=3", tenant)
    past_the_end = read(f"/v1/jobs/{job_id}/stream", tenant, **{"Last-Event-ID": "4"})
    services.wait_until(lambda: by_header.closed and by_query.closed and past_the_end.closed)
    assert by_header.types == ["job.running", "job.failed"]
    assert by_query.types == ["job.failed"]
    assert past_the_end.types == []


def test_stream_a_job_stream_sends_only_the_event_types_its_job_chose(
    server: tuple[str, Any], read: Callable[..., Reader], db: Database, tenant: Tenant, make_settings: Any
) -> None:
    _, app = server
    job_id = create_job(db, tenant, make_settings(), webhook_events=["job.running", "job.succeeded"])
    reader = read(f"/v1/jobs/{job_id}/stream", tenant)
    watching(app, 1)
    move(db, job_id, S.SUBMITTING, S.RUNNING, S.CANCELLED)
    services.wait_until(lambda: reader.closed, message="it closes on an end it does not send")
    assert reader.types == ["job.running"]


def test_stream_an_account_stream_sees_only_its_own_jobs_through_its_filters(
    server: tuple[str, Any],
    read: Callable[..., Reader],
    db: Database,
    make_tenant: Callable[..., Tenant],
    make_settings: Any,
) -> None:
    _, app = server
    mine, other = make_tenant(name="mine"), make_tenant(name="other")
    everything = read("/v1/jobs/stream", mine)
    cancelled = read("/v1/jobs/stream?status=cancelled&provider=kling", mine)
    elsewhere = read("/v1/jobs/stream?provider=runway", mine)
    watching(app, 3)
    first = create_job(db, mine, make_settings())
    foreign = create_job(db, other, make_settings())
    move(db, foreign, S.CANCELLED)
    second = create_job(db, mine, make_settings())
    move(db, first, S.SUBMITTING, S.RUNNING)
    move(db, second, S.CANCELLED)
    services.wait_until(lambda: len(everything.events) == 4 and len(cancelled.events) == 1)
    seen = [(event["event"], event["data"]["data"]["job_id"]) for event in everything.events]
    assert seen == [
        ("job.queued", str(first)),
        ("job.queued", str(second)),
        ("job.running", str(first)),
        ("job.cancelled", str(second)),
    ]
    assert [event["data"]["data"]["job_id"] for event in cancelled.events] == [str(second)]
    assert elsewhere.events == []
    assert not everything.closed  # an account's stream stays open
    # Resumed after its second event, it gets the two after it, and nothing of the other tenant's.
    resumed = read("/v1/jobs/stream", mine, **{"Last-Event-ID": everything.events[1]["id"]})
    services.wait_until(lambda: len(resumed.events) == 2)
    assert resumed.events == everything.events[2:]


def test_stream_an_account_cursor_never_passes_a_transaction_that_commits_late(
    server: tuple[str, Any],
    read: Callable[..., Reader],
    db: Database,
    tenant: Tenant,
    make_settings: Any,
) -> None:
    _, app = server
    early, late = create_job(db, tenant, make_settings()), create_job(db, tenant, make_settings())
    move(db, early, S.SUBMITTING)
    move(db, late, S.SUBMITTING)
    reader = read("/v1/jobs/stream", tenant)
    watching(app, 1)
    storage = app.state.context.storage
    with db.transaction() as slow:  # writes its event row first (the lower id), and commits last
        # (No ending: that would lock the account's balance, which the other change needs too.)
        assert advance(slow, early, S.SUBMITTING, Change(S.RUNNING)) is not None
        slow_xact = slow.scalar(text("SELECT pg_current_xact_id()::text::bigint"))
        with db.transaction() as session:
            start = streams.start_of_account_stream(session)
        move(db, late, S.RUNNING)
        with db.transaction() as session:
            held, cursor = streams.account_events(
                session, tenant.account_id, start, streams.AccountFilter(), storage, 60
            )
        # The later change committed, but an older transaction still runs: nothing passes it. (The
        # start may lie before the slow transaction, when another transaction of the cluster, in any
        # database, ran then: the creations committed since that one began are shown, never more.)
        assert [event.event_type for event in held.events if event.event_type != "job.queued"] == []
        assert held.held_back
        assert start <= cursor <= (slow_xact, 0)
        assert "job.running" not in reader.types

    # (A stream without a cursor may also show the creations, if a transaction older than them ran
    # when it started: only the changes made since are counted.)
    def running() -> list[dict[str, Any]]:
        return [event for event in reader.events if event["event"] == "job.running"]

    services.wait_until(lambda: len(running()) == 2, message="both events, once the slow one commits")
    assert [event["data"]["data"]["job_id"] for event in running()] == [str(early), str(late)]
    resumed = read("/v1/jobs/stream", tenant, **{"Last-Event-ID": running()[0]["id"]})
    services.wait_until(lambda: len(resumed.events) == 1)
    assert resumed.events == running()[1:]


def test_stream_an_idle_stream_sends_keep_alive_comments(
    server: tuple[str, Any], read: Callable[..., Reader], db: Database, tenant: Tenant, make_settings: Any
) -> None:
    job_id = create_job(db, tenant, make_settings())
    reader = read(f"/v1/jobs/{job_id}/stream", tenant)
    services.wait_until(lambda: reader.comments.count("keep-alive") >= 2, message="keep-alives")
    assert reader.types == ["job.queued"]


def test_stream_hundreds_of_open_streams_hold_no_thread_and_no_connection(
    server: tuple[str, Any], db: Database, tenant: Tenant, make_settings: Any
) -> None:
    url, app = server
    listener, pool = listener_of(app), app.state.context.db.engine.pool
    jobs = [create_job(db, tenant, make_settings()) for _ in range(4)]
    threads_before = threading.active_count()

    async def run() -> tuple[list[list[str]], int, int]:
        limits = httpx.Limits(max_connections=STREAMS + 10)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

            async def follow(job_id: uuid.UUID) -> list[str]:
                async with client.stream(
                    "GET", f"/v1/jobs/{job_id}/stream", headers=tenant.headers
                ) as answer:
                    return [line async for line in answer.aiter_lines() if line.startswith("event:")]

            followed = [asyncio.create_task(follow(jobs[n % len(jobs)])) for n in range(STREAMS)]
            for _ in range(1200):  # up to a minute for all to open, and their first reads to be over
                if listener.watching == STREAMS and pool.checkedout() == 0:
                    break
                await asyncio.sleep(0.05)
            threads, connections = threading.active_count(), pool.checkedout()
            assert listener.watching == STREAMS
            for job_id in jobs:
                await asyncio.to_thread(move, db, job_id, S.CANCELLED)
            return await asyncio.gather(*followed), threads, connections

    seen, threads_while_open, connections_while_open = asyncio.run(run())
    # Each open stream is a coroutine: the thread pool (40) could not have held them.
    assert threads_while_open - threads_before < 45
    assert connections_while_open == 0
    assert {tuple(lines) for lines in seen} == {("event: job.queued", "event: job.cancelled")}
    services.wait_until(lambda: listener.watching == 0)


def test_stream_errors_before_a_stream_starts_are_json(
    server: tuple[str, Any],
    read: Callable[..., Reader],
    db: Database,
    tenant: Tenant,
    make_tenant: Callable[..., Tenant],
    make_settings: Any,
) -> None:
    url, app = server
    foreign = create_job(db, make_tenant(name="other"), make_settings())
    mine = create_job(db, tenant, make_settings())
    for path, code, status in [
        (f"/v1/jobs/{uuid.uuid4()}/stream", "job_not_found", 404),
        (f"/v1/jobs/{foreign}/stream", "job_not_found", 404),
        ("/v1/jobs/not-a-job/stream", "job_not_found", 404),
        # Resume points follow their documented patterns.
        (f"/v1/jobs/{mine}/stream?last_event_id=soon", "validation_error", 422),
        ("/v1/jobs/stream?last_event_id=7", "validation_error", 422),
        ("/v1/jobs/stream?status=lost", "validation_error", 422),
    ]:
        answer = httpx.get(f"{url}{path}", headers=tenant.headers, timeout=30)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), path
    unauthenticated = httpx.get(f"{url}/v1/jobs/{mine}/stream", timeout=30)
    assert (unauthenticated.status_code, unauthenticated.json()["error"]["code"]) == (401, "unauthenticated")
    assert listener_of(app).watching == 0
    spec = httpx.get(f"{url}/openapi.json", timeout=30).json()["paths"]
    for path, errors in [
        ("/v1/jobs/stream", {"401", "422", "429", "503"}),  # no id: nothing to be missing
        ("/v1/jobs/{job_id}/stream", {"401", "404", "422", "429", "503"}),
    ]:
        answers = spec[path]["get"]["responses"]
        assert "text/event-stream" in answers["200"]["content"]
        assert set(answers) == {"200", *errors}


def test_stream_an_account_stream_held_back_by_another_transaction_reads_again_once_it_ends(
    server: tuple[str, Any], read: Callable[..., Reader], db: Database, tenant: Tenant, make_settings: Any
) -> None:
    _, app = server
    reader = read("/v1/jobs/stream", tenant)
    watching(app, 1)
    with db.transaction() as unrelated:  # older, writes no event of the account: its end wakes nobody
        unrelated.execute(text("SELECT pg_current_xact_id()"))
        job_id = create_job(db, tenant, make_settings())
        with db.transaction() as session:
            now = streams.start_of_account_stream(session)
        assert now[0] <= int(unrelated.execute(text("SELECT pg_current_xact_id()::text")).scalar_one())
    services.wait_until(lambda: reader.types == ["job.queued"], message="read again without a wake-up")
    assert reader.events[0]["data"]["data"]["job_id"] == str(job_id)
