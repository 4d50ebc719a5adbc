"""The admin API: its own token, accounts, credits, keys, and rescuing any tenant's jobs and events."""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from orchestrator import lifecycle
from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.models import Job, OutboxEvent
from orchestrator.ops import admin
from orchestrator.ops.audit import find_breaches
from orchestrator.pipeline import webhooks
from orchestrator.settings import Settings
from orchestrator.storage import build_storage
from schemas.jobs import JobStatus
from tests.conftest import BROKER_PREFIX, CREDITS
from tests.factories import Tenant, create_job, kling_request
from tests.receivers import Receiver, running_receiver

ADMIN_TOKEN = "admin-" + "x" * 30
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PRICE = 200_000


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(admin_token=ADMIN_TOKEN, webhook_allowlist=["127.0.0.1"])


@pytest.fixture
def client(settings: Settings, db: Database, broker: redis.Redis) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def account_of(client: TestClient, tenant: Tenant) -> httpx.Response:
    return client.get("/v1/account", headers=tenant.headers)


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthenticated"),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, 401, "unauthenticated"),
        ({"Authorization": "Bearer not-the-admin-token"}, 401, "unauthenticated"),
        ({"Authorization": f"Bearer {ADMIN_TOKEN}x"}, 401, "unauthenticated"),
    ],
)
def test_admin_refuses_missing_and_wrong_tokens(
    client: TestClient, tenant: Tenant, headers: dict[str, str], status: int, code: str
) -> None:
    for method, path in [
        ("GET", f"/admin/v1/accounts/{tenant.account_id}"),
        ("POST", "/admin/v1/accounts"),
        ("POST", f"/admin/v1/accounts/{tenant.account_id}/disable"),
    ]:
        response = client.request(method, path, headers=headers, json={"name": "x"})
        assert response.status_code == status, (path, response.text)
        assert error_code(response) == code
        assert response.json()["error"]["request_id"]
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert account_of(client, tenant).status_code == 200  # nothing was disabled


def test_admin_tenant_api_key_cannot_reach_admin_routes(client: TestClient, tenant: Tenant) -> None:
    response = client.post(f"/admin/v1/accounts/{tenant.account_id}/credits", headers=tenant.headers)
    assert response.status_code == 401
    assert "API keys do not open the admin API" in response.json()["error"]["message"]
    assert account_of(client, tenant).json()["balance"] == 100 * CREDITS


def test_admin_api_is_off_without_a_token(api: TestClient, tenant: Tenant) -> None:
    for headers in (ADMIN, {}):  # off is off, with a token or without
        response = api.get(f"/admin/v1/accounts/{tenant.account_id}", headers=headers)
        assert response.status_code == 403
        assert error_code(response) == "admin_disabled"
    assert "GENRELAY_ADMIN_TOKEN" in response.json()["error"]["message"]


def test_admin_token_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert admin.tokens_match(ADMIN_TOKEN, ADMIN_TOKEN)
    assert not admin.tokens_match("a", ADMIN_TOKEN)
    assert not admin.tokens_match(ADMIN_TOKEN * 10, ADMIN_TOKEN)
    assert not admin.tokens_match("é" + ADMIN_TOKEN[1:], ADMIN_TOKEN)
    # Every comparison went through compare_digest on equal-length digests, whatever was presented.
    assert len(compared) == 4
    assert {len(side) for pair in compared for side in pair} == {32}


def test_admin_settings_refuse_a_weak_token_outside_dev(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ValidationError, match="at least 24 characters"):
        make_settings(admin_token="short-token")
    with pytest.raises(ValidationError, match="at least 24 characters"):
        make_settings(admin_token="dev-only-insecure-secret")
    assert make_settings(environment="dev", admin_token="short").admin_token is not None
    assert make_settings(admin_token=ADMIN_TOKEN).admin_token is not None
    assert make_settings().admin_token is None


def test_admin_creates_an_account_with_credits_limits_and_a_working_key(client: TestClient) -> None:
    body = {
        "name": "acme",
        "price_multiplier": "0.8",
        "initial_credits": {"credits": "12.5"},
        "rate_limit_rps": 7,
    }
    response = client.post("/admin/v1/accounts", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    created = response.json()
    account = created["account"]
    assert account["status"] == "active"
    assert account["balance"] == account["available"] == 12_500_000
    assert (account["rate_limit_rps"], account["effective_rate_limit_rps"]) == (7, 7)
    assert (account["max_open_jobs"], account["effective_max_open_jobs"]) == (None, 1000)
    key = created["api_key"]
    assert key["secret"].startswith(key["prefix"] + "_")
    tenant = Tenant(uuid.UUID(account["account_id"]), key["secret"])
    seen = account_of(client, tenant).json()
    assert (seen["name"], seen["balance"], seen["price_multiplier"]) == ("acme", 12_500_000, "0.8")
    job = client.post("/v1/jobs", json=kling_request(), headers=tenant.headers)
    assert job.json()["price"] == 160_000  # 0.2 credits x 0.8
    fetched = client.get(f"/admin/v1/accounts/{tenant.account_id}", headers=ADMIN).json()
    assert (fetched["held"], fetched["open_jobs"], fetched["available"]) == (160_000, 1, 12_340_000)


def test_admin_adds_credits_as_micro_credits_or_decimal_strings(
    client: TestClient, tenant: Tenant, db: Database
) -> None:
    path = f"/admin/v1/accounts/{tenant.account_id}/credits"
    assert client.post(path, json={"micro_credits": 1}, headers=ADMIN).json()["balance"] == 100 * CREDITS + 1
    added = client.post(path, json={"credits": "0.000002", "note": "goodwill"}, headers=ADMIN)
    assert added.json()["credits_added"] == 100 * CREDITS + 3
    assert account_of(client, tenant).json()["available"] == 100 * CREDITS + 3
    for bad, field in [
        ({"credits": 1.5}, "credits"),  # a float is refused: amounts are exact
        ({"credits": "1.0000001"}, "credits"),  # finer than a micro-credit
        ({"micro_credits": 0}, "micro_credits"),
        ({"credits": "1", "micro_credits": 1}, "body"),
        ({}, "body"),
    ]:
        response = client.post(path, json=bad, headers=ADMIN)
        assert response.status_code == 422, bad
        assert response.json()["error"]["fields"][0]["field"] == field
    assert (
        client.post(
            f"/admin/v1/accounts/{uuid.uuid4()}/credits", json={"credits": "1"}, headers=ADMIN
        ).json()["error"]["code"]
        == "account_not_found"
    )
    with db.transaction() as session:
        assert find_breaches(session) == []


def test_admin_disabling_an_account_refuses_its_keys_at_once(client: TestClient, tenant: Tenant) -> None:
    assert account_of(client, tenant).status_code == 200  # the key is now in the API's key cache
    disabled = client.post(f"/admin/v1/accounts/{tenant.account_id}/disable", headers=ADMIN)
    assert disabled.json()["status"] == "disabled"
    refused = account_of(client, tenant)
    assert refused.status_code == 401
    assert "disabled" in refused.json()["error"]["message"]
    assert client.post("/v1/jobs", json=kling_request(), headers=tenant.headers).status_code == 401
    client.post(f"/admin/v1/accounts/{tenant.account_id}/enable", headers=ADMIN)
    assert account_of(client, tenant).status_code == 200


def test_admin_revoked_key_is_refused_at_once_and_others_keep_working(
    client: TestClient, tenant: Tenant
) -> None:
    issued = client.post(f"/admin/v1/accounts/{tenant.account_id}/keys", json={"name": "ci"}, headers=ADMIN)
    assert issued.status_code == 201
    second = Tenant(tenant.account_id, issued.json()["secret"])
    assert account_of(client, second).status_code == 200  # cached
    prefix = issued.json()["prefix"]
    revoked = client.post(f"/admin/v1/keys/{prefix}/revoke", headers=ADMIN)
    assert revoked.status_code == 200
    assert (revoked.json()["name"], revoked.json()["revoked_at"] is not None) == ("ci", True)
    assert account_of(client, second).status_code == 401
    assert account_of(client, tenant).status_code == 200
    again = client.post(f"/admin/v1/keys/{prefix}/revoke", headers=ADMIN)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert error_code(client.post("/admin/v1/keys/gr_nope/revoke", headers=ADMIN)) == "api_key_not_found"
    missing = client.post(f"/admin/v1/accounts/{uuid.uuid4()}/keys", json={}, headers=ADMIN)
    assert (missing.status_code, error_code(missing)) == (404, "account_not_found")


def test_admin_sets_and_resets_account_limits(client: TestClient, tenant: Tenant) -> None:
    path = f"/admin/v1/accounts/{tenant.account_id}/limits"
    both = client.patch(path, json={"rate_limit_rps": 3, "max_open_jobs": 2}, headers=ADMIN).json()
    assert (both["effective_rate_limit_rps"], both["effective_max_open_jobs"]) == (3, 2)
    one = client.patch(path, json={"rate_limit_rps": None}, headers=ADMIN).json()
    assert (one["rate_limit_rps"], one["effective_rate_limit_rps"], one["max_open_jobs"]) == (None, 50, 2)
    bad = client.patch(path, json={"max_open_jobs": 0}, headers=ADMIN)
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "max_open_jobs"
    assert error_code(client.get("/admin/v1/accounts/not-a-uuid", headers=ADMIN)) == "account_not_found"


PATHS = {
    JobStatus.QUEUED: [],
    JobStatus.SUBMITTING: [JobStatus.SUBMITTING],
    JobStatus.RUNNING: [JobStatus.SUBMITTING, JobStatus.RUNNING],
    JobStatus.ACTION_REQUIRED: [JobStatus.SUBMITTING, JobStatus.ACTION_REQUIRED],
    JobStatus.STORING: [JobStatus.SUBMITTING, JobStatus.RUNNING, JobStatus.STORING],
}


def job_in(db: Database, tenant: Tenant, settings: Settings, state: JobStatus) -> uuid.UUID:
    """A job moved to `state` through the lifecycle, not due for an hour."""
    job_id = create_job(db, tenant, settings)
    current = JobStatus.QUEUED
    later = datetime.now(UTC) + timedelta(hours=1)
    with db.transaction() as session:
        for step in PATHS[state]:
            lifecycle.advance(
                session, job_id, current, lifecycle.Change(step, columns={"external_id": "t-1"})
            )
            current = step
        session.execute(select(Job).where(Job.job_id == job_id)).scalar_one().next_check_at = later
    return job_id


@pytest.mark.parametrize("state", list(PATHS))
def test_admin_force_fail_releases_the_hold(
    client: TestClient, tenant: Tenant, db: Database, settings: Settings, state: JobStatus
) -> None:
    job_id = job_in(db, tenant, settings, state)
    assert account_of(client, tenant).json()["held"] == PRICE
    response = client.post(f"/admin/v1/jobs/{job_id}/fail", json={"reason": "stuck upstream"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    job = response.json()
    assert (job["status"], job["charged"], job["account_id"]) == ("failed", 0, str(tenant.account_id))
    assert job["error"] == {
        "code": "failed_by_operator",
        "message": "failed by the operator: stuck upstream",
        "retryable": False,
        "provider": None,
    }
    account = account_of(client, tenant).json()
    assert (account["held"], account["balance"]) == (0, 100 * CREDITS)
    events = client.get(f"/v1/jobs/{job_id}/events", headers=tenant.headers).json()["data"]
    assert (events[-1]["from_status"], events[-1]["to_status"]) == (state.value, "failed")
    with db.transaction() as session:
        assert find_breaches(session) == []
    again = client.post(f"/admin/v1/jobs/{job_id}/fail", headers=ADMIN)
    assert (again.status_code, error_code(again)) == (409, "job_finished")
    assert error_code(client.post(f"/admin/v1/jobs/{uuid.uuid4()}/fail", headers=ADMIN)) == "job_not_found"


def broker_messages(broker: redis.Redis, queue: str) -> list[dict[str, object]]:
    return [json.loads(raw) for raw in broker.lrange(f"{BROKER_PREFIX}{queue}", 0, -1)]


def test_admin_force_refresh_dispatches_the_job_at_once(
    client: TestClient, tenant: Tenant, db: Database, settings: Settings, broker: redis.Redis
) -> None:
    job_id = job_in(db, tenant, settings, JobStatus.RUNNING)
    assert broker_messages(broker, "kling.poll") == []
    response = client.post(f"/admin/v1/jobs/{job_id}/refresh", headers=ADMIN)
    assert response.status_code == 200, response.text
    [message] = broker_messages(broker, "kling.poll")
    assert str(job_id) in json.dumps(message)
    with db.transaction() as session:
        job = session.execute(select(Job).where(Job.job_id == job_id)).scalar_one()
        assert job.dispatch_count == 1  # claimed by the sweep: its lease is set, no double dispatch
        assert job.next_check_at is not None
        assert job.next_check_at < datetime.now(UTC) + timedelta(minutes=5)
    client.post(f"/admin/v1/jobs/{job_id}/fail", headers=ADMIN)
    finished = client.post(f"/admin/v1/jobs/{job_id}/refresh", headers=ADMIN)
    assert (finished.status_code, error_code(finished)) == (409, "job_finished")


def test_admin_redelivers_any_accounts_webhook_event(
    client: TestClient, tenant: Tenant, db: Database, settings: Settings, broker: redis.Redis
) -> None:
    with running_receiver() as receiver:
        _redeliver_dead_event(client, tenant, db, settings, broker, receiver)


def _redeliver_dead_event(
    client: TestClient,
    tenant: Tenant,
    db: Database,
    settings: Settings,
    broker: redis.Redis,
    receiver: Receiver,
) -> None:
    job = client.post("/v1/jobs", json=kling_request(callback_url=receiver.url), headers=tenant.headers)
    with db.transaction() as session:
        event = session.execute(select(OutboxEvent)).scalar_one()
        event.state = "dead"  # as if its retry schedule had run out
    broker.delete(f"{BROKER_PREFIX}deliver")
    response = client.post(f"/admin/v1/webhooks/{event.event_id}/redeliver", headers=ADMIN)
    assert response.status_code == 202, response.text
    assert response.json()["state"] == "pending"
    assert str(event.event_id) in json.dumps(broker_messages(broker, "deliver"))
    with httpx.Client() as http:
        state = webhooks.deliver(db, http, build_storage(settings), settings, event.event_id)
    assert state == "delivered"
    [received] = receiver.received
    assert received.headers["webhook-id"] == str(event.event_id)
    assert json.loads(received.body)["data"]["job_id"] == job.json()["job_id"]
    unknown = client.post(f"/admin/v1/webhooks/{uuid.uuid4()}/redeliver", headers=ADMIN)
    assert (unknown.status_code, error_code(unknown)) == (404, "not_found")
