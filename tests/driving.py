"""Working a job as the workers would, inside a test: submit it, then poll and store it for a number
of rounds (each one right after the other: the simulator's tasks are quick in tests), or until it ends;
and reading the job and its account back."""

from __future__ import annotations

import uuid

import httpx

from orchestrator.db import Database
from orchestrator.models import Account, Job
from orchestrator.pipeline import storing, submission, tracking
from orchestrator.settings import Settings
from orchestrator.storage import build_storage
from schemas.jobs import JobStatus
from tests import services
from tests.factories import Tenant


def drive(db: Database, settings: Settings, job_id: str | uuid.UUID, rounds: int = 10) -> None:
    """Do what the workers would: submit the job, then `rounds` of polls and stores."""
    job = uuid.UUID(str(job_id))
    with httpx.Client() as http:
        submission.submit(db, http, settings, job)
        for _ in range(rounds):
            for stored in tracking.poll(db, http, settings, [job]):
                storing.store(db, http, build_storage(settings), settings, stored)


def job_row(db: Database, job_id: uuid.UUID) -> Job:
    with db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


def balances(db: Database, tenant: Tenant) -> tuple[int, int]:
    """(balance, held) of the tenant's account."""
    with db.transaction() as session:
        account = session.get(Account, tenant.account_id)
        assert account is not None
        return account.credits_added - account.captured, account.held


def run_to_end(db: Database, http: httpx.Client, settings: Settings, job_id: uuid.UUID) -> Job:
    """Poll and store a submitted job until it ends; the job as it ended."""

    def ended() -> Job | None:
        for stored in tracking.poll(db, http, settings, [job_id]):
            storing.store(db, http, build_storage(settings), settings, stored)
        job = job_row(db, job_id)
        return job if JobStatus(job.state).is_terminal else None

    job: Job = services.wait_until(ended, timeout=10, interval=0.02)
    return job
