"""What a client asks of a job's timing and its events: a start-by deadline (a job the provider has not
accepted by then expires with its hold released, and is never sent later, whoever would send it), a
deadline capped by the operator's, and the event types its webhooks carry."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from orchestrator import lifecycle
from orchestrator.db import Database
from orchestrator.lifecycle import Change, advance
from orchestrator.models import Job, OutboxEvent
from orchestrator.pipeline import submission, sweeping
from orchestrator.settings import Settings
from schemas.jobs import JobStatus
from tests.driving import balances, job_row, run_to_end
from tests.factories import Tenant, create_job, kling_request
from tests.test_capacity import channels
from workers.simulator import Outcome, Simulator

S = JobStatus
START_LATE = "start_deadline_exceeded"


def start_by_now(db: Database, job_id: uuid.UUID) -> None:
    """Bring the job's start-by deadline to now, as time passing would."""
    with db.transaction() as session:
        session.execute(update(Job).where(Job.job_id == job_id).values(start_deadline_at=datetime.now(UTC)))


def test_client_deadlines_a_job_past_its_start_deadline_is_expired_at_its_claim_and_never_sent(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    job_id = create_job(db, tenant, settings, start_deadline_s=60)
    held = balances(db, tenant)
    assert held[1] > 0
    start_by_now(db, job_id)
    assert submission.submit(db, http, settings, job_id) is None
    job = job_row(db, job_id)
    assert (job.state, job.error_code) == ("expired", START_LATE)
    assert "never sent" in (job.error_message or "")
    assert balances(db, tenant) == (held[0], 0)  # the hold went back; nothing was charged
    assert simulator.stats()["kling"].creates == 0
    assert submission.submit(db, http, settings, job_id) is None  # a redelivered submit sends nothing
    assert simulator.stats()["kling"].creates == 0


def test_client_deadlines_the_sweep_expires_a_queued_job_at_its_start_deadline(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    late, later, plain = (create_job(db, tenant, settings, start_deadline_s=s) for s in (60, 3600, None))
    now = datetime.now(UTC)
    with db.transaction() as session:
        session.execute(update(Job).values(next_check_at=now))
    start_by_now(db, late)
    with db.transaction() as session:
        dispatch = sweeping.claim_due(session, settings, limit=10)
    assert dispatch.expired == [late]
    assert sorted(dispatch.work["kling.submit"]) == sorted([str(later), str(plain)])
    assert (job_row(db, late).state, job_row(db, late).error_code) == ("expired", START_LATE)
    # The sweep's next look at a queued job is never after its start-by deadline.
    start_by = job_row(db, later).start_deadline_at
    assert start_by is not None
    assert job_row(db, later).next_check_at <= start_by  # type: ignore[operator]
    with db.transaction() as session:
        session.execute(update(Job).where(Job.job_id == later).values(start_deadline_at=now))
        session.execute(update(Job).where(Job.job_id.in_([later, plain])).values(next_check_at=now))
        dispatch = sweeping.claim_due(session, settings, limit=10)
    assert dispatch.expired == [later]
    assert dispatch.work["kling.submit"] == [str(plain)]


def test_client_deadlines_a_job_accepted_in_time_runs_to_the_end_after_its_start_deadline(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    simulator.configure(speed=0.01)
    settings = make_settings()
    job_id = create_job(db, tenant, settings, start_deadline_s=60)
    assert submission.submit(db, http, settings, job_id) is S.SUBMITTED
    start_by_now(db, job_id)  # it was accepted upstream in time: the start-by deadline is spent
    with db.transaction() as session:
        assert sweeping.claim_due(session, settings, limit=10).expired == []
    assert run_to_end(db, http, settings, job_id).state == "succeeded"


def test_client_deadlines_a_job_waiting_for_capacity_comes_back_at_its_start_deadline(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    simulator_url: str,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIM_KEY", simulator.config.api_key)
    settings = make_settings(channels_file=channels(tmp_path, simulator_url, ("only", "SIM_KEY", 1)))
    simulator.script("kling", [Outcome(result="succeed", processing_s=600)])
    first = create_job(db, tenant, settings)
    waiting = create_job(db, tenant, settings, start_deadline_s=120)
    assert submission.submit(db, http, settings, first) is S.SUBMITTED
    assert submission.submit(db, http, settings, waiting) is None  # the channel is full
    job = job_row(db, waiting)
    assert (job.awaiting_capacity, job.state) == (True, "queued")
    assert job.next_check_at == job.start_deadline_at  # earlier than its deadline: the sweep expires it
    start_by_now(db, waiting)
    with db.transaction() as session:  # the slot frees, but too late: admission expires it instead
        session.execute(update(Job).where(Job.job_id == first).values(state="failed"))
    assert submission.admit_waiting(db, http, settings, "kling") == 0
    assert (job_row(db, waiting).state, job_row(db, waiting).error_code) == ("expired", START_LATE)
    assert simulator.stats()["kling"].creates == 1


def test_client_deadlines_a_deadline_is_the_clients_when_shorter_and_the_operators_otherwise(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    operator_s = settings.deadline_for("kling", "kling-v1-6")
    short = job_row(db, create_job(db, tenant, settings, deadline_s=90))
    long = job_row(db, create_job(db, tenant, settings, deadline_s=int(operator_s) + 3600))
    assert short.deadline_at - short.created_at == timedelta(seconds=90)
    assert long.deadline_at - long.created_at == timedelta(seconds=operator_s)
    assert short.start_deadline_at is None


def test_client_deadlines_and_event_filter_are_checked_and_shown_by_the_api(
    api: TestClient, tenant: Tenant
) -> None:
    for field, value in (
        ("start_deadline_s", 0),
        ("deadline_s", -5),
        ("start_deadline_s", "soon"),
        ("webhook_events", []),
        ("webhook_events", ["job.finished"]),
    ):
        refused = api.post("/v1/jobs", json={**kling_request(), field: value}, headers=tenant.headers)
        assert refused.status_code == 422, (field, value, refused.text)
        assert refused.json()["error"]["code"] == "validation_error"
        assert any(field in item["field"] for item in refused.json()["error"]["fields"]), refused.text
    body = kling_request(
        start_deadline_s=600, webhook_events=["job.succeeded", "job.failed", "job.succeeded"]
    )
    created = api.post("/v1/jobs", json=body, headers=tenant.headers)
    assert created.status_code == 202, created.text
    job = created.json()
    assert job["webhook_events"] == ["job.failed", "job.succeeded"]
    created_at = datetime.fromisoformat(job["created_at"])
    assert datetime.fromisoformat(job["start_deadline_at"]) - created_at == timedelta(seconds=600)


def test_client_deadlines_webhooks_carry_only_the_events_a_job_asked_for(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(webhook_allowlist=["127.0.0.1"])
    hook = "http://127.0.0.1:9/hook"
    endings = ["job.cancelled", "job.expired", "job.failed", "job.succeeded"]
    chosen = create_job(db, tenant, settings, callback_url=hook, webhook_events=endings)
    every = create_job(db, tenant, settings, callback_url=hook)
    for job_id in (chosen, every):
        with db.transaction() as session:
            advance(session, job_id, S.QUEUED, Change(S.SUBMITTING))
            advance(session, job_id, S.SUBMITTING, Change(S.RUNNING, progress=50))
            lifecycle.record_progress(session, job_id, S.RUNNING, 90)
            advance(session, job_id, S.RUNNING, Change(S.FAILED))

    def types(job_id: uuid.UUID) -> list[str]:
        with db.transaction() as session:
            query = select(OutboxEvent.event_type).where(OutboxEvent.job_id == job_id)
            return list(session.execute(query.order_by(OutboxEvent.sequence)).scalars())

    assert types(chosen) == ["job.failed"]
    assert types(every) == ["job.queued", "job.running", "job.progress", "job.failed"]
