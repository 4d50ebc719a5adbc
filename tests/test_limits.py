"""Tenant limits (requests per second per key, unfinished jobs per account) and the body size limit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.errors import RateLimitedError
from orchestrator.models import Hold, IdempotencyKey, Job
from orchestrator.ops import admin
from orchestrator.ops.audit import find_breaches
from orchestrator.settings import Settings
from orchestrator.tenants import accounts
from tests import services
from tests.conftest import CREDITS
from tests.factories import Tenant, create_at_once, kling_request

PRICE = 200_000


def set_limits(db: Database, tenant: Tenant, **limits: int | None) -> None:
    with db.transaction() as session:
        admin.set_limits(session, tenant.account_id, limits)


def count(db: Database, model: type[Job] | type[Hold] | type[IdempotencyKey]) -> int:
    with db.transaction() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def exhaust(client: TestClient, path: str, headers: dict[str, str]) -> httpx.Response:
    """Call until refused with 429 (bounded: the bucket refills while we go)."""
    for _ in range(50):
        response = client.get(path, headers=headers)
        if response.status_code == 429:
            return response
    pytest.fail(f"{path} was never rate limited")


def test_limits_requests_per_second_429_with_retry_after_then_recovery(
    api: TestClient, tenant: Tenant, db: Database
) -> None:
    set_limits(db, tenant, rate_limit_rps=2)
    assert [api.get("/v1/account", headers=tenant.headers).status_code for _ in range(2)] == [200, 200]
    refused = exhaust(api, "/v1/account", tenant.headers)
    assert refused.headers["Retry-After"] == "1"
    error = refused.json()["error"]
    assert (error["code"], error["request_id"]) == ("rate_limited", refused.headers["x-request-id"])
    assert "2 requests per second" in error["message"]
    with db.transaction() as session:
        other_key = accounts.issue_key(session, tenant.account_id).secret
    other = {"Authorization": f"Bearer {other_key}"}
    assert api.get("/v1/account", headers=other).status_code == 200  # each key has its own bucket
    services.wait_until(
        lambda: api.get("/v1/account", headers=tenant.headers).status_code == 200,
        timeout=5,
        interval=0.1,
        message="the key's bucket refills",
    )


def test_limits_requests_per_second_apply_to_provider_compatible_routes(
    api: TestClient, tenant: Tenant, db: Database
) -> None:
    set_limits(db, tenant, rate_limit_rps=1)
    first = api.get("/kling/v1/videos/text2video/nope", headers=tenant.headers)
    assert first.status_code == 404
    refused = exhaust(api, "/kling/v1/videos/text2video/nope", tenant.headers)
    assert refused.headers["Retry-After"] == "1"
    assert "requests per second" in refused.json()["message"]  # in Kling's own envelope


def test_limits_default_rate_applies_when_the_account_sets_none(
    make_settings: Callable[..., Settings], tenant: Tenant, db: Database, broker: redis.Redis
) -> None:
    with TestClient(create_app(make_settings(rate_limit_rps=1)), raise_server_exceptions=False) as client:
        assert client.get("/v1/account", headers=tenant.headers).status_code == 200
        assert exhaust(client, "/v1/account", tenant.headers).json()["error"]["code"] == "rate_limited"


def test_limits_fail_open_when_redis_is_unreachable(
    make_settings: Callable[..., Settings], tenant: Tenant, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        services.closed_port() as dead_port,
        TestClient(
            create_app(make_settings(broker_url=f"redis://127.0.0.1:{dead_port}/0", rate_limit_rps=1)),
            raise_server_exceptions=False,
        ) as client,
        caplog.at_level(logging.WARNING, logger="orchestrator.tenants.limits"),
    ):
        statuses = [client.get("/v1/account", headers=tenant.headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert "Redis unreachable, not limiting" in caplog.text


def test_limits_open_jobs_429_creates_no_job_and_no_hold(
    api: TestClient, tenant: Tenant, db: Database
) -> None:
    set_limits(db, tenant, max_open_jobs=2)
    created = [api.post("/v1/jobs", json=kling_request(), headers=tenant.headers) for _ in range(2)]
    assert [r.status_code for r in created] == [202, 202]
    key = {"Idempotency-Key": "third", **tenant.headers}
    refused = api.post("/v1/jobs", json=kling_request(), headers=key)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "10"
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "2 unfinished jobs" in refused.json()["error"]["message"]
    assert (count(db, Job), count(db, Hold), count(db, IdempotencyKey)) == (2, 2, 0)
    account = api.get("/v1/account", headers=tenant.headers).json()
    assert (account["held"], account["available"]) == (2 * PRICE, 100 * CREDITS - 2 * PRICE)
    api.post(f"/v1/jobs/{created[0].json()['job_id']}/cancel", headers=tenant.headers)
    assert api.post("/v1/jobs", json=kling_request(), headers=key).status_code == 202  # a slot is free
    with db.transaction() as session:
        assert find_breaches(session) == []


def test_limits_concurrent_creates_never_overshoot_max_open_jobs(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    settings, threads, limit = make_settings(), 10, 3
    set_limits(db, tenant, max_open_jobs=limit)
    outcomes = create_at_once(db, tenant, settings, threads, RateLimitedError)
    assert outcomes == ["created"] * limit + ["refused"] * (threads - limit)
    assert (count(db, Job), count(db, Hold)) == (limit, limit)
    with db.transaction() as session:
        assert find_breaches(session) == []


@pytest.fixture
def small_body_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(max_request_bytes=4096)


@pytest.fixture
def small_body_client(
    small_body_settings: Settings, db: Database, broker: redis.Redis
) -> Iterator[TestClient]:
    with TestClient(create_app(small_body_settings), raise_server_exceptions=False) as client:
        yield client


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "request_too_large"
    assert "4096 bytes" in error["message"]
    assert error["request_id"] == response.headers["x-request-id"]


def test_limits_body_over_content_length_limit_is_413(
    small_body_client: TestClient, tenant: Tenant, db: Database
) -> None:
    response = small_body_client.post(
        "/v1/jobs", json=kling_request(prompt="a" * 5000), headers=tenant.headers
    )
    assert_too_large(response)
    assert count(db, Job) == 0
    fits = small_body_client.post("/v1/jobs", json=kling_request(prompt="a" * 2000), headers=tenant.headers)
    assert fits.status_code == 202


def test_limits_chunked_body_over_the_limit_is_413_while_streaming(
    small_body_settings: Settings, tenant: Tenant, db: Database, broker: redis.Redis
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"provider": "kling", "input": {"prompt": "'
        for _ in range(4):
            yield b"a" * 2048
        yield b'"}}'

    with services.serving(create_app(small_body_settings)) as server, httpx.Client() as http:
        headers = {**tenant.headers, "Content-Type": "application/json"}
        response = http.post(f"{server.url}/v1/jobs", content=chunks(), headers=headers)
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert_too_large(response)
        compat = http.post(f"{server.url}/kling/v1/videos/text2video", content=chunks(), headers=headers)
        assert_too_large(compat)
    assert count(db, Job) == 0


def test_limits_default_body_limit_is_32_mib_and_validation_errors_name_the_field(
    api: TestClient, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    assert make_settings().max_request_bytes == 32 * 1024 * 1024
    body = kling_request()
    del body["model"]
    response = api.post("/v1/jobs", json=body, headers=tenant.headers)
    assert response.status_code == 422
    assert [problem["field"] for problem in response.json()["error"]["fields"]] == ["model"]
    assert "model" in response.json()["error"]["message"]
    huge = api.post(
        "/v1/jobs", content=b"{}", headers={**tenant.headers, "Content-Length": str(33 * 1024 * 1024)}
    )
    assert huge.status_code == 413
    assert "32 MiB" in huge.json()["error"]["message"]
