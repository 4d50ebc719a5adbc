"""What a finished job keeps of its client's data, and its deletion: its input and metadata cleared
(from the job, the snapshots its events and webhooks keep, and its idempotency record), and on the
client's request its stored outputs and provider result too. The job row, its timeline and the ledger
stay."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from orchestrator.errors import JobNotFinishedError, JobNotFoundError
from orchestrator.models import IdempotencyKey, Job, JobEvent, JobOutput, OutboxEvent
from orchestrator.storage import LocalStorage, S3Storage
from schemas.jobs import JobStatus

# What a snapshot (a timeline event's, a webhook's) keeps of the client's data, cleared with it.
_CLEARED = literal({"metadata": None}, JSONB)
_DELETED = literal({"metadata": None, "result": None}, JSONB)


def clear_inputs(session: Session, job_ids: Sequence[uuid.UUID]) -> None:
    """Clear the jobs' input and metadata everywhere they are kept. Their idempotency records go too:
    a stored answer may repeat what was sent, and a retry under that key is a new request from now on."""
    _clear(session, job_ids, _CLEARED)


def _clear(session: Session, job_ids: Sequence[uuid.UUID], snapshot_patch: object) -> None:
    session.execute(
        update(Job)
        .where(Job.job_id.in_(job_ids))
        .values(input={}, metadata_=None, inputs_cleared_at=func.coalesce(Job.inputs_cleared_at, func.now()))
    )
    _clear_snapshots(session, job_ids, snapshot_patch)
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.job_id.in_(job_ids)))


def _clear_snapshots(session: Session, job_ids: Sequence[uuid.UUID], cleared: object) -> None:
    for model in (JobEvent, OutboxEvent):
        session.execute(
            update(model)
            .where(model.job_id.in_(job_ids), model.snapshot.is_not(None))
            .values(snapshot=model.snapshot.op("||")(cleared))
        )


def output_keys(session: Session, job_ids: Sequence[uuid.UUID]) -> list[str]:
    return list(session.execute(select(JobOutput.storage_key).where(JobOutput.job_id.in_(job_ids))).scalars())


def delete_outputs(session: Session, storage: LocalStorage | S3Storage, job_ids: Sequence[uuid.UUID]) -> None:
    """The files go before the rows, in the caller's transaction: should it fail, the rows still name
    the files and deleting again is harmless, where the other order could leave files no row names."""
    storage.delete(output_keys(session, job_ids))
    session.execute(delete(JobOutput).where(JobOutput.job_id.in_(job_ids)))


def delete_job_data(
    session: Session, storage: LocalStorage | S3Storage, account_id: uuid.UUID, job_id: uuid.UUID
) -> None:
    """Delete a finished job's outputs, input, metadata and provider result; deleting again changes
    nothing. A job still running is refused: deleting is not cancelling."""
    job = session.execute(
        select(Job).where(Job.job_id == job_id, Job.account_id == account_id).with_for_update()
    ).scalar_one_or_none()
    if job is None:
        raise JobNotFoundError(f"no job {job_id} in this account")
    if not JobStatus(job.state).is_terminal:
        raise JobNotFinishedError(
            f"job {job_id} is still {job.state}; delete its data once it has finished, or cancel it first"
        )
    delete_outputs(session, storage, [job_id])
    _clear(session, [job_id], _DELETED)  # the snapshots lose the result too, in the same statements
    session.execute(
        update(Job)
        .where(Job.job_id == job_id)
        .values(
            result=None, provider_error=None, data_deleted_at=func.coalesce(Job.data_deleted_at, func.now())
        )
    )
