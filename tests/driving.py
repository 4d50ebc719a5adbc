"""Working a job as the workers would, inside a test: submit it, then poll and store it for a number
of rounds (each one right after the other: the simulator's tasks are quick in tests)."""

from __future__ import annotations

import uuid

import httpx

from orchestrator.db import Database
from orchestrator.pipeline import storing, submission, tracking
from orchestrator.settings import Settings
from orchestrator.storage import build_storage


def drive(db: Database, settings: Settings, job_id: str | uuid.UUID, rounds: int = 10) -> None:
    """Do what the workers would: submit the job, then `rounds` of polls and stores."""
    job = uuid.UUID(str(job_id))
    with httpx.Client() as http:
        submission.submit(db, http, settings, job)
        for _ in range(rounds):
            for stored in tracking.poll(db, http, settings, [job]):
                storing.store(db, http, build_storage(settings), settings, stored)
