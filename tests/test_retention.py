"""Retention of stored results: the sweep deletes a succeeded job's outputs from storage (S3 through
moto's server, local files) once past its account's retention or the deployment's, in bounded batches;
the job shows `outputs_expired_at`, and its row, timeline and the ledger are untouched."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, text, update

from orchestrator import lifecycle
from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.models import Account, Job, JobEvent, JobOutput, LedgerEntry
from orchestrator.ops import admin
from orchestrator.ops.audit import find_breaches
from orchestrator.pipeline import retention
from orchestrator.pricing import load_price_table
from orchestrator.settings import Settings
from orchestrator.storage import LocalStorage, S3Storage, build_storage
from orchestrator.tenants import accounts, creating
from schemas.jobs import JobCreate, JobStatus
from tests.factories import Tenant, kling_request

S = JobStatus
JOBS, OUTPUTS_PER_JOB, BATCH = 400, 25, 100  # 10,000 expired outputs, 100 jobs (2,500 files) per batch
ADMIN_TOKEN = "admin-" + "t" * 30


@pytest.fixture
def s3_settings(make_settings: Callable[..., Settings], s3_endpoint: str) -> Settings:
    return make_settings(
        storage_backend="s3",
        s3_bucket=f"retention-{uuid.uuid4().hex[:8]}",
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id="test",
        s3_secret_access_key="test",
        s3_addressing_style="path",
        output_retention_days=30,
        admin_token=ADMIN_TOKEN,
    )


def succeeded_jobs(db: Database, tenant: Tenant, settings: Settings, count: int) -> list[uuid.UUID]:
    """`count` jobs created as the API creates them, then driven to success as the workers do."""
    prices = load_price_table(settings.prices_path)
    with db.transaction() as session:
        principal = accounts.authenticate(session, tenant.api_key)
        request = JobCreate.model_validate(kling_request())
        prepared = [creating.prepare(principal, request, prices, settings) for _ in range(count)]
        outcomes = creating.write(session, prepared, settings)
        job_ids = [outcome.job.job_id for outcome in outcomes if isinstance(outcome, creating.Created)]
    assert len(job_ids) == count
    with db.transaction() as session:
        for job_id in job_ids:
            current = S.QUEUED
            for state in (S.SUBMITTING, S.SUBMITTED, S.STORING, S.SUCCEEDED):
                assert lifecycle.advance(session, job_id, current, lifecycle.Change(state)) is not None
                current = state
    return job_ids


def store_outputs(
    db: Database, put: Callable[[str], None], job_ids: list[uuid.UUID], per_job: int
) -> list[str]:
    keys = [f"jobs/{job_id}/{index}.png" for job_id in job_ids for index in range(per_job)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, keys))
    rows = [
        {
            "job_id": uuid.UUID(key.split("/")[1]),
            "output_index": int(key.rsplit("/", 1)[1].split(".")[0]),
            "storage_key": key,
            "content_type": "image/png",
            "size_bytes": 4,
            "sha256": "0" * 64,
        }
        for key in keys
    ]
    with db.transaction() as session:
        session.execute(insert(JobOutput), rows)
    return keys


def finished_days_ago(db: Database, job_ids: list[uuid.UUID], days: int) -> None:
    with db.transaction() as session:
        session.execute(
            update(Job)
            .where(Job.job_id.in_(job_ids))
            .values(finished_at=func.now() - text(f"interval '{days} days'"))
        )


def money(db: Database) -> list[Any]:
    """Every account's totals and the whole journal: what retention must never change."""
    with db.transaction() as session:
        totals = session.execute(
            select(Account.account_id, Account.credits_added, Account.captured, Account.held).order_by(
                Account.account_id
            )
        ).all()
        journal = session.execute(
            select(func.count(), func.sum(LedgerEntry.amount)).select_from(LedgerEntry)
        ).one()
    return [*map(tuple, totals), tuple(journal)]


def test_retention_deletes_10000_expired_outputs_in_bounded_batches_and_leaves_the_ledger(
    s3_settings: Settings,
    db: Database,
    broker: redis.Redis,
    make_tenant: Callable[..., Tenant],
) -> None:
    storage = build_storage(s3_settings)
    assert isinstance(storage, S3Storage)
    storage.ensure_bucket()
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_settings.s3_endpoint_url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    bucket = s3_settings.s3_bucket

    def put(key: str) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=b"\x89PNG", ContentType="image/png")

    def stored() -> set[str]:
        keys: set[str] = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys.update(item["Key"] for item in page.get("Contents", []))
        return keys

    tenant, keeper = make_tenant(name="thirty days"), make_tenant(name="ninety days")
    with db.transaction() as session:
        admin.set_limits(session, keeper.account_id, {"output_retention_days": 90})
    expired_jobs = succeeded_jobs(db, tenant, s3_settings, JOBS)
    recent_jobs = succeeded_jobs(db, tenant, s3_settings, 3)
    kept_longer = succeeded_jobs(db, keeper, s3_settings, 3)
    expired_keys = store_outputs(db, put, expired_jobs, OUTPUTS_PER_JOB)
    kept_keys = store_outputs(db, put, recent_jobs + kept_longer, 2)
    finished_days_ago(db, expired_jobs + kept_longer, 31)
    assert len(expired_keys) == 10_000
    before = money(db)

    rounds = []
    while True:
        expired = retention.expire_outputs(db, storage, s3_settings, batch=BATCH, rounds=1)
        rounds.append((expired, len(stored())))
        if expired < BATCH:
            break
    assert rounds == [(100, 7_512), (100, 5_012), (100, 2_512), (100, 12), (0, 12)]  # 2,500 files a batch
    assert stored() == set(kept_keys)
    assert money(db) == before
    with db.transaction() as session:
        assert find_breaches(session) == []
        left = session.scalar(
            select(func.count()).select_from(JobOutput).where(JobOutput.job_id.in_(expired_jobs))
        )
        assert left == 0
        events = session.scalar(
            select(func.count()).select_from(JobEvent).where(JobEvent.job_id.in_(expired_jobs))
        )
        assert events == JOBS * 5  # the timeline stays: queued and the four steps to success

    with TestClient(create_app(s3_settings)) as client:
        gone = client.get(f"/v1/jobs/{expired_jobs[0]}", headers=tenant.headers).json()
        assert (gone["status"], gone["outputs"], gone["outputs_expired_at"] is not None) == (
            "succeeded",
            [],
            True,
        )
        assert gone["charged"] == gone["price"]
        kept = client.get(f"/v1/jobs/{kept_longer[0]}", headers=keeper.headers).json()
        assert (len(kept["outputs"]), kept["outputs_expired_at"]) == (2, None)
        shown = client.get(
            f"/admin/v1/accounts/{keeper.account_id}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert (shown.json()["output_retention_days"], shown.json()["effective_output_retention_days"]) == (
            90,
            90,
        )


def test_retention_deletes_local_files_and_nothing_without_a_retention(
    make_settings: Callable[..., Settings], db: Database, tenant: Tenant
) -> None:
    kept_forever = make_settings()
    storage = build_storage(kept_forever)
    assert isinstance(storage, LocalStorage)

    def put(key: str) -> None:
        storage.put_stream(key, iter([b"\x89PNG"]), "image/png")

    job_ids = succeeded_jobs(db, tenant, kept_forever, 2)
    keys = store_outputs(db, put, job_ids, 3)
    finished_days_ago(db, job_ids, 400)
    assert retention.expire_outputs(db, storage, kept_forever) == 0  # no retention set: kept until deleted
    assert all(storage.path_for(key).exists() for key in keys)
    thirty = make_settings(output_retention_days=30, storage_dir=kept_forever.storage_dir)
    assert retention.expire_outputs(db, storage, thirty) == 2
    assert not any(storage.path_for(key).exists() for key in keys)
    assert retention.expire_outputs(db, storage, thirty) == 0  # done once
