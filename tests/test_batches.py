"""Server-side batches: a JSONL file checked whole, accepted at once; its lines made into jobs in file
order, each with its own hold, exactly once however often an expansion runs; paused at the account's
open-jobs limit; lines that do not fit the credits refused and the rest taken; cancelled; ended with a
webhook; reported line by line as JSONL."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from orchestrator import messaging
from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.lifecycle import Change, advance
from orchestrator.models import Batch, BatchLine, Job, OutboxEvent
from orchestrator.ops import admin
from orchestrator.pipeline import batching
from orchestrator.pricing import PriceTable, load_price_table
from orchestrator.settings import Settings
from schemas.jobs import JobStatus
from tests.conftest import BROKER_PREFIX, CREDITS
from tests.driving import balances
from tests.factories import Tenant, kling_request

PRICE = 200_000  # a 5 s kling-v1-6 job, in micro-credits
JSONL = {"Content-Type": "application/jsonl"}


def batch_file(*custom_ids: str, **body: Any) -> bytes:
    lines = [
        json.dumps({"custom_id": cid, "body": {**kling_request(f"shot {cid}"), **body}}) for cid in custom_ids
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(webhook_allowlist=["127.0.0.1"])


@pytest.fixture
def client(settings: Settings, db: Database, broker: object) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def expand(settings: Settings, db: Database, broker_url: str) -> Iterator[Callable[[str], int]]:
    """Run an expansion of the batch as a worker would; how many jobs it made."""
    dispatcher = messaging.Dispatcher(broker_url, BROKER_PREFIX)
    prices: PriceTable = load_price_table(settings.prices_path)
    yield lambda batch_id: batching.expand(db, dispatcher, settings, prices, uuid.UUID(batch_id))
    dispatcher.close()


def submit(client: TestClient, tenant: Tenant, body: bytes, **headers: str) -> dict[str, Any]:
    answer = client.post("/v1/batches", content=body, headers={**tenant.headers, **JSONL, **headers})
    assert answer.status_code == 202, answer.text
    result: dict[str, Any] = answer.json()
    return result


def results(client: TestClient, tenant: Tenant, batch_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/v1/batches/{batch_id}/results", headers=tenant.headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/jsonl")
    return [json.loads(line) for line in answer.text.splitlines()]


def end_jobs(db: Database, batch_id: str, to: JobStatus = JobStatus.FAILED) -> None:
    with db.transaction() as session:
        for job_id in session.execute(
            select(Job.job_id).where(Job.batch_id == uuid.UUID(batch_id))
        ).scalars():
            advance(session, job_id, JobStatus.QUEUED, Change(to))


def test_batches_lines_become_jobs_in_order_each_with_its_hold_exactly_once(
    client: TestClient, tenant: Tenant, db: Database, expand: Callable[[str], int]
) -> None:
    batch = submit(client, tenant, batch_file("a", "b", "c"))
    assert batch["status"] == "in_progress"
    assert batch["request_counts"] == {
        "total": 3,
        "pending": 3,
        "running": 0,
        "succeeded": 0,
        "failed": 0,
        "refused": 0,
    }
    assert expand(batch["batch_id"]) == 3
    assert expand(batch["batch_id"]) == 0  # run again (a redelivered message): nothing more
    shown = client.get(f"/v1/batches/{batch['batch_id']}", headers=tenant.headers).json()
    assert shown["request_counts"]["running"] == 3
    assert shown["expanded_at"] is not None
    assert balances(db, tenant)[1] == 3 * PRICE  # a hold per job
    rows = results(client, tenant, batch["batch_id"])
    assert [(r["line"], r["custom_id"], r["status"]) for r in rows] == [
        (1, "a", "queued"),
        (2, "b", "queued"),
        (3, "c", "queued"),
    ]
    job = client.get(f"/v1/jobs/{rows[1]['job_id']}", headers=tenant.headers).json()
    assert (job["status"], job["price"]) == ("queued", PRICE)


def test_batches_two_expansions_at_once_make_each_job_once(
    client: TestClient, make_tenant: Callable[..., Tenant], db: Database, expand: Callable[[str], int]
) -> None:
    lines = 900  # two chunks and a part, under the default open-jobs limit; credits for all
    tenant = make_tenant(credits=1000 * CREDITS)
    batch = submit(client, tenant, batch_file(*(f"line-{n}" for n in range(lines))))
    made: list[int] = []
    threads = [threading.Thread(target=lambda: made.append(expand(batch["batch_id"]))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(made) == lines
    with db.transaction() as session:
        jobs = session.execute(
            select(func.count(), func.count(func.distinct(Job.client_reference))).where(
                Job.batch_id == uuid.UUID(batch["batch_id"])
            )
        ).one()
    assert tuple(jobs) == (lines, lines)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"custom_id": "a", "body": {"provider": "kling"}\n', "line 1"),  # not JSON
        (batch_file("a", "a"), "line 2"),  # duplicate custom_id
        (batch_file("a") + batch_file("b", provider="nope"), "line 2"),
        (batch_file("a", "b", input={"prompt": "x", "duration": 7}), "line 1: input.duration"),
        (b'{"custom_id": "bad id!", "body": {}}\n', "line 1: custom_id"),
        (b"\n\n", None),
    ],
)
def test_batches_a_file_with_a_bad_line_makes_no_batch(
    client: TestClient, tenant: Tenant, db: Database, body: bytes, where: str | None
) -> None:
    answer = client.post("/v1/batches", content=body, headers={**tenant.headers, **JSONL})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_batch"
    if where is not None:
        assert any(f["field"].startswith(where) for f in error["fields"]), error
    with db.transaction() as session:
        assert session.execute(select(func.count()).select_from(Batch)).scalar() == 0


def test_batches_unsupported_media_type_and_multipart_upload(client: TestClient, tenant: Tenant) -> None:
    refused = client.post(
        "/v1/batches", content=b"{}", headers={**tenant.headers, "Content-Type": "image/png"}
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (415, "unsupported_media_type")
    uploaded = client.post(
        "/v1/batches",
        files={"file": ("shots.jsonl", batch_file("x", "y"), "application/jsonl")},
        data={"callback_url": "http://127.0.0.1:9/batch-hook"},
        headers=tenant.headers,
    )
    assert uploaded.status_code == 202, uploaded.text
    assert uploaded.json()["request_counts"]["total"] == 2
    assert uploaded.json()["callback_url"] == "http://127.0.0.1:9/batch-hook"


def test_batches_lines_beyond_the_credits_are_refused_and_the_rest_taken(
    client: TestClient, make_tenant: Callable[..., Tenant], expand: Callable[[str], int]
) -> None:
    poor = make_tenant(credits=2 * PRICE + PRICE // 2)
    batch = submit(client, poor, batch_file("a", "b", "c"))
    assert expand(batch["batch_id"]) == 2
    rows = results(client, poor, batch["batch_id"])
    assert [r["status"] for r in rows] == ["queued", "queued", "refused"]
    assert rows[2]["error"]["code"] == "insufficient_credits"
    assert rows[2]["job_id"] is None
    counts = client.get(f"/v1/batches/{batch['batch_id']}", headers=poor.headers).json()["request_counts"]
    assert (counts["running"], counts["refused"], counts["pending"]) == (2, 1, 0)


def test_batches_pause_at_the_open_jobs_limit_and_go_on_as_jobs_finish(
    client: TestClient, tenant: Tenant, db: Database, expand: Callable[[str], int]
) -> None:
    with db.transaction() as session:
        admin.set_limits(session, tenant.account_id, {"max_open_jobs": 2})
    batch = submit(client, tenant, batch_file("a", "b", "c"))
    batch_id = uuid.UUID(batch["batch_id"])
    assert expand(batch["batch_id"]) == 2
    with db.transaction() as session:
        paused = session.get(Batch, batch_id)
        assert paused is not None
        assert paused.next_expand_at is not None
        assert paused.next_expand_at > datetime.now(UTC)  # back later, not spinning
    assert [r["status"] for r in results(client, tenant, batch["batch_id"])] == [
        "queued",
        "queued",
        "pending",
    ]
    with db.transaction() as session:
        first = session.execute(select(Job.job_id).where(Job.client_reference == "a")).scalar_one()
        advance(session, first, JobStatus.QUEUED, Change(JobStatus.FAILED))
        session.execute(update(Batch).where(Batch.batch_id == batch_id).values(next_expand_at=func.now()))
        assert batching.claim_due(session, 10) == [str(batch_id)]
    assert expand(batch["batch_id"]) == 1
    assert [r["status"] for r in results(client, tenant, batch["batch_id"])] == ["failed", "queued", "queued"]


def test_batches_cancel_refuses_pending_lines_and_releases_queued_jobs(
    client: TestClient, tenant: Tenant, db: Database, expand: Callable[[str], int], settings: Settings
) -> None:
    with db.transaction() as session:
        admin.set_limits(session, tenant.account_id, {"max_open_jobs": 2})
    hook = "http://127.0.0.1:9/batch-hook"
    batch = client.post(
        f"/v1/batches?callback_url={hook}",
        content=batch_file("a", "b", "c"),
        headers={**tenant.headers, **JSONL},
    ).json()
    assert expand(batch["batch_id"]) == 2
    with db.transaction() as session:  # one of its jobs is upstream already: it runs to its end
        started = session.execute(
            select(Job.job_id).where(
                Job.batch_id == uuid.UUID(batch["batch_id"]), Job.client_reference == "a"
            )
        ).scalar_one()
        advance(session, started, JobStatus.QUEUED, Change(JobStatus.SUBMITTING))
    cancelled = client.post(f"/v1/batches/{batch['batch_id']}/cancel", headers=tenant.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelling"
    rows = results(client, tenant, batch["batch_id"])
    assert [r["status"] for r in rows] == ["submitting", "cancelled", "refused"]
    assert rows[2]["error"]["code"] == "batch_cancelled"
    assert balances(db, tenant)[1] == PRICE  # only the job upstream still holds its price
    again = client.post(f"/v1/batches/{batch['batch_id']}/cancel", headers=tenant.headers)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "batch_not_cancellable")
    assert expand(batch["batch_id"]) == 0  # a late expansion makes nothing
    with db.transaction() as session:
        assert batching.end_finished(session, settings) == []  # a job still runs
        advance(session, started, JobStatus.SUBMITTING, Change(JobStatus.FAILED))
    with db.transaction() as session:
        assert batching.end_finished(session, settings) == [uuid.UUID(batch["batch_id"])]
        event = session.execute(select(OutboxEvent).where(OutboxEvent.job_id.is_(None))).scalar_one()
    assert (event.event_type, event.url) == ("batch.cancelled", hook)
    assert event.snapshot["status"] == "cancelled"
    assert event.snapshot["request_counts"]["failed"] == 2


def test_batches_end_when_every_line_has_ended_with_one_webhook(
    client: TestClient, tenant: Tenant, db: Database, expand: Callable[[str], int], settings: Settings
) -> None:
    hook = "http://127.0.0.1:9/batch-hook"
    batch = client.post(
        f"/v1/batches?callback_url={hook}", content=batch_file("a", "b"), headers={**tenant.headers, **JSONL}
    ).json()
    expand(batch["batch_id"])
    with db.transaction() as session:
        assert batching.end_finished(session, settings) == []
    end_jobs(db, batch["batch_id"], JobStatus.CANCELLED)
    with db.transaction() as session:
        assert batching.end_finished(session, settings) == [uuid.UUID(batch["batch_id"])]
    with db.transaction() as session:
        assert batching.end_finished(session, settings) == []  # once
        events = session.execute(select(OutboxEvent.event_type).where(OutboxEvent.job_id.is_(None))).all()
    assert [e.event_type for e in events] == ["batch.completed"]
    shown = client.get(f"/v1/batches/{batch['batch_id']}", headers=tenant.headers).json()
    assert (shown["status"], shown["request_counts"]["failed"]) == ("completed", 2)
    assert shown["finished_at"] is not None


def test_batches_an_idempotency_key_replays_the_batch_and_refuses_another_file(
    client: TestClient, tenant: Tenant, db: Database
) -> None:
    first = submit(client, tenant, batch_file("a", "b"), **{"Idempotency-Key": "upload-1"})
    again = client.post(
        "/v1/batches",
        content=batch_file("a", "b"),
        headers={**tenant.headers, **JSONL, "Idempotency-Key": "upload-1"},
    )
    assert again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["batch_id"] == first["batch_id"]
    other = client.post(
        "/v1/batches",
        content=batch_file("c"),
        headers={**tenant.headers, **JSONL, "Idempotency-Key": "upload-1"},
    )
    assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_reused")
    with db.transaction() as session:
        assert session.execute(select(func.count()).select_from(Batch)).scalar() == 1
        assert session.execute(select(func.count()).select_from(BatchLine)).scalar() == 2


def test_batches_belong_to_their_account(
    client: TestClient, tenant: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    batch = submit(client, tenant, batch_file("a"))
    other = make_tenant(credits=CREDITS)
    for path in ("", "/results"):
        answer = client.get(f"/v1/batches/{batch['batch_id']}{path}", headers=other.headers)
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "batch_not_found")
    assert client.get("/v1/batches", headers=other.headers).json()["data"] == []
    listed = client.get("/v1/batches?limit=1", headers=tenant.headers).json()
    assert [b["batch_id"] for b in listed["data"]] == [batch["batch_id"]]
