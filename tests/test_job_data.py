"""A job's data: `DELETE /v1/jobs/{job_id}/data` deletes a finished job's files, input, metadata and
provider result from every store genrelay keeps them in (a canary prompt is then found in no table and
no file), and the input retention clears old inputs in bounded batches; the job, its timeline and the
ledger stay."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from orchestrator import lifecycle
from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.models import Account, Job, JobEvent, LedgerEntry
from orchestrator.ops.audit import find_breaches
from orchestrator.pipeline import retention
from orchestrator.settings import Settings
from orchestrator.storage import LocalStorage
from schemas.jobs import JobStatus
from tests.factories import Tenant, create_job, kling_request

S = JobStatus
CANARY = "canary-7f3a9c-lighthouse"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(webhook_allowlist=["127.0.0.1"])


@pytest.fixture
def client(settings: Settings, db: Database, broker: redis.Redis) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def drive(db: Database, job_id: uuid.UUID, *steps: lifecycle.Change) -> None:
    with db.transaction() as session:
        current = JobStatus(session.scalar(select(Job.state).where(Job.job_id == job_id)))
        for step in steps:
            assert lifecycle.advance(session, job_id, current, step) is not None
            current = step.to


def tables_holding(db: Database, needle: str) -> list[str]:
    """Every table of the database with a row whose text holds `needle`."""
    with db.transaction() as session:
        names = session.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ).scalars()
        return [
            name
            for name in names
            if session.scalar(
                text(f'SELECT count(*) FROM "{name}" t WHERE t::text LIKE :needle'), {"needle": f"%{needle}%"}
            )
        ]


def money(db: Database) -> list[Any]:
    with db.transaction() as session:
        totals = session.execute(select(Account.credits_added, Account.captured, Account.held)).all()
        journal = session.execute(select(func.count(), func.sum(LedgerEntry.amount))).one()
    return [*map(tuple, totals), tuple(journal)]


def test_job_data_deleted_leaves_a_canary_prompt_in_no_table_and_no_file(
    client: TestClient, db: Database, tenant: Tenant, settings: Settings
) -> None:
    body = {
        **kling_request(prompt=CANARY),
        "metadata": {"note": CANARY},
        "callback_url": "http://127.0.0.1:9/hook",
    }
    created = client.post("/v1/jobs", json=body, headers={**tenant.headers, "Idempotency-Key": "canary-1"})
    assert created.status_code == 202, created.text
    job_id = uuid.UUID(created.json()["job_id"])
    drive(
        db,
        job_id,
        lifecycle.Change(S.SUBMITTING),
        lifecycle.Change(S.SUBMITTED),
        lifecycle.Change(S.STORING, columns={"result": {"prompt": CANARY}}),
        lifecycle.Change(S.SUCCEEDED),
    )
    storage = client.app.state.context.storage  # type: ignore[attr-defined]
    assert isinstance(storage, LocalStorage)
    key = f"jobs/{job_id}/0.txt"
    storage.put_stream(key, iter([CANARY.encode()]), "text/plain")
    with db.transaction() as session:
        session.execute(
            text(
                "INSERT INTO job_outputs (job_id, output_index, storage_key, content_type, size_bytes,"
                " sha256) VALUES (:j, 0, :k, 'text/plain', 24, :s)"
            ),
            {"j": job_id, "k": key, "s": "0" * 64},
        )
    held = tables_holding(db, CANARY)
    assert {"jobs", "job_events", "outbox", "idempotency_keys"} <= set(held)  # where it was kept
    before = money(db)

    deleted = client.delete(f"/v1/jobs/{job_id}/data", headers=tenant.headers)
    assert deleted.status_code == 200, deleted.text
    shown = deleted.json()
    assert (shown["status"], shown["outputs"], shown["metadata"], shown["result"]) == (
        "succeeded",
        [],
        None,
        None,
    )
    assert shown["data_deleted_at"] is not None
    assert shown["inputs_cleared_at"] is not None
    assert shown["charged"] == shown["price"]
    assert tables_holding(db, CANARY) == []
    assert not storage.path_for(key).exists()
    assert money(db) == before
    with db.transaction() as session:
        assert find_breaches(session) == []
        assert (
            session.scalar(select(func.count()).select_from(JobEvent).where(JobEvent.job_id == job_id)) == 5
        )
    again = client.delete(f"/v1/jobs/{job_id}/data", headers=tenant.headers)
    assert again.json()["data_deleted_at"] == shown["data_deleted_at"]
    assert client.get(f"/v1/jobs/{job_id}", headers=tenant.headers).json()["data_deleted_at"] is not None


def test_job_data_of_an_unfinished_or_anothers_job_is_not_deleted(
    client: TestClient, db: Database, tenant: Tenant, settings: Settings, make_tenant: Callable[..., Tenant]
) -> None:
    job_id = create_job(db, tenant, settings)
    refused = client.delete(f"/v1/jobs/{job_id}/data", headers=tenant.headers)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "job_not_finished")
    stranger = make_tenant(name="stranger")
    foreign = client.delete(f"/v1/jobs/{job_id}/data", headers=stranger.headers)
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "job_not_found")
    with db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert (job.input["prompt"], job.data_deleted_at) == ("a paper boat on a lake", None)


def test_input_retention_clears_old_inputs_in_bounded_batches_and_keeps_the_rest(
    make_settings: Callable[..., Settings], db: Database, tenant: Tenant, settings: Settings
) -> None:
    old = [create_job(db, tenant, settings, metadata={"note": CANARY}) for _ in range(5)]
    recent, running = create_job(db, tenant, settings), create_job(db, tenant, settings)
    for job_id in [*old, recent]:
        drive(db, job_id, lifecycle.Change(S.SUBMITTING), lifecycle.Change(S.FAILED))
    with db.transaction() as session:
        session.execute(
            update(Job).where(Job.job_id.in_(old)).values(finished_at=func.now() - text("interval '8 days'"))
        )
    assert retention.clear_inputs(db, settings) == 0  # no input retention set: kept
    week = make_settings(input_retention_days=7)
    assert [retention.clear_inputs(db, week, batch=2, rounds=1) for _ in range(4)] == [2, 2, 1, 0]
    with db.transaction() as session:
        jobs = {job.job_id: job for job in session.execute(select(Job)).scalars()}
    assert all(jobs[j].input == {} and jobs[j].inputs_cleared_at is not None for j in old)
    assert all(jobs[j].input["prompt"] == "a paper boat on a lake" for j in (recent, running))
    assert tables_holding(db, CANARY) == []
    with db.transaction() as session:
        assert find_breaches(session) == []
