"""Hostile input: thousands of generated requests over the whole OpenAPI schema (schemathesis) get no
5xx and change nothing of another tenant; forged, revoked, expired and disabled keys are refused on
every tenant route; no route,
provider-compatible ones included, lets one tenant read or cancel another's jobs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import hypothesis
import pytest
import redis
import requests
import schemathesis
import urllib3
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.models import Account, ApiKey, Job, JobEvent, OutboxEvent
from orchestrator.settings import Settings
from orchestrator.tenants import accounts
from tests import (
    contract_hooks,  # noqa: F401 - its serializers send the document's JSON Lines bodies
    services,
)
from tests.factories import Tenant, kling_request

EXAMPLES_PER_OPERATION = 60


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    # No beat runs here: readiness rightly answers 503 once the API has been up longer than the sweep
    # may be stale, and the generated requests run for minutes.
    return make_settings(rate_limit_rps=100_000, admin_token="admin-" + "z" * 30, sweep_stale_after_s=3600)


@pytest.fixture
def server(settings: Settings, db: Database, broker: redis.Redis) -> Iterator[str]:
    with services.serving(create_app(settings)) as running:
        yield running.url


def snapshot(db: Database, account_id: uuid.UUID) -> dict[str, Any]:
    with db.transaction() as session:
        account = session.get(Account, account_id)
        assert account is not None
        jobs = session.execute(
            select(Job.job_id, Job.state, Job.charged, Job.price, Job.input, Job.callback_url)
            .where(Job.account_id == account_id)
            .order_by(Job.job_id)
        ).all()
        events = session.execute(
            select(func.count()).select_from(JobEvent).join(Job).where(Job.account_id == account_id)
        ).scalar_one()
        outbox = session.execute(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.account_id == account_id)
        ).scalar_one()
    return {
        "balances": (account.credits_added, account.captured, account.held, account.status),
        "jobs": [tuple(row) for row in jobs],
        "events": events,
        "outbox": outbox,
    }


@pytest.mark.fuzz
@pytest.mark.timeout(600)
def test_hostile_generated_requests_get_no_5xx_and_leave_other_tenants_alone(
    server: str, db: Database, make_tenant: Callable[..., Tenant]
) -> None:
    attacker, victim = make_tenant(name="attacker", credits=10**12), make_tenant(name="victim")
    with httpx.Client(base_url=server) as client:
        for _ in range(3):
            client.post("/v1/jobs", json=kling_request(), headers=victim.headers)
    before = snapshot(db, victim.account_id)
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    server_errors: list[str] = []
    operations = calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def attack(case: Any) -> None:
            nonlocal calls
            calls += 1
            # A stream stays open while the attacker's jobs change: its answer's status is what is judged,
            # so it is read for a second (schemathesis reads an event stream until the timeout, in total).
            timeout = 1 if case.path.endswith("/stream") else 5
            try:
                response = case.call(
                    base_url=server, headers={"Authorization": f"Bearer {attacker.api_key}"}, timeout=timeout
                )
            except (requests.RequestException, urllib3.exceptions.HTTPError):
                if case.path.endswith("/stream"):
                    return  # a stream the request may open stays open: nothing more to read from it
                raise
            if response.status_code >= 500:
                server_errors.append(f"{case.method} {case.formatted_path} -> {response.status_code}")

        attack()
    print(f"hostile input: {calls} generated requests over {operations} operations")
    assert operations >= 40
    assert calls >= 2000
    assert server_errors == [], "\n".join(sorted(set(server_errors)))
    assert snapshot(db, victim.account_id) == before


def tenant_operations(app_document: dict[str, Any]) -> list[tuple[str, str]]:
    """Every operation a tenant's key opens (the admin's token and the unauthenticated routes aside),
    its path parameters filled in."""
    found = []
    for path, operations in app_document["paths"].items():
        for method, operation in operations.items():
            schemes = {name for requirement in operation.get("security", []) for name in requirement}
            if "HTTPBearer" in schemes:
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "x", path)))
    return found


@pytest.mark.parametrize("how", ["forged", "revoked", "expired", "disabled"])
def test_hostile_bad_keys_are_refused_everywhere(
    api: TestClient, db: Database, make_tenant: Callable[..., Tenant], how: str
) -> None:
    tenant = make_tenant()
    key = tenant.api_key
    if how == "forged":
        key = key[:-4] + "AAAA"
    with db.transaction() as session:
        if how == "revoked":
            accounts.revoke_key(session, tenant.api_key.split("_")[0] + "_" + tenant.api_key.split("_")[1])
        if how == "expired":
            session.execute(
                update(ApiKey)
                .where(ApiKey.account_id == tenant.account_id)
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        if how == "disabled":
            account = session.get(Account, tenant.account_id)
            assert account is not None
            account.status = "disabled"
    headers = {"Authorization": f"Bearer {key}"}
    operations = tenant_operations(api.app.openapi())  # type: ignore[attr-defined]
    assert len(operations) >= 80
    for method, path in operations:
        response = api.request(method, path, headers=headers, json={})
        assert refused(response), (how, method, path, response.status_code, response.text)


def refused(response: httpx.Response) -> bool:
    """401; or MiniMax's own refusal of a key, HTTP 200 with code 1004 (providers-more.md 1.2)."""
    if response.status_code == 200 and response.request.url.path.startswith("/minimax/"):
        return bool(response.json()["base_resp"]["status_code"] == 1004)
    return response.status_code == 401


def test_hostile_no_route_reads_or_cancels_another_tenants_job(
    api: TestClient, db: Database, make_tenant: Callable[..., Tenant]
) -> None:
    owner, other = make_tenant(name="owner"), make_tenant(name="other")
    job_id = api.post("/v1/jobs", json=kling_request(), headers=owner.headers).json()["job_id"]
    reads = [
        ("GET", f"/v1/jobs/{job_id}"),
        ("GET", f"/v1/jobs/{job_id}/events"),
        ("GET", f"/v1/jobs/{job_id}/deliveries"),
        ("POST", f"/v1/jobs/{job_id}/cancel"),
        ("POST", f"/v1/jobs/{job_id}/continue"),
        ("GET", f"/kling/v1/videos/text2video/{job_id}"),
        ("GET", f"/mj/task/{job_id}/fetch"),
        ("GET", f"/runwayml/v1/tasks/{job_id}"),
        ("DELETE", f"/runwayml/v1/tasks/{job_id}"),
        ("GET", f"/suno/fetch/{job_id}"),
        ("GET", f"/v1/videos/{job_id}"),
        ("GET", f"/v1/videos/{job_id}/content"),
    ]
    for method, path in reads:
        kwargs: dict[str, Any] = {"json": {"input": {}}} if path.endswith("/continue") else {}
        response = api.request(method, path, headers=other.headers, **kwargs)
        assert response.status_code in {400, 404}, (path, response.status_code, response.text)
        assert job_id not in response.text or "task_not_exist" in response.text or "no " in response.text
    listed = api.post("/mj/task/list-by-condition", json={"ids": [job_id]}, headers=other.headers).json()
    assert listed == []
    batch = api.post("/suno/fetch", json={"ids": [job_id]}, headers=other.headers).json()
    assert batch["data"] == []
    assert api.get("/v1/jobs", headers=other.headers).json()["data"] == []
    assert api.get(f"/v1/jobs/{job_id}", headers=owner.headers).json()["status"] == "queued"
