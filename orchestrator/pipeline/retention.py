"""Retention of what clients sent and received: once past its account's retention (else the
deployment's), a succeeded job's stored outputs are deleted from storage, and a finished job's input
and metadata are cleared, a bounded batch of jobs per transaction. The job row, its timeline and the
ledger stay; the job shows `outputs_expired_at` or `inputs_cleared_at`."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import TextClause, func, select, text, update
from sqlalchemy.orm import Session

from orchestrator.db import Database
from orchestrator.models import Account, Job
from orchestrator.settings import Settings
from orchestrator.storage import LocalStorage, S3Storage
from orchestrator.tenants import job_data

log = logging.getLogger(__name__)
BATCH = 500

# Oldest first through the partial index of the jobs still keeping it; `shortest` bounds that range
# scan by the shortest retention any account has, and each job is then held to its own account's.
_DUE = """
    SELECT j.job_id FROM jobs j JOIN accounts a ON a.account_id = j.account_id
    WHERE {kept}
      AND j.finished_at < now() - make_interval(days => :shortest)
      AND j.finished_at < now() - make_interval(days => coalesce(a.{days}, :default_days))
    ORDER BY j.finished_at
    LIMIT :batch
    FOR UPDATE OF j SKIP LOCKED
"""


@dataclass(frozen=True)
class _Kind:
    name: str
    days: str  # the setting, and the accounts column, of its retention in days
    kept: str  # the jobs that still keep it (as their partial index says)

    def default_days(self, settings: Settings) -> int | None:
        days: int | None = getattr(settings, self.days)
        return days

    @functools.cached_property
    def due(self) -> TextClause:
        return text(_DUE.format(kept=self.kept, days=self.days))


OUTPUTS = _Kind("outputs", "output_retention_days", "j.state = 'succeeded' AND j.outputs_expired_at IS NULL")
INPUTS = _Kind("inputs", "input_retention_days", "j.finished_at IS NOT NULL AND j.inputs_cleared_at IS NULL")


def expire_outputs(
    db: Database,
    storage: LocalStorage | S3Storage,
    settings: Settings,
    *,
    batch: int = BATCH,
    rounds: int = 20,
) -> int:
    """Delete the stored outputs past their retention, `batch` jobs per transaction for at most
    `rounds` transactions; how many jobs' outputs went."""

    def expire(session: Session, job_ids: Sequence[uuid.UUID]) -> None:
        job_data.delete_outputs(session, storage, job_ids)
        session.execute(update(Job).where(Job.job_id.in_(job_ids)).values(outputs_expired_at=func.now()))

    return _sweep(db, settings, OUTPUTS, expire, batch, rounds)


def clear_inputs(db: Database, settings: Settings, *, batch: int = BATCH, rounds: int = 20) -> int:
    """Clear the inputs and metadata past their retention, as `expire_outputs` does outputs."""
    return _sweep(db, settings, INPUTS, job_data.clear_inputs, batch, rounds)


def _sweep(
    db: Database,
    settings: Settings,
    kind: _Kind,
    act: Callable[[Session, Sequence[uuid.UUID]], None],
    batch: int,
    rounds: int,
) -> int:
    default = kind.default_days(settings)
    with db.transaction() as session:
        shortest = session.scalar(select(func.min(getattr(Account, kind.days))))
    if default is not None:
        shortest = min(shortest or default, default)
    if shortest is None:
        return 0  # no retention is set anywhere: kept until deleted
    params = {"shortest": shortest, "default_days": default, "batch": batch}
    done = 0
    for _ in range(rounds):
        with db.transaction() as session:
            job_ids = list(session.execute(kind.due, params).scalars())
            if job_ids:
                act(session, job_ids)
        done += len(job_ids)
        if len(job_ids) < batch:
            break
    if done:
        log.info("retention: %s of %d jobs past their retention", kind.name, done)
    return done
