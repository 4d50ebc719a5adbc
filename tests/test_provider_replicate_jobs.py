"""Replicate jobs through genrelay's pipeline against the simulator: a prediction aborted or cancelled
upstream ends the job so with its hold released, a cancel stops a running prediction upstream, a JSON
output is kept and stored, and an ambiguous create is settled by the prediction's webhook."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
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
from workers.providers.replicate.simulated import task_id_of
from workers.simulator import Outcome, Simulator

S = JobStatus
SCHNELL, LLAMA = "black-forest-labs/flux-schnell", "meta/meta-llama-3-8b-instruct"
PROMPT = {"prompt": "a paper boat on a lake at dawn"}
PRICES = {SCHNELL: 3_000, LLAMA: 300}


def replicate_job(db: Database, tenant: Tenant, settings: Settings, model: str = SCHNELL) -> uuid.UUID:
    return create_job(
        db, tenant, settings, provider="replicate", operation="predict", model=model, input={"input": PROMPT}
    )


@pytest.mark.parametrize(
    ("fate", "ending", "raw"), [("expired", S.EXPIRED, "aborted"), ("cancelled", S.CANCELLED, "canceled")]
)
def test_replicate_a_prediction_aborted_or_cancelled_upstream_ends_the_job_so(
    simulator: Simulator,
    db: Database,
    tenant: Tenant,
    make_settings: Callable[..., Settings],
    http: httpx.Client,
    fate: Any,
    ending: JobStatus,
    raw: str,
) -> None:
    settings = make_settings(upstream_callbacks=False)
    simulator.script("replicate", [Outcome(result=fate, submitted_s=0.2, processing_s=0.1)])
    job_id = replicate_job(db, tenant, settings)
    assert balances(db, tenant) == (100 * CREDITS, PRICES[SCHNELL])
    assert submission.submit(db, http, settings, job_id) is S.SUBMITTED
    job = run_to_end(db, http, settings, job_id)
    assert (job.state, job.upstream_status, job.charged) == (ending, raw, 0)
    assert balances(db, tenant) == (100 * CREDITS, 0)
    with db.transaction() as session:
        assert audit.find_breaches(session) == []


def test_replicate_cancel_stops_a_running_prediction_upstream(
    simulator: Simulator,
    db: Database,
    tenant: Tenant,
    make_settings: Callable[..., Settings],
    http: httpx.Client,
    api: TestClient,
) -> None:
    settings = make_settings(upstream_callbacks=False)
    simulator.configure(not_found_polls=0)
    simulator.script("replicate", [Outcome(result="succeed", submitted_s=0, held=True)])
    job_id = replicate_job(db, tenant, settings)
    assert submission.submit(db, http, settings, job_id) is S.SUBMITTED
    tracking.poll(db, http, settings, [job_id])
    assert job_row(db, job_id).state == S.RUNNING
    cancelled = api.post(f"/v1/jobs/{job_id}/cancel", headers=tenant.headers)
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert submission.cancel_upstream(db, http, settings, job_id)  # what the cancel task does
    task = simulator.task(task_id_of(job_row(db, job_id).external_id or "") or "")
    assert task is not None
    assert task.result == "cancelled"
    assert balances(db, tenant) == (100 * CREDITS, 0)


def test_replicate_a_json_output_is_kept_and_stored(
    simulator: Simulator,
    db: Database,
    tenant: Tenant,
    make_settings: Callable[..., Settings],
    http: httpx.Client,
) -> None:
    settings = make_settings(upstream_callbacks=False)
    simulator.script("replicate", [Outcome(result="succeed", submitted_s=0, processing_s=0.2)])
    job_id = replicate_job(db, tenant, settings, LLAMA)
    assert submission.submit(db, http, settings, job_id) is S.SUBMITTED
    job = run_to_end(db, http, settings, job_id)
    assert (job.state, job.charged) == (S.SUCCEEDED, PRICES[LLAMA])
    assert job.result is not None
    assert job.result["output_kind"] == "json"
    with db.transaction() as session:
        (stored,) = session.execute(select(JobOutput).where(JobOutput.job_id == job_id)).scalars()
        assert (stored.label, stored.content_type) == ("output.json", "application/json")
    data = build_storage(settings).path_for(stored.storage_key).read_bytes()  # type: ignore[union-attr]
    assert json.loads(data)["output"] == job.result["output"]  # the prediction object itself


def test_replicate_an_ambiguous_create_is_settled_by_the_predictions_webhook(
    simulator: Simulator,
    db: Database,
    tenant: Tenant,
    make_settings: Callable[..., Settings],
    api: TestClient,
) -> None:
    simulator.configure(read_timeout_rate=1.0, stall_s=3.0)
    simulator.script("replicate", [Outcome(result="succeed", submitted_s=0.1, processing_s=0.1)])
    with running_receiver() as receiver:
        settings = make_settings(public_base_url=receiver.url)
        job_id = replicate_job(db, tenant, settings)
        with httpx.Client(timeout=0.5) as impatient:
            assert submission.submit(db, impatient, settings, job_id) is S.SUBMITTING
        assert job_row(db, job_id).external_id is None  # the answer was lost: no id of Replicate's
        received = services.wait_until(lambda: list(receiver.received))
    (completed,) = received  # the adapter asked for the completed event only
    token = job_row(db, job_id).callback_token
    assert api.post(f"/callbacks/replicate/{token}", content=completed.body).status_code == 200
    job = job_row(db, job_id)
    assert (job.state, job.external_id) == (S.STORING, json.loads(completed.body)["id"])
    simulator.configure(read_timeout_rate=0.0)
    with httpx.Client(timeout=5) as http:
        assert storing.store(db, http, build_storage(settings), settings, job_id) is S.SUCCEEDED
    assert job_row(db, job_id).charged == PRICES[SCHNELL]
    assert simulator.stats()["replicate"].creates == 1  # never sent twice
