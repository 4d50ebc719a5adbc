"""The job pipeline against the simulator over real HTTP: submit, poll, store, settle.

These drive the use-cases the Celery tasks call, directly, so each step can be checked; the
end-to-end tests run the same path through a real worker process.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from orchestrator import lifecycle
from orchestrator.db import Database
from orchestrator.models import Account, ChannelState, Job, JobOutput
from orchestrator.ops import audit
from orchestrator.pipeline import reconciliation, storing, submission, sweeping, tracking
from orchestrator.settings import Settings
from orchestrator.storage import build_storage
from schemas.jobs import JobStatus
from tests.conftest import CREDITS, Tenant
from tests.factories import create_job
from workers.simulator import Outcome, Simulator

S = JobStatus
PRICE = 200_000


def job_row(db: Database, job_id: uuid.UUID) -> Job:
    with db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def account_row(db: Database, account_id: uuid.UUID) -> Account:
    with db.transaction() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account


def run_to_end(db: Database, http: httpx.Client, settings: Settings, job_id: uuid.UUID) -> Job:
    """Submit, then poll and store until the job ends, as workers would."""
    assert submission.submit(db, http, settings, job_id) is S.SUBMITTED
    for _ in range(50):
        to_store = tracking.poll(db, http, settings, [job_id])
        for stored_id in to_store:
            storing.store(db, http, build_storage(settings), settings, stored_id)
        job = job_row(db, job_id)
        if S(job.state).is_terminal:
            return job
    pytest.fail(f"job stayed {job_row(db, job_id).state}")


def assert_ledger_sound(db: Database) -> None:
    with db.transaction() as session:
        assert audit.find_breaches(session) == []


@pytest.mark.parametrize(
    "request_fields",
    [{}, {"operation": "image2video", "input": {"image": "https://example.com/boat.png", "prompt": "drift"}}],
    ids=["text2video", "image2video"],
)
def test_pipeline_success_stores_outputs_and_captures(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
    request_fields: dict[str, object],
) -> None:
    settings = make_settings()
    job_id = create_job(db, tenant, settings, **request_fields)
    job = run_to_end(db, http, settings, job_id)
    assert job.state == "succeeded"
    assert job.charged == PRICE
    assert job.progress == 100
    task = simulator.task_by_external_id(str(job_id))
    assert task is not None
    assert job.external_id == task.task_id
    assert task.operation == job.operation
    with db.transaction() as session:
        outputs = session.execute(select(JobOutput).where(JobOutput.job_id == job_id)).scalars().all()
    assert len(outputs) == 1
    stored = build_storage(settings).path_for(outputs[0].storage_key)  # type: ignore[union-attr]
    assert outputs[0].content_type == "video/mp4"
    assert outputs[0].size_bytes == stored.stat().st_size == simulator.config.file_size
    assert outputs[0].sha256 == hashlib.sha256(stored.read_bytes()).hexdigest()
    account = account_row(db, tenant.account_id)
    assert (account.captured, account.held) == (PRICE, 0)
    assert_ledger_sound(db)


@pytest.mark.parametrize(
    ("outcome", "code", "message"),
    [
        (
            Outcome(result="fail", message="internal generation error"),
            "upstream_failed",
            "internal generation error",
        ),
        (Outcome(result="moderation"), "moderation_blocked", "risk control"),
    ],
)
def test_pipeline_upstream_failure_fails_the_job_and_releases(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
    outcome: Outcome,
    code: str,
    message: str,
) -> None:
    simulator.script("kling", [outcome])
    settings = make_settings()
    job = run_to_end(db, http, settings, create_job(db, tenant, settings))
    assert job.state == "failed"
    assert job.error_code == code
    assert message in (job.error_message or "")
    assert job.charged == 0
    account = account_row(db, tenant.account_id)
    assert (account.captured, account.held, account.credits_added) == (0, 0, 100 * CREDITS)
    assert_ledger_sound(db)


def test_pipeline_rate_limited_submit_goes_back_to_queue_then_gives_up(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    simulator.configure(rate_limit_rate=1.0)
    settings = make_settings(max_submit_attempts=2)
    job_id = create_job(db, tenant, settings)
    sent_at = datetime.now(UTC)
    assert submission.submit(db, http, settings, job_id) is S.QUEUED
    job = job_row(db, job_id)
    assert job.next_check_at is not None
    assert job.next_check_at >= sent_at + timedelta(seconds=1)  # Retry-After: 1 honoured
    with db.transaction() as session:  # the channel's Retry-After rest is over
        session.execute(update(ChannelState).values(open_until=datetime.now(UTC) - timedelta(seconds=1)))
        session.execute(update(Job).where(Job.job_id == job_id).values(next_check_at=datetime.now(UTC)))
    assert submission.submit(db, http, settings, job_id) is S.FAILED
    job = job_row(db, job_id)
    assert job.error_code == "upstream_unavailable"
    assert simulator.stats()["kling"].creates == 0
    assert account_row(db, tenant.account_id).held == 0
    assert_ledger_sound(db)


def test_pipeline_lost_submit_answer_is_reconciled_not_resent(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    simulator.configure(read_timeout_rate=1.0, stall_s=5.0)
    settings = make_settings()
    job_id = create_job(db, tenant, settings)
    with httpx.Client(timeout=0.3) as impatient:
        assert submission.submit(db, impatient, settings, job_id) is S.SUBMITTING
    simulator.configure(read_timeout_rate=0.0)
    assert job_row(db, job_id).external_id is None
    # The fresh task is hidden from its first query: too early to conclude it was never created.
    assert reconciliation.reconcile(db, http, settings, job_id) is S.SUBMITTING
    assert reconciliation.reconcile(db, http, settings, job_id) in {S.SUBMITTED, S.RUNNING, S.STORING}
    task = simulator.task_by_external_id(str(job_id))
    assert task is not None
    assert job_row(db, job_id).external_id == task.task_id
    assert simulator.stats()["kling"].creates == 1
    assert account_row(db, tenant.account_id).held == PRICE


def test_pipeline_reconcile_resends_only_what_never_arrived(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    simulator.configure(submit_error_rate=1.0)
    settings = make_settings()
    job_id = create_job(db, tenant, settings)
    long_ago = datetime.now(UTC) - timedelta(seconds=settings.submit_lease_s + 1)
    with db.transaction() as session:  # a worker claimed the job, then died before sending anything
        session.execute(
            update(Job).where(Job.job_id == job_id).values(state="submitting", updated_at=long_ago)
        )
    simulator.configure(submit_error_rate=0.0)
    assert reconciliation.reconcile(db, http, settings, job_id) is S.QUEUED
    assert submission.submit(db, http, settings, job_id) is S.SUBMITTED
    assert simulator.stats()["kling"].creates == 1


def test_pipeline_polled_twice_at_once_and_stored_twice_at_once_charges_once(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    job_id = create_job(db, tenant, settings)
    submission.submit(db, http, settings, job_id)
    tracking.poll(db, http, settings, [job_id])  # the simulator hides a new task from its first query

    def concurrently(action: Callable[[], object], times: int = 4) -> list[object]:
        barrier, results = threading.Barrier(times), []

        def run() -> None:
            barrier.wait()
            results.append(action())

        threads = [threading.Thread(target=run) for _ in range(times)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    polled = concurrently(lambda: tracking.poll(db, http, settings, [job_id]))
    assert sorted(len(result) for result in polled) == [0, 0, 0, 1]  # exactly one saw the success first
    stored = concurrently(lambda: storing.store(db, http, build_storage(settings), settings, job_id))
    assert stored.count(S.SUCCEEDED) >= 1
    job = job_row(db, job_id)
    assert job.state == "succeeded"
    assert job.charged == PRICE
    assert account_row(db, tenant.account_id).captured == PRICE
    assert_ledger_sound(db)


def test_pipeline_deadline_expires_the_job_and_releases(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator: Simulator,
    make_settings: Callable[..., Settings],
) -> None:
    simulator.script("kling", [Outcome(result="succeed", processing_s=600)])
    settings = make_settings()
    job_id = create_job(db, tenant, settings)
    submission.submit(db, http, settings, job_id)
    with db.transaction() as session:
        session.execute(update(Job).where(Job.job_id == job_id).values(deadline_at=datetime.now(UTC)))
    tracking.poll(db, http, settings, [job_id])
    job = job_row(db, job_id)
    assert job.state == "expired"
    assert job.error_code == "deadline_exceeded"
    assert account_row(db, tenant.account_id).held == 0
    assert_ledger_sound(db)


def test_pipeline_sweep_dispatches_by_state_and_expires_overdue_queued_jobs(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    waiting, overdue, polling = (create_job(db, tenant, settings) for _ in range(3))
    now = datetime.now(UTC)
    with db.transaction() as session:
        session.execute(update(Job).values(next_check_at=now))
        session.execute(update(Job).where(Job.job_id == overdue).values(deadline_at=now))
        session.execute(update(Job).where(Job.job_id == polling).values(state="running"))
    with db.transaction() as session:
        dispatch = sweeping.claim_due(session, settings, limit=10)
    assert dict(dispatch.work) == {"kling.submit": [str(waiting)], "kling.poll": [str(polling)]}
    assert dispatch.expired == [overdue]
    assert job_row(db, overdue).state == "expired"
    with db.transaction() as session:  # claimed jobs carry a lease: a second sweep finds nothing due
        assert sweeping.claim_due(session, settings, limit=10).claimed == 0
    assert_ledger_sound(db)


def test_pipeline_an_optional_output_the_upstream_never_made_is_left_out(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    simulator_url: str,
    make_settings: Callable[..., Settings],
) -> None:
    """A gateway that serves no thumbnail answers 404 for it: the video is stored and the job succeeds;
    a required output so answered still fails the job."""
    settings = make_settings(max_store_attempts=1)
    absent = f"{simulator_url}/no/such/thumbnail.webp"
    video = "data:video/mp4;base64,AAAAGGZ0eXBtcDQy"
    jobs = {}
    for optional in (True, False):
        job_id = create_job(db, tenant, settings)
        with db.transaction() as session:
            for state in (S.SUBMITTING, S.SUBMITTED):
                session.execute(update(Job).where(Job.job_id == job_id).values(state=state.value))
            outputs = [
                {"url": video, "label": "video"},
                {"url": absent, "label": "thumbnail", "optional": optional},
            ]
            change = lifecycle.Change(S.STORING, columns={"pending_outputs": outputs})
            assert lifecycle.advance(session, job_id, S.SUBMITTED, change) is not None
        jobs[optional] = job_id
    storage = build_storage(settings)

    assert storing.store(db, http, storage, settings, jobs[True]) is S.SUCCEEDED
    assert storing.store(db, http, storage, settings, jobs[False]) is S.FAILED
    with db.transaction() as session:
        kept = session.execute(select(JobOutput.label).where(JobOutput.job_id == jobs[True])).scalars().all()
    assert kept == ["video"]
    assert job_row(db, jobs[True]).charged == PRICE
    assert (job_row(db, jobs[False]).charged, job_row(db, jobs[False]).error_code) == (0, "storage_failed")
    assert_ledger_sound(db)


def test_pipeline_storing_resumes_after_the_outputs_it_recorded(
    db: Database, http: httpx.Client, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(max_store_attempts=5)
    job_id = create_job(db, tenant, settings)
    unreachable = "http://127.0.0.1:9/gone.mp4"  # the discard port: connection refused
    first, second = "data:text/plain,first", "data:text/plain,second"
    with db.transaction() as session:
        for state in (S.SUBMITTING, S.SUBMITTED):
            session.execute(update(Job).where(Job.job_id == job_id).values(state=state.value))
        outputs = [{"url": first, "label": "a"}, {"url": unreachable, "label": "b"}]
        change = lifecycle.Change(S.STORING, columns={"pending_outputs": outputs})
        assert lifecycle.advance(session, job_id, S.SUBMITTED, change) is not None
    storage = build_storage(settings)

    assert storing.store(db, http, storage, settings, job_id) is S.STORING  # the second output failed
    with db.transaction() as session:
        recorded = session.execute(select(JobOutput.label).where(JobOutput.job_id == job_id)).scalars().all()
        assert recorded == ["a"]
        # The first output's link dies and the second's comes back: only the second is fetched again.
        outputs = [{"url": unreachable, "label": "a"}, {"url": second, "label": "b"}]
        session.execute(update(Job).where(Job.job_id == job_id).values(pending_outputs=outputs))

    assert storing.store(db, http, storage, settings, job_id) is S.SUCCEEDED
    with db.transaction() as session:
        rows = session.execute(select(JobOutput).where(JobOutput.job_id == job_id)).scalars().all()
    assert sorted((row.label, row.size_bytes) for row in rows) == [("a", 5), ("b", 6)]
    assert job_row(db, job_id).charged == PRICE
    assert_ledger_sound(db)


def test_pipeline_an_outage_of_our_own_bucket_waits_and_never_spends_a_store_attempt(
    db: Database,
    http: httpx.Client,
    tenant: Tenant,
    make_settings: Callable[..., Settings],
    s3_endpoint: str,
) -> None:
    """With one store attempt allowed, a write our unreachable bucket refuses neither fails the job
    nor uses the attempt up: the store is tried again seconds later and succeeds once the bucket is back."""
    bucket = {
        "max_store_attempts": 1,
        "storage_backend": "s3",
        "s3_bucket": f"outage-{uuid.uuid4().hex[:8]}",
        "s3_access_key_id": "test",
        "s3_secret_access_key": "test",
        "s3_addressing_style": "path",
    }
    down = make_settings(**bucket, s3_endpoint_url="http://127.0.0.1:9")  # the discard port: refused
    up = make_settings(**bucket, s3_endpoint_url=s3_endpoint)
    job_id = create_job(db, tenant, up)
    with db.transaction() as session:
        for state in (S.SUBMITTING, S.SUBMITTED):
            session.execute(update(Job).where(Job.job_id == job_id).values(state=state.value))
        change = lifecycle.Change(S.STORING, columns={"pending_outputs": [{"url": "data:text/plain,kept"}]})
        assert lifecycle.advance(session, job_id, S.SUBMITTED, change) is not None

    before = datetime.now(UTC)
    assert storing.store(db, http, build_storage(down), down, job_id) is S.STORING
    waiting = job_row(db, job_id)
    assert waiting.store_attempts == 0
    assert waiting.next_check_at is not None
    assert before + timedelta(seconds=storing.STORAGE_RETRY_S / 2) <= waiting.next_check_at
    assert waiting.next_check_at <= datetime.now(UTC) + timedelta(seconds=storing.STORAGE_RETRY_S)

    storage = build_storage(up)
    storage.ensure_bucket()  # type: ignore[attr-defined]
    assert storing.store(db, http, storage, up, job_id) is S.SUCCEEDED
    assert job_row(db, job_id).charged == PRICE
    assert_ledger_sound(db)
