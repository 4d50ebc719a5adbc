"""The unified job API over HTTP: creation with holds, errors, idempotency, tenancy, cancel, listing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from orchestrator.db import Database
from orchestrator.models import Hold, Job
from tests.conftest import BROKER_PREFIX, CREDITS, Tenant
from tests.factories import kling_request

PRICE = 200_000


def job_count(db: Database) -> int:
    with db.transaction() as session:
        return int(session.execute(select(func.count()).select_from(Job)).scalar_one())


def test_api_create_job_holds_price_and_enqueues_submit(
    api: TestClient, tenant: Tenant, db: Database, broker: redis.Redis
) -> None:
    response = api.post("/v1/jobs", json=kling_request(metadata={"line": 7}), headers=tenant.headers)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued"
    assert job["price"] == PRICE
    assert job["charged"] == 0
    assert job["metadata"] == {"line": 7}
    assert response.headers["x-request-id"]
    account = api.get("/v1/account", headers=tenant.headers).json()
    assert account == {
        "account_id": str(tenant.account_id),
        "name": "tenant",
        "balance": 100 * CREDITS,
        "held": PRICE,
        "available": 100 * CREDITS - PRICE,
        "price_multiplier": "1",
    }
    message = json.loads(broker.lindex(f"{BROKER_PREFIX}kling.submit", 0) or b"{}")
    assert message["headers"]["task"] == "kling.submit"
    assert job["job_id"] in json.dumps(message)


def test_api_price_follows_account_multiplier(api: TestClient, make_tenant: Callable[..., Tenant]) -> None:
    discounted = make_tenant(multiplier="0.8")
    body = kling_request()
    body["input"].update(mode="pro", duration="10")
    response = api.post("/v1/jobs", json=body, headers=discounted.headers)
    assert response.status_code == 202
    assert response.json()["price"] == 560_000  # 0.70 credits x 0.8


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Authorization: Bearer"),
        ({"Authorization": "Bearer gr_nope_nope"}, "unknown or has been revoked"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "Authorization: Bearer"),
    ],
)
def test_api_refuses_missing_and_forged_keys(api: TestClient, headers: dict[str, str], message: str) -> None:
    response = api.post("/v1/jobs", json=kling_request(), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert message in response.json()["error"]["message"]


BAD_INPUT = [
    ({"provider": "dalle"}, 422, "unknown_provider", "provider"),
    ({"operation": "lipsync"}, 422, "unknown_operation", "operation"),
    ({"model": "kling-v9"}, 422, "model_not_available", "model"),
    ({"input": {"prompt": ""}}, 422, "invalid_input", "input.prompt"),
    ({"input": {"prompt": "x", "duration": 7}}, 422, "invalid_input", "input.duration"),
    ({"input": {"prompt": "x", "bogus": 1}}, 422, "invalid_input", "input.bogus"),
    ({"callback_url": "ftp://example.com/hook"}, 422, "validation_error", "callback_url"),
    ({"input": "not an object"}, 422, "validation_error", "input"),
    ({"extra_field": 1}, 422, "validation_error", "extra_field"),
    ({"input": {"prompt": "a boat\u0000", "duration": 5}}, 422, "invalid_input", "input.prompt"),
]


@pytest.mark.parametrize(("change", "status", "code", "field"), BAD_INPUT)
def test_api_bad_input_gets_a_stable_code_naming_the_field(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    change: dict[str, object],
    status: int,
    code: str,
    field: str,
) -> None:
    response = api.post("/v1/jobs", json=kling_request(**change), headers=tenant.headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert field in [problem["field"] for problem in error["fields"]]
    assert error["request_id"] == response.headers["x-request-id"]
    assert job_count(db) == 0


def test_api_malformed_json_is_a_400(api: TestClient, tenant: Tenant) -> None:
    response = api.post(
        "/v1/jobs",
        content=b"{not json",
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_api_insufficient_credits_is_a_402_with_no_job(
    api: TestClient, make_tenant: Callable[..., Tenant], db: Database
) -> None:
    poor = make_tenant(credits=PRICE - 1)
    response = api.post("/v1/jobs", json=kling_request(), headers=poor.headers)
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_credits"
    assert "add credits" in response.json()["error"]["message"]
    assert job_count(db) == 0
    with db.transaction() as session:
        assert session.execute(select(func.count()).select_from(Hold)).scalar_one() == 0


def test_api_idempotency_key_replays_the_first_answer(api: TestClient, tenant: Tenant, db: Database) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "line-42"}
    first = api.post("/v1/jobs", json=kling_request(), headers=headers)
    again = api.post("/v1/jobs", json=kling_request(), headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert job_count(db) == 1
    assert api.get("/v1/account", headers=tenant.headers).json()["held"] == PRICE


def test_api_idempotency_key_with_a_different_body_is_a_422(
    api: TestClient, tenant: Tenant, db: Database
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "line-43"}
    assert api.post("/v1/jobs", json=kling_request(), headers=headers).status_code == 202
    response = api.post("/v1/jobs", json=kling_request(prompt="another"), headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert job_count(db) == 1


def test_api_idempotency_keys_are_per_tenant(
    api: TestClient, make_tenant: Callable[..., Tenant], db: Database
) -> None:
    one, two = make_tenant(name="one"), make_tenant(name="two")
    for tenant in (one, two):
        response = api.post(
            "/v1/jobs", json=kling_request(), headers={**tenant.headers, "Idempotency-Key": "k"}
        )
        assert response.status_code == 202
    assert job_count(db) == 2


def test_api_idempotency_key_in_flight_is_a_409(api: TestClient, tenant: Tenant, db: Database) -> None:
    key = "line-44"
    lock_id = int.from_bytes(
        hashlib.sha256(f"{tenant.account_id}:{key}".encode()).digest()[:8], "big", signed=True
    )
    with db.transaction() as session:  # another request holding the key, mid-transaction
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
        response = api.post(
            "/v1/jobs", json=kling_request(), headers={**tenant.headers, "Idempotency-Key": key}
        )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_flight"
    assert job_count(db) == 0


def test_api_tenant_sees_only_its_own_jobs(api: TestClient, make_tenant: Callable[..., Tenant]) -> None:
    owner, other = make_tenant(name="owner"), make_tenant(name="other")
    job_id = api.post("/v1/jobs", json=kling_request(), headers=owner.headers).json()["job_id"]
    for method, path in [
        ("GET", f"/v1/jobs/{job_id}"),
        ("GET", f"/v1/jobs/{job_id}/events"),
        ("POST", f"/v1/jobs/{job_id}/cancel"),
    ]:
        response = api.request(method, path, headers=other.headers)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "job_not_found"
    assert api.get("/v1/jobs", headers=other.headers).json()["data"] == []
    assert api.get(f"/v1/jobs/{job_id}", headers=owner.headers).status_code == 200
    assert api.get("/v1/jobs/not-a-uuid", headers=owner.headers).status_code == 404


def test_api_cancel_queued_job_releases_its_hold(api: TestClient, tenant: Tenant) -> None:
    job_id = api.post("/v1/jobs", json=kling_request(), headers=tenant.headers).json()["job_id"]
    response = api.post(f"/v1/jobs/{job_id}/cancel", headers=tenant.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["error"]["code"] == "cancelled"
    assert api.post(f"/v1/jobs/{job_id}/cancel", headers=tenant.headers).status_code == 200
    assert api.get("/v1/account", headers=tenant.headers).json()["held"] == 0
    events = api.get(f"/v1/jobs/{job_id}/events", headers=tenant.headers).json()["data"]
    assert [(e["from_status"], e["to_status"]) for e in events] == [
        (None, "queued"),
        ("queued", "cancelled"),
    ]


def test_api_list_filters_and_paginates(api: TestClient, tenant: Tenant) -> None:
    created = [
        api.post("/v1/jobs", json=kling_request(), headers=tenant.headers).json()["job_id"] for _ in range(5)
    ]
    api.post(f"/v1/jobs/{created[0]}/cancel", headers=tenant.headers)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/jobs", params=params, headers=tenant.headers).json()
        seen += [job["job_id"] for job in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))
    cancelled = api.get("/v1/jobs", params={"status": "cancelled"}, headers=tenant.headers).json()["data"]
    assert [job["job_id"] for job in cancelled] == [created[0]]
    assert api.get("/v1/jobs", params={"provider": "suno"}, headers=tenant.headers).json()["data"] == []
    bad = api.get("/v1/jobs", params={"status": "nope"}, headers=tenant.headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "status"
    bad_cursor = api.get("/v1/jobs", params={"cursor": "!!"}, headers=tenant.headers)
    assert bad_cursor.status_code == 422  # the documented cursor pattern refuses it
    assert bad_cursor.json()["error"]["code"] == "validation_error"
    assert bad_cursor.json()["error"]["fields"][0]["field"] == "cursor"


def test_api_unknown_route_is_a_json_404(api: TestClient) -> None:
    response = api.get("/v2/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_api_docs_are_served(api: TestClient) -> None:
    assert api.get("/docs").status_code == 200
    assert "/v1/jobs" in api.get("/openapi.json").json()["paths"]
