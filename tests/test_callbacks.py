"""Upstream callbacks through the API: they move jobs forward only, and only their own job."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import redis
from fastapi.testclient import TestClient

from orchestrator.db import Database
from orchestrator.models import Job
from orchestrator.ops import audit
from orchestrator.pipeline import storing, submission
from orchestrator.settings import Settings
from orchestrator.storage import build_storage
from tests.conftest import BROKER_PREFIX, Tenant
from tests.factories import kling_request
from workers.simulator import Simulator


def kling_task(task_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "task_status": status,
        "task_status_msg": "",
        "created_at": 1,
        "updated_at": 2,
        **extra,
    }


def submitted_job(api: TestClient, tenant: Tenant, db: Database, settings: Settings) -> Job:
    job_id = uuid.UUID(api.post("/v1/jobs", json=kling_request(), headers=tenant.headers).json()["job_id"])
    with httpx.Client() as http:
        submission.submit(db, http, settings, job_id)
    with db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def state_of(db: Database, job_id: uuid.UUID) -> str:
    with db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.state


def test_callbacks_move_the_job_forward_and_never_back(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    broker: redis.Redis,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    job = submitted_job(api, tenant, db, settings)
    assert job.external_id
    url = f"/callbacks/kling/{job.callback_token}"
    video = {"videos": [{"id": "v1", "url": f"{settings.upstream_base_url}/nowhere.mp4", "duration": "5"}]}

    assert api.post(url, json=kling_task(job.external_id, "processing")).status_code == 200
    assert state_of(db, job.job_id) == "running"
    assert api.post(url, json=kling_task(job.external_id, "processing")).status_code == 200  # duplicate
    assert api.post(url, json=kling_task(job.external_id, "succeed", task_result=video)).status_code == 200
    assert state_of(db, job.job_id) == "storing"
    store_messages = [json.loads(m) for m in broker.lrange(f"{BROKER_PREFIX}store", 0, -1)]
    assert [m["headers"]["task"] for m in store_messages] == ["store"]  # stored at once, not at the next poll
    for stale in ("submitted", "processing", "failed"):  # late and out-of-order reports change nothing
        assert api.post(url, json=kling_task(job.external_id, stale)).status_code == 200
        assert state_of(db, job.job_id) == "storing"
    events = api.get(f"/v1/jobs/{job.job_id}/events", headers=tenant.headers).json()["data"]
    assert [event["to_status"] for event in events] == [
        "queued",
        "submitting",
        "submitted",
        "running",
        "storing",
    ]
    with db.transaction() as session:
        assert audit.find_breaches(session) == []


def test_callbacks_for_an_ended_job_are_a_noop(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    job = submitted_job(api, tenant, db, settings)
    assert job.external_id
    task = simulator.task(job.external_id)
    assert task is not None
    url = f"/callbacks/kling/{job.callback_token}"
    result = {"videos": [{"id": "v", "url": f"{settings.upstream_base_url}/_sim/missing", "duration": "5"}]}
    api.post(url, json=kling_task(job.external_id, "failed", task_status_msg="upstream broke"))
    assert state_of(db, job.job_id) == "failed"
    api.post(url, json=kling_task(job.external_id, "succeed", task_result=result))
    assert state_of(db, job.job_id) == "failed"
    account = api.get("/v1/account", headers=tenant.headers).json()
    assert account["held"] == 0
    assert account["balance"] == account["available"]
    job_view = api.get(f"/v1/jobs/{job.job_id}", headers=tenant.headers).json()
    assert job_view["error"] == {
        "code": "upstream_failed",
        "message": "upstream broke",
        "retryable": True,
        "provider": {"code": None, "message": "upstream broke"},
    }


def test_callbacks_forged_malformed_or_foreign_change_nothing(
    api: TestClient,
    make_tenant: Callable[..., Tenant],
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    mine = submitted_job(api, make_tenant(name="mine"), db, settings)
    theirs = submitted_job(api, make_tenant(name="theirs"), db, settings)
    assert mine.external_id
    assert theirs.external_id
    forged = api.post("/callbacks/kling/not-a-token", json=kling_task(mine.external_id, "failed"))
    assert forged.status_code == 404
    assert forged.json()["error"]["code"] == "not_found"
    wrong_provider = api.post(
        f"/callbacks/suno/{mine.callback_token}", json=kling_task(mine.external_id, "failed")
    )
    assert wrong_provider.status_code == 404
    malformed = api.post(f"/callbacks/kling/{mine.callback_token}", content=b"{oops")
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "invalid_callback"
    # My token with a report about their task: it must not move my job (nor theirs).
    foreign = api.post(
        f"/callbacks/kling/{mine.callback_token}", json=kling_task(theirs.external_id, "failed")
    )
    assert foreign.status_code == 200
    assert state_of(db, mine.job_id) == "submitted"
    assert state_of(db, theirs.job_id) == "submitted"


def test_callbacks_success_then_store_captures_once(
    api: TestClient,
    tenant: Tenant,
    db: Database,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    job = submitted_job(api, tenant, db, settings)
    assert job.external_id
    with httpx.Client() as http:
        poll_answer = http.get(
            f"{settings.upstream_base_url}/kling/v1/videos/text2video/{job.external_id}",
            headers={"Authorization": "Bearer sk-simulator"},
        )
        poll_answer = http.get(  # the first query of a fresh task is hidden, as on CometAPI
            f"{settings.upstream_base_url}/kling/v1/videos/text2video/{job.external_id}",
            headers={"Authorization": "Bearer sk-simulator"},
        )
        body = poll_answer.json()["data"]
        assert body["task_status"] == "succeed"
        for _ in range(2):
            api.post(f"/callbacks/kling/{job.callback_token}", json=body)
        assert storing.store(db, http, build_storage(settings), settings, job.job_id) == "succeeded"
        assert storing.store(db, http, build_storage(settings), settings, job.job_id) is None
    account = api.get("/v1/account", headers=tenant.headers).json()
    assert account["held"] == 0
    assert account["balance"] == 100_000_000 - 200_000


def test_callbacks_a_success_racing_a_stale_report_is_never_lost(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    import threading

    from orchestrator.lifecycle import Change, advance
    from orchestrator.pipeline import tracking
    from schemas.jobs import JobStatus
    from tests.factories import create_job
    from workers.providers.base import OutputRef, ProviderUpdate, UpstreamStatus

    settings = make_settings()
    success = ProviderUpdate(
        UpstreamStatus.SUCCEEDED, "succeed", outputs=(OutputRef("https://cdn.test/v.mp4"),)
    )
    stale = ProviderUpdate(UpstreamStatus.RUNNING, "processing")
    for _ in range(15):
        job_id = create_job(db, tenant, settings)
        with db.transaction() as session:
            advance(session, job_id, JobStatus.QUEUED, Change(JobStatus.SUBMITTING))
            advance(session, job_id, JobStatus.SUBMITTING, Change(JobStatus.SUBMITTED))
        barrier = threading.Barrier(2)

        def apply(
            report: ProviderUpdate, job: uuid.UUID = job_id, barrier: threading.Barrier = barrier
        ) -> None:
            barrier.wait()
            with db.transaction() as session:
                tracking.apply_update(session, settings, job, report, via_callback=True)

        threads = [threading.Thread(target=apply, args=(report,)) for report in (stale, success)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert state_of(db, job_id) == "storing"
