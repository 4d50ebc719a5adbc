"""Retention of stored results: a succeeded job's outputs are deleted from storage once older than
its account's retention (else the deployment's), a bounded batch of jobs per transaction; the job
row, its timeline and the ledger stay, and the job shows `outputs_expired_at`."""

from __future__ import annotations

import logging

from sqlalchemy import delete, func, select, text, update

from orchestrator.db import Database
from orchestrator.models import Account, Job, JobOutput
from orchestrator.settings import Settings
from orchestrator.storage import LocalStorage, S3Storage

log = logging.getLogger(__name__)
BATCH = 500

# Oldest first through the index of kept outputs; `shortest` bounds that range scan by the shortest
# retention any account has, and each job is then held to its own account's.
_DUE = text(
    """
    SELECT j.job_id FROM jobs j JOIN accounts a ON a.account_id = j.account_id
    WHERE j.state = 'succeeded' AND j.outputs_expired_at IS NULL
      AND j.finished_at < now() - make_interval(days => :shortest)
      AND j.finished_at < now() - make_interval(days => coalesce(a.output_retention_days, :default_days))
    ORDER BY j.finished_at
    LIMIT :batch
    FOR UPDATE OF j SKIP LOCKED
    """
)


def expire_outputs(
    db: Database,
    storage: LocalStorage | S3Storage,
    settings: Settings,
    *,
    batch: int = BATCH,
    rounds: int = 20,
) -> int:
    """Delete the outputs past their retention, `batch` jobs per transaction for at most `rounds`
    transactions; how many jobs' outputs went. The files go before the rows, in the same transaction,
    so a failure leaves rows that name them and the next sweep deletes them again (harmless)."""
    expired = 0
    for _ in range(rounds):
        with db.transaction() as session:
            shortest = session.scalar(select(func.min(Account.output_retention_days)))
            if settings.output_retention_days is not None:
                shortest = min(shortest or settings.output_retention_days, settings.output_retention_days)
            if shortest is None:
                return expired  # nothing is ever deleted: no retention is set anywhere
            params = {"shortest": shortest, "default_days": settings.output_retention_days, "batch": batch}
            job_ids = list(session.execute(_DUE, params).scalars())
            if job_ids:
                keys = session.execute(select(JobOutput.storage_key).where(JobOutput.job_id.in_(job_ids)))
                storage.delete(list(keys.scalars()))
                session.execute(delete(JobOutput).where(JobOutput.job_id.in_(job_ids)))
                session.execute(
                    update(Job).where(Job.job_id.in_(job_ids)).values(outputs_expired_at=func.now())
                )
        expired += len(job_ids)
        if len(job_ids) < batch:
            break
    if expired:
        log.info("deleted the stored outputs of %d jobs past their retention", expired)
    return expired
