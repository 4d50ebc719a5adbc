"""Seedance jobs through genrelay's pipeline against the simulator: a task cancelled or expired upstream
ends the job so with its hold released, a cancel stops a queued task and is refused for a running one,
callbacks (duplicated, out of order) move a job once, an ambiguous submit is settled by the task's first
callback, and what a model offers is refused when the job is created."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from orchestrator.db import Database
from orchestrator.models import JobOutput
from orchestrator.ops import audit
from orchestrator.pipeline import storing, submission, tracking
from orchestrator.settings import Settings
from orchestrator.storage import build_storage
from schemas.jobs import JobStatus
from tests import services
from tests.conftest import CREDITS
from tests.driving import balances, job_row, run_to_end
from tests.factories import Tenant, create_job
from tests.receivers import running_receiver
from workers.simulator import Outcome, Simulator

S = JobStatus
PRO = "doubao-seedance-1-0-pro-250528"
PROMPT = {"prompt": "a paper boat drifts on a lake at dawn", "duration": 5}
PRICE = 270_000  # 5 s at 720p, workers/providers/seedance/prices.toml


def seedance_job(db: Database, tenant: Tenant, settings: Settings, **fields: Any) -> uuid.UUID:
    return create_job(
        db,
        tenant,
        settings,
        provider="seedance",
        operation="text2video",
        model=PRO,
        input={**PROMPT, **fields},
    )


@pytest.mark.parametrize(("fate", "ending"), [("cancelled", S.CANCELLED), ("expired", S.EXPIRED)])
def test_seedance_a_task_cancelled_or_expired_upstream_ends_the_job_so_and_releases_its_hold(
    simulator: Simulator,
    db: Database,
    tenant: Tenant,
    make_settings: Callable[..., Settings],
    http: httpx.Client,
    fate: str,
    ending: JobStatus,
) -> None:
    settings = make_settings(upstream_callbacks=False)
    simulator.script("seedance", [Outcome(result=fate, submitted_s=0.2, processing_s=0.1)])  # type: ignore[arg-type]
    job_id = seedance_job(db, tenant, settings)
    assert balances(db, tenant) == (100 * CREDITS, PRICE)
    assert submission.submit(db, http, settings, job_id) is S.SUBMITTED
    job = run_to_end(db, http, settings, job_id)
    assert (job.state, job.error_code, job.upstream_status, job.charged) == (
        ending,
        f"upstream_{fate}",
        fate,
        0,
    )
    assert job.error_message
    assert balances(db, tenant) == (100 * CREDITS, 0)
    with db.transaction() as session:
        assert audit.find_breaches(session) == []
        assert session.execute(select(JobOutput).where(JobOutput.job_id == job_id)).first() is None


def test_seedance_the_upstream_is_told_to_give_up_with_the_job(
    simulator: Simulator,
    db: Database,
    tenant: Tenant,
    make_settings: Callable[..., Settings],
    http: httpx.Client,
) -> None:
    settings = make_settings(upstream_callbacks=False, deadline_s={"seedance": 7200.0})
    job_id = seedance_job(db, tenant, settings, execution_expires_after=86400)
    assert submission.submit(db, http, settings, job_id) is S.SUBMITTED
    job = job_row(db, job_id)
    task = simulator.task((job.external_id or "").removeprefix("cgt-"))
    assert task is not None
    left = (job.deadline_at - datetime.now(UTC)).total_seconds()
    assert left - 62 <= task.params["execution_expires_after"] <= left - 60  # a minute before our deadline


def test_seedance_cancel_stops_a_queued_task_and_refuses_a_running_one(
    simulator: Simulator,
    db: Database,
    tenant: Tenant,
    make_settings: Callable[..., Settings],
    http: httpx.Client,
    api: TestClient,
) -> None:
    settings = make_settings(upstream_callbacks=False)
    simulator.configure(not_found_polls=0)
    simulator.script(
        "seedance",
        [
            Outcome(result="succeed", submitted_s=60, processing_s=60),  # waits in the queue
            Outcome(result="succeed", submitted_s=0, processing_s=60),  # runs at once
        ],
    )
    queued, running = seedance_job(db, tenant, settings), seedance_job(db, tenant, settings)
    for job_id in (queued, running):
        assert submission.submit(db, http, settings, job_id) is S.SUBMITTED
    tracking.poll(db, http, settings, [queued, running])
    assert (job_row(db, queued).state, job_row(db, running).state) == (S.SUBMITTED, S.RUNNING)

    refused = api.post(f"/v1/jobs/{running}/cancel", headers=tenant.headers)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "job_not_cancellable")
    assert "running" in refused.json()["error"]["message"]
    assert job_row(db, running).state == S.RUNNING  # its hold stands: the upstream will finish it

    cancelled = api.post(f"/v1/jobs/{queued}/cancel", headers=tenant.headers)
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert submission.cancel_upstream(db, http, settings, queued)  # what the cancel task does
    task = simulator.task((job_row(db, queued).external_id or "").removeprefix("cgt-"))
    assert task is not None
    assert task.result == "cancelled"
    assert balances(db, tenant) == (100 * CREDITS, PRICE)  # the running job's hold only
    # The upstream's own word on it afterwards changes nothing.
    tracking.poll(db, http, settings, [queued])
    assert (job_row(db, queued).state, job_row(db, queued).error_code) == (S.CANCELLED, "cancelled")


def test_seedance_duplicated_and_reordered_callbacks_move_a_job_once(
    simulator: Simulator,
    db: Database,
    tenant: Tenant,
    make_settings: Callable[..., Settings],
    http: httpx.Client,
    api: TestClient,
) -> None:
    simulator.configure(duplicate_callback_rate=1.0, reorder_callbacks=True)
    simulator.script("seedance", [Outcome(result="succeed", submitted_s=0.1, processing_s=0.1)])
    with running_receiver() as receiver:
        settings = make_settings(public_base_url=receiver.url)
        job_id = seedance_job(db, tenant, settings)
        assert submission.submit(db, http, settings, job_id) is S.SUBMITTED
        received = services.wait_until(lambda: len(receiver.received) == 6 and list(receiver.received))
    bodies = [json.loads(delivery.body) for delivery in received]
    assert [body["status"] for body in bodies] == ["succeeded"] * 2 + ["running"] * 2 + ["queued"] * 2
    token = job_row(db, job_id).callback_token
    for body in bodies:  # the terminal report first, then stale ones, each twice
        assert api.post(f"/callbacks/seedance/{token}", json=body).status_code == 200
    job = job_row(db, job_id)
    assert (job.state, job.callback_count) == (S.STORING, 6)
    assert storing.store(db, http, build_storage(settings), settings, job_id) is S.SUCCEEDED
    for body in bodies:
        api.post(f"/callbacks/seedance/{token}", json=body)
    job = job_row(db, job_id)
    assert (job.state, job.charged) == (S.SUCCEEDED, PRICE)
    assert balances(db, tenant) == (100 * CREDITS - PRICE, 0)
    # A report about another upstream task never moves this job.
    other = {**bodies[0], "id": "cgt-someone-else", "status": "failed"}
    assert api.post(f"/callbacks/seedance/{token}", json=other).status_code == 200
    assert job_row(db, job_id).state == S.SUCCEEDED


def test_seedance_an_ambiguous_submit_is_settled_by_the_tasks_first_callback(
    simulator: Simulator,
    db: Database,
    tenant: Tenant,
    make_settings: Callable[..., Settings],
    api: TestClient,
) -> None:
    simulator.configure(read_timeout_rate=1.0, stall_s=3.0)
    simulator.script("seedance", [Outcome(result="succeed", submitted_s=0.1, processing_s=0.1)])
    with running_receiver() as receiver:
        settings = make_settings(public_base_url=receiver.url)
        job_id = seedance_job(db, tenant, settings)
        with httpx.Client(timeout=0.5) as impatient:
            assert submission.submit(db, impatient, settings, job_id) is S.SUBMITTING
        assert job_row(db, job_id).external_id is None  # the answer was lost: no id of Ark's
        received = services.wait_until(lambda: len(receiver.received) == 3 and list(receiver.received))
    token = job_row(db, job_id).callback_token
    first = json.loads(received[0].body)
    assert api.post(f"/callbacks/seedance/{token}", json=first).status_code == 200
    job = job_row(db, job_id)
    assert (job.state, job.external_id) == (S.SUBMITTED, first["id"])
    simulator.configure(read_timeout_rate=0.0)
    with httpx.Client(timeout=5) as http:
        done = run_to_end(db, http, settings, job_id)
    assert (done.state, done.charged) == (S.SUCCEEDED, PRICE)
    assert simulator.stats()["seedance"].creates == 1  # never sent twice


@pytest.mark.parametrize(
    ("model", "operation", "job_input", "words"),
    [
        (
            "doubao-seedance-1-5-pro-251215",
            "reference2video",
            {"reference_images": ["https://example.com/boat.png"]},
            "takes no reference images (seedance-1-0-lite-i2v and 2.0 do)",
        ),
        (
            "doubao-seedance-1-0-lite-t2v-250428",
            "text2video",
            {"prompt": "x", "resolution": "1080p"},
            "480p, 720p",
        ),
        (PRO, "text2video", {"prompt": "x", "duration": 15}, "makes clips of 2 to 12 seconds"),
        (PRO, "text2video", {"prompt": "x --dur 5"}, "not as --flags"),
    ],
)
def test_seedance_what_a_model_does_not_offer_is_refused_at_creation(
    api: TestClient, tenant: Tenant, model: str, operation: str, job_input: dict[str, Any], words: str
) -> None:
    body = {"provider": "seedance", "operation": operation, "model": model, "input": job_input}
    refused = api.post("/v1/jobs", json=body, headers=tenant.headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid_input"
    assert words in refused.json()["error"]["message"]
    assert api.get("/v1/account", headers=tenant.headers).json()["held"] == 0
    accepted = api.post(
        "/v1/jobs",
        json={**body, "model": "seedance-2-0-260128", "input": {**job_input, "prompt": "x", "duration": 10}}
        if operation == "reference2video"
        else {**body, "input": {"prompt": "x", "duration": 10}},
        headers=tenant.headers,
    )
    assert accepted.status_code == 202, accepted.text
