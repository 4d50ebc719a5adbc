"""A tenant's own API keys: issued, listed and revoked by the account's managing keys, each bound by
its expiry, its providers and its monthly spend cap, which the create transaction enforces exactly."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from orchestrator import lifecycle
from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.errors import KeyBudgetExceededError
from orchestrator.models import ApiKey, Hold, Job, KeySpend
from orchestrator.ops.audit import find_breaches
from orchestrator.pricing import load_price_table
from orchestrator.settings import Settings
from orchestrator.tenants import accounts, creating
from orchestrator.tenants.accounts import KeyOptions
from schemas.jobs import JobCreate, JobStatus
from tests.factories import Tenant, create_at_once, kling_request

ADMIN_TOKEN = "admin-" + "k" * 30
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PRICE = 200_000  # kling_request()'s


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(admin_token=ADMIN_TOKEN)


@pytest.fixture
def client(settings: Settings, db: Database, broker: redis.Redis) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def code_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, str(response.json()["error"]["code"])


def issue(client: TestClient, issuer: Tenant, **body: object) -> tuple[Tenant, dict[str, object]]:
    response = client.post("/v1/keys", json=body, headers=issuer.headers)
    assert response.status_code == 201, response.text
    return Tenant(issuer.account_id, response.json()["secret"]), response.json()


def listed(client: TestClient, tenant: Tenant, **params: str) -> dict[str, dict[str, object]]:
    response = client.get("/v1/keys", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return {str(key["prefix"]): key for key in response.json()["data"]}


def jobs_of(db: Database, account_id: uuid.UUID) -> int:
    with db.transaction() as session:
        return int(
            session.scalar(select(func.count()).select_from(Job).where(Job.account_id == account_id)) or 0
        )


def fail(db: Database, job_id: uuid.UUID) -> None:
    with db.transaction() as session:
        changed = lifecycle.advance(session, job_id, JobStatus.QUEUED, lifecycle.Change(JobStatus.FAILED))
        assert changed is not None


def test_keys_a_tenant_issues_lists_uses_and_revokes_its_own_keys(client: TestClient, tenant: Tenant) -> None:
    second, shown = issue(
        client,
        tenant,
        name="render-farm",
        expires_in_s=3600,
        allowed_providers=["kling", "runway"],
        monthly_spend_cap=5 * PRICE,
    )
    assert str(shown["secret"]).startswith(str(shown["prefix"]) + "_")
    assert (shown["manage_keys"], shown["spent_this_month"], shown["last_used_at"]) == (False, 0, None)
    assert client.get("/v1/account", headers=second.headers).status_code == 200
    assert client.post("/v1/jobs", json=kling_request(), headers=second.headers).status_code == 202

    keys = listed(client, tenant)
    mine = keys[str(shown["prefix"])]
    assert (mine["name"], mine["allowed_providers"], mine["monthly_spend_cap"]) == (
        "render-farm",
        ["kling", "runway"],
        5 * PRICE,
    )
    assert mine["spent_this_month"] == PRICE
    assert (mine["last_used_at"] is not None, mine["last_used_ip"]) == (True, "testclient")
    expires = datetime.fromisoformat(str(mine["expires_at"]))
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)
    assert "secret" not in mine
    assert next(iter(keys)) == shown["prefix"]  # newest first

    revoked = client.post(f"/v1/keys/{shown['prefix']}/revoke", headers=tenant.headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert code_of(client.get("/v1/account", headers=second.headers)) == (401, "unauthenticated")
    assert client.get("/v1/account", headers=tenant.headers).status_code == 200
    assert str(shown["prefix"]) not in listed(client, tenant)
    assert str(shown["prefix"]) in listed(client, tenant, include_revoked="true")
    again = client.post(f"/v1/keys/{shown['prefix']}/revoke", headers=tenant.headers)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]


def test_keys_only_a_managing_key_manages_and_only_its_own_accounts(
    client: TestClient, tenant: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    plain, shown = issue(client, tenant, name="worker")
    for method, path in [
        ("POST", "/v1/keys"),
        ("GET", "/v1/keys"),
        ("POST", f"/v1/keys/{shown['prefix']}/revoke"),
    ]:
        response = client.request(method, path, json={} if method == "POST" else None, headers=plain.headers)
        assert code_of(response) == (403, "forbidden"), path
    stranger = make_tenant(name="stranger")
    foreign = client.post(f"/v1/keys/{shown['prefix']}/revoke", headers=stranger.headers)
    assert code_of(foreign) == (404, "api_key_not_found")
    assert str(shown["prefix"]) not in listed(client, stranger)
    assert client.get("/v1/account", headers=plain.headers).status_code == 200  # untouched
    manager, _ = issue(client, tenant, manage_keys=True)
    assert client.get("/v1/keys", headers=manager.headers).status_code == 200


def test_keys_a_key_issues_none_wider_than_itself(client: TestClient, tenant: Tenant) -> None:
    bounded, bounded_shown = issue(
        client,
        tenant,
        allowed_providers=["kling"],
        monthly_spend_cap=PRICE,
        expires_in_s=600,
        manage_keys=True,
    )
    _, inherited = issue(client, bounded)
    assert (inherited["allowed_providers"], inherited["expires_at"]) == (
        ["kling"],
        bounded_shown["expires_at"],
    )
    _, shorter = issue(client, bounded, expires_in_s=60, monthly_spend_cap=PRICE)
    assert datetime.fromisoformat(str(shorter["expires_at"])) < datetime.fromisoformat(
        str(bounded_shown["expires_at"])
    )
    wider = client.post("/v1/keys", json={"allowed_providers": ["kling", "runway"]}, headers=bounded.headers)
    assert code_of(wider) == (403, "forbidden")
    assert "runway" in wider.json()["error"]["message"]
    higher = client.post("/v1/keys", json={"monthly_spend_cap": PRICE + 1}, headers=bounded.headers)
    assert code_of(higher) == (403, "forbidden")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"allowed_providers": ["nope"]}, "allowed_providers"),
        ({"allowed_providers": []}, "allowed_providers"),
        ({"expires_in_s": 0}, "expires_in_s"),
        ({"monthly_spend_cap": -1}, "monthly_spend_cap"),
        ({"monthly_spend_cap": "5"}, "monthly_spend_cap"),
        ({"manage_keys": "yes"}, "manage_keys"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_keys_a_bad_request_names_its_field_and_issues_nothing(
    client: TestClient, db: Database, tenant: Tenant, body: dict[str, object], field: str
) -> None:
    response = client.post("/v1/keys", json=body, headers=tenant.headers)
    assert response.status_code == 422, response.text
    assert field in response.text
    assert len(listed(client, tenant)) == 1


def test_keys_allowed_providers_bind_every_create_route(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    runway_only, _ = issue(client, tenant, allowed_providers=["runway"])
    unified = client.post("/v1/jobs", json=kling_request(), headers=runway_only.headers)
    assert code_of(unified) == (403, "provider_not_allowed")
    assert [problem["field"] for problem in unified.json()["error"]["fields"]] == ["provider"]
    compat = client.post(
        "/kling/v1/videos/text2video",
        json={"model_name": "kling-v1-6", "prompt": "a boat", "duration": "5"},
        headers=runway_only.headers,
    )
    assert compat.status_code == 403
    assert compat.json()["code"] == 1100
    assert jobs_of(db, tenant.account_id) == 0
    assert client.get("/v1/jobs", headers=runway_only.headers).status_code == 200  # reads every job


def test_keys_over_its_monthly_cap_gets_402_and_no_job_until_a_hold_is_released(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    capped, shown = issue(client, tenant, monthly_spend_cap=2 * PRICE)
    made = [client.post("/v1/jobs", json=kling_request(), headers=capped.headers) for _ in range(2)]
    assert [response.status_code for response in made] == [202, 202]
    refused = client.post("/v1/jobs", json=kling_request(), headers=capped.headers)
    assert code_of(refused) == (402, "key_budget_exceeded")
    assert "monthly_spend_cap" in refused.json()["error"]["message"]
    assert jobs_of(db, tenant.account_id) == 2
    held = client.get("/v1/account", headers=tenant.headers).json()["held"]
    assert held == 2 * PRICE  # the refused create held nothing
    # Another key of the account is not bound by this one's cap.
    assert client.post("/v1/jobs", json=kling_request(), headers=tenant.headers).status_code == 202

    fail(db, uuid.UUID(made[0].json()["job_id"]))  # a failed job's hold is released: not spent
    assert listed(client, tenant)[str(shown["prefix"])]["spent_this_month"] == PRICE
    assert client.post("/v1/jobs", json=kling_request(), headers=capped.headers).status_code == 202
    assert listed(client, tenant)[str(shown["prefix"])]["spent_this_month"] == 2 * PRICE
    with db.transaction() as session:
        assert find_breaches(session) == []


def capped_key(db: Database, tenant: Tenant, cap: int) -> Tenant:
    with db.transaction() as session:
        issued = accounts.issue_key(session, tenant.account_id, options=KeyOptions("capped", monthly_cap=cap))
    return Tenant(tenant.account_id, issued.secret)


def test_keys_concurrent_creates_never_pass_the_cap(db: Database, tenant: Tenant, settings: Settings) -> None:
    threads, fits = 10, 3
    capped = capped_key(db, tenant, fits * PRICE)
    outcomes = create_at_once(db, capped, settings, threads, KeyBudgetExceededError)
    assert outcomes == ["created"] * fits + ["refused"] * (threads - fits)
    with db.transaction() as session:
        assert session.scalar(select(func.sum(Hold.amount))) == fits * PRICE
        assert session.scalar(select(KeySpend.amount)) == fits * PRICE
        assert find_breaches(session) == []


def test_keys_one_batch_of_creates_is_judged_against_the_cap_job_by_job(
    db: Database, tenant: Tenant, settings: Settings
) -> None:
    capped = capped_key(db, tenant, 2 * PRICE)
    prices = load_price_table(settings.prices_path)
    with db.transaction() as session:
        principal = accounts.authenticate(session, capped.api_key)
        prepared = [
            creating.prepare(principal, JobCreate.model_validate(kling_request()), prices, settings)
            for _ in range(3)
        ]
        outcomes = creating.write(session, prepared, settings)
    kinds = [type(outcome).__name__ for outcome in outcomes]
    assert kinds == ["Created", "Created", "KeyBudgetExceededError"]
    assert jobs_of(db, tenant.account_id) == 2


def test_keys_an_expired_key_is_refused_from_its_expiry_even_when_cached(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    soon, shown = issue(client, tenant, expires_in_s=2)
    assert client.get("/v1/account", headers=soon.headers).status_code == 200  # cached for 5 s
    expires_at = datetime.fromisoformat(str(shown["expires_at"]))
    while datetime.now(UTC) <= expires_at:  # the cache's 5 s have not passed; the expiry has
        time.sleep(0.05)
    refused = client.get("/v1/account", headers=soon.headers)
    assert code_of(refused) == (401, "unauthenticated")
    assert "expired" in refused.json()["error"]["message"]
    assert str(shown["prefix"]) in listed(client, tenant)  # listed until revoked, its expiry shown
    with db.transaction() as session:
        assert accounts.count_live_keys(session, tenant.account_id) == 1


def test_keys_last_use_names_the_client_behind_a_trusted_proxy_only(
    make_settings: Callable[..., Settings], db: Database, broker: redis.Redis, tenant: Tenant
) -> None:
    def last_ip(settings: Settings, forwarded: str) -> str | None:
        with db.transaction() as session:
            session.execute(update(ApiKey).values(last_used_at=None))
        with TestClient(create_app(settings), client=("10.0.0.7", 50000)) as client:
            headers = {**tenant.headers, "X-Forwarded-For": forwarded}
            assert client.get("/v1/account", headers=headers).status_code == 200
        with db.transaction() as session:
            return session.scalar(select(ApiKey.last_used_ip).where(ApiKey.account_id == tenant.account_id))

    chain = "203.0.113.9, 198.51.100.1, 10.0.0.5"
    assert last_ip(make_settings(), chain) == "10.0.0.7"  # no trusted proxy: the header is the client's word
    assert last_ip(make_settings(trusted_proxies=["10.0.0.0/8"]), chain) == "198.51.100.1"
    assert last_ip(make_settings(trusted_proxies=["10.0.0.0/8"]), "garbage, 10.0.0.5") == "10.0.0.5"


def test_keys_the_operator_lists_issues_with_options_and_revokes(client: TestClient, tenant: Tenant) -> None:
    issued = client.post(
        f"/admin/v1/accounts/{tenant.account_id}/keys",
        json={"name": "ops", "allowed_providers": ["suno"], "monthly_spend_cap": PRICE},
        headers=ADMIN,
    )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert (body["manage_keys"], body["allowed_providers"], body["account_id"]) == (
        True,
        ["suno"],
        str(tenant.account_id),
    )
    listing = client.get(f"/admin/v1/accounts/{tenant.account_id}/keys", headers=ADMIN)
    assert next(key["prefix"] for key in listing.json()["data"]) == body["prefix"]
    assert len(listing.json()["data"]) == 2
    missing = client.get(f"/admin/v1/accounts/{uuid.uuid4()}/keys", headers=ADMIN)
    assert code_of(missing) == (404, "account_not_found")
    revoked = client.post(f"/admin/v1/keys/{body['prefix']}/revoke", headers=ADMIN)
    assert revoked.json()["revoked_at"] is not None
    assert revoked.json()["key_id"] == body["key_id"]


def test_keys_an_account_holds_at_most_its_limit_of_live_keys(
    client: TestClient, db: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, "MAX_LIVE_KEYS", 3)
    _, second = issue(client, tenant)
    issue(client, tenant)
    full = client.post("/v1/keys", json={}, headers=tenant.headers)
    assert code_of(full) == (409, "key_limit_reached")
    client.post(f"/v1/keys/{second['prefix']}/revoke", headers=tenant.headers)
    assert client.post("/v1/keys", json={}, headers=tenant.headers).status_code == 201
