"""Money: holds, captures and releases on a real PostgreSQL, and the audit that checks them."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import func, select, text

from orchestrator import ledger, lifecycle
from orchestrator.db import Database
from orchestrator.errors import InsufficientCreditsError, LedgerError
from orchestrator.models import Account, Hold, Job, LedgerEntry
from orchestrator.ops import audit
from orchestrator.pipeline import tracking
from orchestrator.settings import Settings
from schemas.jobs import JobStatus
from tests.conftest import CREDITS, Tenant
from tests.factories import create_job
from workers.providers.base import ProviderUpdate, UpstreamStatus

S = JobStatus
PRICE = 200_000  # kling-v1-6 text2video std 5 s in workers/providers/kling/prices.toml


def balances(db: Database, account_id: uuid.UUID) -> tuple[int, int, int]:
    with db.transaction() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account.credits_added - account.captured, account.held, account.captured


def drive_to(db: Database, job_id: uuid.UUID, *states: JobStatus) -> None:
    with db.transaction() as session:
        current = S(session.execute(select(Job.state).where(Job.job_id == job_id)).scalar_one())
        for state in states:
            assert lifecycle.advance(session, job_id, current, lifecycle.Change(state)) is not None
            current = state


def test_ledger_reserve_holds_the_price(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    create_job(db, tenant, make_settings())
    assert balances(db, tenant.account_id) == (100 * CREDITS, PRICE, 0)


def test_ledger_reserve_refuses_when_available_falls_short(
    db: Database, make_tenant: Callable[..., Tenant], make_settings: Callable[..., Settings]
) -> None:
    poor = make_tenant(credits=PRICE + PRICE // 2)
    create_job(db, poor, make_settings())
    with pytest.raises(InsufficientCreditsError, match=r"only 0\.1 are available"):
        create_job(db, poor, make_settings())
    with db.transaction() as session:
        assert session.execute(select(func.count()).select_from(Job)).scalar_one() == 1
        assert session.execute(select(func.count()).select_from(Hold)).scalar_one() == 1
    assert balances(db, poor.account_id) == (PRICE + PRICE // 2, PRICE, 0)


def open_jobs(db: Database, account_id: uuid.UUID) -> int:
    with db.transaction() as session:
        return int(
            session.execute(select(Account.open_jobs).where(Account.account_id == account_id)).scalar_one()
        )


def test_ledger_counts_unfinished_jobs_with_their_holds(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    first, second = create_job(db, tenant, make_settings()), create_job(db, tenant, make_settings())
    assert open_jobs(db, tenant.account_id) == 2
    drive_to(db, first, S.SUBMITTING, S.SUBMITTED, S.STORING, S.SUCCEEDED)
    assert open_jobs(db, tenant.account_id) == 1
    drive_to(db, second, S.FAILED)
    with db.transaction() as session:  # settling again counts nothing twice
        assert ledger.release(session, second) == 0
        assert ledger.capture(session, first) == PRICE
    assert open_jobs(db, tenant.account_id) == 0


def test_ledger_success_captures_once(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    job_id = create_job(db, tenant, make_settings())
    drive_to(db, job_id, S.SUBMITTING, S.SUBMITTED, S.STORING, S.SUCCEEDED)
    with db.transaction() as session:
        assert ledger.capture(session, job_id) == PRICE  # a repeat charges nothing more
        charged = session.execute(select(Job.charged).where(Job.job_id == job_id)).scalar_one()
    assert charged == PRICE
    assert balances(db, tenant.account_id) == (100 * CREDITS - PRICE, 0, PRICE)


@pytest.mark.parametrize("ending", [S.FAILED, S.CANCELLED, S.EXPIRED])
def test_ledger_every_other_ending_releases(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings], ending: JobStatus
) -> None:
    job_id = create_job(db, tenant, make_settings())
    drive_to(db, job_id, S.SUBMITTING, S.SUBMITTED, ending)
    with db.transaction() as session:
        assert ledger.release(session, job_id) == 0  # already released: a no-op
        with pytest.raises(LedgerError, match="already released"):
            ledger.capture(session, job_id)
    assert balances(db, tenant.account_id) == (100 * CREDITS, 0, 0)


@pytest.mark.parametrize(
    ("upstream", "ending", "code"),
    [
        (UpstreamStatus.FAILED, S.FAILED, "upstream_failed"),
        (UpstreamStatus.CANCELLED, S.CANCELLED, "upstream_cancelled"),
        (UpstreamStatus.EXPIRED, S.EXPIRED, "upstream_expired"),
    ],
)
def test_ledger_a_task_ended_upstream_without_a_result_releases_its_hold(
    db: Database,
    tenant: Tenant,
    make_settings: Callable[..., Settings],
    upstream: UpstreamStatus,
    ending: JobStatus,
    code: str,
) -> None:
    """A provider that cancels or expires a task itself (Seedance's `cancelled`, `expired`) ends the
    job in the matching state, with a reason, and the tenant pays nothing; a repeat changes nothing."""
    settings = make_settings()
    job_id = create_job(db, tenant, settings)
    drive_to(db, job_id, S.SUBMITTING, S.SUBMITTED)
    report = ProviderUpdate(status=upstream, raw_status=str(upstream))
    with db.transaction() as session:
        assert tracking.apply_update(session, settings, job_id, report) is not None
    with db.transaction() as session:
        assert tracking.apply_update(session, settings, job_id, report) is None
        job = session.get(Job, job_id)
        assert job is not None
        assert (job.state, job.error_code, job.charged) == (ending, code, 0)
        assert job.error_message
        assert audit.find_breaches(session) == []
    assert balances(db, tenant.account_id) == (100 * CREDITS, 0, 0)


def test_ledger_success_applied_twice_at_once_charges_once(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    job_id = create_job(db, tenant, make_settings())
    drive_to(db, job_id, S.SUBMITTING, S.SUBMITTED, S.STORING)
    barrier = threading.Barrier(4)
    results: list[lifecycle.Transition | None] = []

    def apply_success() -> None:
        barrier.wait()
        with db.transaction() as session:
            results.append(lifecycle.advance(session, job_id, S.STORING, lifecycle.Change(S.SUCCEEDED)))

    threads = [threading.Thread(target=apply_success) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result is not None for result in results) == 1
    assert balances(db, tenant.account_id) == (100 * CREDITS - PRICE, 0, PRICE)
    with db.transaction() as session:
        captures = session.execute(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "capture")
        ).scalar_one()
        assert captures == 1
        assert audit.find_breaches(session) == []


def test_ledger_database_refuses_a_second_resolution(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    job_id = create_job(db, tenant, make_settings())
    drive_to(db, job_id, S.CANCELLED)
    with (
        pytest.raises(Exception, match="uq_ledger_entries_resolution"),
        db.transaction() as session,
    ):
        session.add(LedgerEntry(account_id=tenant.account_id, job_id=job_id, kind="capture", amount=PRICE))


CORRUPTIONS = {
    "account_held_matches_open_holds": "UPDATE accounts SET held = held + 1",
    "account_open_jobs_matches_open_holds": "UPDATE accounts SET open_jobs = open_jobs + 1",
    "hold_state_follows_job_state": "UPDATE holds SET state = 'captured'",
    "charged_iff_captured": "UPDATE jobs SET charged = price",
    "journal_matches_each_hold": "DELETE FROM ledger_entries WHERE kind = 'hold'",
    "account_totals_match_journal": "UPDATE accounts SET credits_added = credits_added + 5",
}


@pytest.mark.parametrize(("check", "corruption"), list(CORRUPTIONS.items()))
def test_audit_finds_a_hand_corrupted_row(
    db: Database,
    tenant: Tenant,
    make_settings: Callable[..., Settings],
    check: str,
    corruption: str,
) -> None:
    create_job(db, tenant, make_settings())
    with db.transaction() as session:
        assert audit.find_breaches(session) == []
        session.execute(text(corruption))
        assert check in {breach.check for breach in audit.find_breaches(session)}
