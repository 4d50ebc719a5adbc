"""The request log: each authenticated request recorded off the request path (time, key prefix, client
address, route template, status, latency, job, sizes; never a body, prompt or key), read by the account
in filtered pages, and deleted once older than the deployment keeps it, in bounded batches."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from orchestrator import request_log
from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.ids import uuid7_floor
from orchestrator.models import RequestLogEntry
from orchestrator.settings import Settings
from tests.factories import Tenant, kling_request

ADMIN_TOKEN = "admin-" + "r" * 30
CANARY = "canary-prompt-7f3a9c a lighthouse in fog"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(admin_token=ADMIN_TOKEN)


@pytest.fixture
def client(settings: Settings, db: Database, broker: redis.Redis) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def written(client: TestClient) -> None:
    """Wait for the API's writer to have written every row queued so far."""
    assert client.app.state.context.request_log.flush()  # type: ignore[attr-defined]


def log_of(client: TestClient, tenant: Tenant, **params: Any) -> dict[str, Any]:
    written(client)
    response = client.get("/v1/requests", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def prefix_of(tenant: Tenant) -> str:
    return "_".join(tenant.api_key.split("_")[:2])


def test_request_log_records_each_authenticated_request_and_nothing_of_its_content(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    created = client.post("/v1/jobs", json=kling_request(prompt=CANARY), headers=tenant.headers)
    job_id = created.json()["job_id"]
    assert client.get(f"/v1/jobs/{job_id}", headers=tenant.headers).status_code == 200
    assert client.get(f"/v1/jobs/{uuid.uuid4()}", headers=tenant.headers).status_code == 404
    kling = client.post(
        "/kling/v1/videos/text2video",
        json={"model_name": "kling-v1-6", "prompt": CANARY, "duration": "5"},
        headers=tenant.headers,
    )
    assert kling.status_code == 200
    assert client.get("/v1/account", headers={"Authorization": "Bearer gr_nope_nope"}).status_code == 401

    entries = log_of(client, tenant)["data"]
    assert [(e["method"], e["route"], e["status"]) for e in entries] == [
        ("POST", "/kling/v1/videos/text2video", 200),
        ("GET", "/v1/jobs/{job_id}", 404),
        ("GET", "/v1/jobs/{job_id}", 200),
        ("POST", "/v1/jobs", 202),
    ]
    create, read = entries[3], entries[2]
    assert (create["job_id"], read["job_id"]) == (job_id, job_id)
    assert entries[0]["job_id"] == kling.json()["data"]["task_id"]
    assert create["request_id"] == created.headers["x-request-id"]
    assert {e["key_prefix"] for e in entries} == {prefix_of(tenant)}
    assert {e["client_ip"] for e in entries} == {"testclient"}
    assert create["bytes_in"] == len(created.request.content)
    assert create["bytes_out"] == len(created.content)
    assert all(e["latency_ms"] >= 0 for e in entries)
    with db.transaction() as session:
        stored = session.execute(text("SELECT request_log::text FROM request_log")).scalars().all()
    assert len(stored) == 4  # the refused key made no row
    assert not any(CANARY in row or tenant.api_key in row for row in stored)


def test_request_log_filters_and_pages(client: TestClient, tenant: Tenant) -> None:
    before = datetime.now(UTC)
    for _ in range(3):
        client.get("/v1/account", headers=tenant.headers)
    client.get(f"/v1/jobs/{uuid.uuid4()}", headers=tenant.headers)
    assert [e["status"] for e in log_of(client, tenant, status=404)["data"]] == [404]
    by_route = log_of(client, tenant, route="/v1/account")["data"]
    assert len(by_route) == 3
    assert len(log_of(client, tenant, key=prefix_of(tenant))["data"]) >= 4
    assert log_of(client, tenant, key="gr_00000000")["data"] == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert log_of(client, tenant, since=future)["data"] == []
    assert log_of(client, tenant, until=before.isoformat())["data"] == []

    first = log_of(client, tenant, route="/v1/account", limit=2)
    assert len(first["data"]) == 2
    second = log_of(client, tenant, route="/v1/account", limit=2, cursor=first["next_cursor"])
    assert len(second["data"]) == 1
    assert second["next_cursor"] is None
    seen = [e["request_id"] for e in first["data"] + second["data"]]
    assert sorted(seen) == sorted(e["request_id"] for e in by_route)


@pytest.mark.parametrize("since", ["2026-02-30T00:00:00Z", "2026-12-01", "2026-12-01T00:00:00"])
def test_request_log_refuses_what_is_not_a_moment(client: TestClient, tenant: Tenant, since: str) -> None:
    response = client.get("/v1/requests", params={"since": since}, headers=tenant.headers)
    assert response.status_code == 422
    assert "since" in response.text


def test_request_log_shows_an_account_only_its_own_requests(
    client: TestClient, tenant: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    other = make_tenant(name="other")
    client.get("/v1/account", headers=other.headers)
    client.get("/admin/v1/channels", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    mine = log_of(client, tenant)["data"]
    assert mine == []
    theirs = log_of(client, other)["data"]
    assert [e["route"] for e in theirs] == ["/v1/account"]  # a read is recorded once answered


def test_request_log_records_the_operators_requests_apart_from_any_account(
    client: TestClient, db: Database
) -> None:
    client.get("/admin/v1/channels", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    written(client)
    with db.transaction() as session:
        rows = session.execute(select(RequestLogEntry)).scalars().all()
    assert [(row.route, row.account_id, row.key_prefix) for row in rows] == [
        ("/admin/v1/channels", None, None)
    ]


def test_request_log_reading_needs_a_key_that_manages_keys(client: TestClient, tenant: Tenant) -> None:
    issued = client.post("/v1/keys", json={}, headers=tenant.headers).json()
    plain = Tenant(tenant.account_id, issued["secret"])
    response = client.get("/v1/requests", headers=plain.headers)
    assert response.status_code == 403


def test_request_log_off_records_nothing(
    make_settings: Callable[..., Settings], db: Database, broker: redis.Redis, tenant: Tenant
) -> None:
    with TestClient(create_app(make_settings(request_log=False))) as client:
        assert client.get("/v1/account", headers=tenant.headers).status_code == 200
        assert client.get("/v1/requests", headers=tenant.headers).json()["data"] == []
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(RequestLogEntry)) == 0


def entry(at: datetime, index: int) -> dict[str, Any]:
    floor = uuid7_floor(at.timestamp()).int
    return {
        "entry_id": uuid.UUID(int=floor | index),
        "at": at,
        "account_id": None,
        "key_prefix": None,
        "request_id": f"r{index}",
        "client_ip": None,
        "method": "GET",
        "route": "/v1/account",
        "status": 200,
        "latency_ms": 1,
        "job_id": None,
        "bytes_in": 0,
        "bytes_out": 2,
    }


def test_request_log_deletes_what_is_older_than_kept_in_bounded_batches(db: Database) -> None:
    now = datetime.now(UTC)
    old = [entry(now - timedelta(days=31), index) for index in range(25)]
    kept = [entry(now - timedelta(days=29), index) for index in range(5)]
    with db.transaction() as session:
        request_log.write(session, old + kept)
    deleted = []
    for _ in range(10):
        with db.transaction() as session:
            deleted.append(request_log.prune(session, 30, batch=10))
        if deleted[-1] < 10:
            break
    assert deleted == [10, 10, 5]
    with db.transaction() as session:
        left = session.execute(select(RequestLogEntry.request_id)).scalars().all()
    assert sorted(left) == sorted(row["request_id"] for row in kept)
