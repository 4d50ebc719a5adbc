"""`GET /v1/usage`: a tenant's jobs and the credits captured for them, grouped, as JSON or CSV; its
totals are the ledger's."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from orchestrator import lifecycle
from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.models import Job, LedgerEntry
from orchestrator.settings import Settings
from orchestrator.tenants import accounts
from schemas.jobs import JobStatus
from tests.factories import Tenant, create_job

S = JobStatus


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def client(settings: Settings, db: Database, broker: object) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def drive_to(db: Database, job_id: uuid.UUID, *states: JobStatus) -> None:
    """Through the lifecycle, as the workers would: success captures the hold, failure releases it."""
    with db.transaction() as session:
        current = S.QUEUED
        for state in states:
            assert lifecycle.advance(session, job_id, current, lifecycle.Change(state)) is not None
            current = state


@pytest.fixture
def usage_jobs(
    db: Database, tenant: Tenant, settings: Settings, make_tenant: Callable[..., Tenant]
) -> dict[str, str]:
    """Six jobs of the tenant over two keys and two models: 3 succeeded, 1 failed, 1 cancelled, 1 queued;
    and one job of another account, which no report of this one counts. Returns the keys' prefixes."""
    with db.transaction() as session:
        second = accounts.issue_key(session, tenant.account_id, "batch")
    other_key = Tenant(tenant.account_id, second.secret)
    done = [
        create_job(db, tenant, settings),
        create_job(db, tenant, settings, model="kling-v1"),
        create_job(db, other_key, settings),
    ]
    for job_id in done:
        drive_to(db, job_id, S.SUBMITTING, S.SUBMITTED, S.STORING, S.SUCCEEDED)
    drive_to(db, create_job(db, other_key, settings, model="kling-v1"), S.SUBMITTING, S.FAILED)
    drive_to(db, create_job(db, tenant, settings), S.CANCELLED)
    create_job(db, tenant, settings)  # stays queued: its hold is open
    stranger = make_tenant(name="stranger")
    drive_to(db, create_job(db, stranger, settings), S.SUBMITTING, S.SUBMITTED, S.STORING, S.SUCCEEDED)
    return {"first": prefix_of(tenant.api_key), "second": second.prefix}


def prefix_of(secret: str) -> str:
    return "_".join(secret.split("_")[:2])  # `gr_<8 hex>`, as `GET /v1/usage?group_by=key` names the key


def captured_in_ledger(db: Database, account_id: uuid.UUID) -> int:
    with db.transaction() as session:
        total = session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                LedgerEntry.account_id == account_id, LedgerEntry.kind == "capture"
            )
        )
    return int(total or 0)


def test_usage_by_provider_counts_each_state_and_totals_the_ledgers_captures(
    client: TestClient, db: Database, tenant: Tenant, usage_jobs: dict[str, str]
) -> None:
    report = client.get("/v1/usage", params={"group_by": "provider"}, headers=tenant.headers)
    assert report.status_code == 200, report.text
    body = report.json()
    today = datetime.now(UTC).date()
    assert (body["since"], body["until"]) == (today.replace(day=1).isoformat(), today.isoformat())
    [kling] = body["data"]
    assert kling["group"] == "kling"
    counts = {
        name: kling[name] for name in ["jobs", "succeeded", "failed", "cancelled", "expired", "unfinished"]
    }
    assert counts == {"jobs": 6, "succeeded": 3, "failed": 1, "cancelled": 1, "expired": 0, "unfinished": 1}
    ledger = captured_in_ledger(db, tenant.account_id)
    with db.transaction() as session:
        prices = session.scalar(
            select(func.sum(Job.price)).where(Job.account_id == tenant.account_id, Job.state == "succeeded")
        )
    assert kling["captured"] == ledger == prices
    assert ledger > 0
    assert body["total"] == {**kling, "group": "total"}


@pytest.mark.parametrize("group_by", ["day", "provider", "model", "key"])
def test_usage_rows_add_up_to_the_total_in_every_grouping(
    client: TestClient, db: Database, tenant: Tenant, usage_jobs: dict[str, str], group_by: str
) -> None:
    body = client.get("/v1/usage", params={"group_by": group_by}, headers=tenant.headers).json()
    for column in ["jobs", "succeeded", "failed", "cancelled", "unfinished", "captured"]:
        assert sum(row[column] for row in body["data"]) == body["total"][column]
    assert body["total"]["captured"] == captured_in_ledger(db, tenant.account_id)
    groups = [row["group"] for row in body["data"]]
    expected = {
        "day": [datetime.now(UTC).date().isoformat()],
        "provider": ["kling"],
        "model": ["kling/kling-v1", "kling/kling-v1-6"],
        "key": sorted([usage_jobs["first"], usage_jobs["second"]]),
    }[group_by]
    assert groups == expected


def test_usage_by_key_and_model_splits_the_jobs(
    client: TestClient, tenant: Tenant, usage_jobs: dict[str, str]
) -> None:
    by_key = {
        row["group"]: row
        for row in client.get("/v1/usage", params={"group_by": "key"}, headers=tenant.headers).json()["data"]
    }
    assert (by_key[usage_jobs["first"]]["jobs"], by_key[usage_jobs["first"]]["succeeded"]) == (4, 2)
    assert (by_key[usage_jobs["second"]]["jobs"], by_key[usage_jobs["second"]]["failed"]) == (2, 1)
    by_model = client.get("/v1/usage", params={"group_by": "model"}, headers=tenant.headers).json()["data"]
    assert [(row["group"], row["jobs"]) for row in by_model] == [
        ("kling/kling-v1", 2),
        ("kling/kling-v1-6", 4),
    ]


def test_usage_as_csv_has_the_same_rows_and_total(
    client: TestClient, tenant: Tenant, usage_jobs: dict[str, str]
) -> None:
    params = {"group_by": "model"}
    as_json = client.get("/v1/usage", params=params, headers=tenant.headers).json()
    as_csv = client.get("/v1/usage", params=params, headers={**tenant.headers, "Accept": "text/csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    expected = [*as_json["data"], as_json["total"]]
    assert rows == [{name: str(value) for name, value in row.items()} for row in expected]
    both = client.get(
        "/v1/usage", params=params, headers={**tenant.headers, "Accept": "text/csv, application/json"}
    )
    assert both.json() == as_json  # a client that takes both gets JSON


def test_usage_periods(client: TestClient, tenant: Tenant, usage_jobs: dict[str, str]) -> None:
    """Whole UTC days, both ends included; a period before the jobs, or turned around, has no rows."""
    today = datetime.now(UTC).date().isoformat()
    only_today = client.get("/v1/usage", params={"from": today, "to": today}, headers=tenant.headers).json()
    assert only_today["total"]["jobs"] == 6
    for period in [{"from": "2001-01-01", "to": "2001-12-31"}, {"from": "9999-12-31", "to": "0001-01-01"}]:
        empty = client.get("/v1/usage", params=period, headers=tenant.headers)
        assert empty.status_code == 200
        assert empty.json()["data"] == []
        assert empty.json()["total"]["jobs"] == 0
    everything = client.get(
        "/v1/usage", params={"from": "0001-01-01", "to": "9999-12-31"}, headers=tenant.headers
    )
    assert everything.json()["total"]["jobs"] == 6


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-02-30"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "20261201"}, "from"),
        ({"group_by": "week"}, "group_by"),
    ],
)
def test_usage_refuses_a_day_that_is_not_one(
    client: TestClient, tenant: Tenant, params: dict[str, str], field: str
) -> None:
    refused = client.get("/v1/usage", params=params, headers=tenant.headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["field"].endswith(field)


def test_usage_needs_a_key(client: TestClient) -> None:
    assert client.get("/v1/usage").status_code == 401
