"""Server-side batches, for tenants: a JSONL file checked whole (a file with a bad line makes no
batch), stored as a batch and its lines in one transaction, then read back, listed, cancelled and
reported line by line. `pipeline.batching` turns the lines into jobs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrator import lifecycle
from orchestrator.errors import (
    BatchNotCancellableError,
    BatchNotFoundError,
    IdempotencyConflictError,
    IdempotencyInFlightError,
    InvalidBatchError,
    InvalidRequestError,
    OrchestratorError,
)
from orchestrator.ids import new_uuid7
from orchestrator.models import Batch, BatchLine, Job, JobOutput, table
from orchestrator.pipeline.failures import failure_columns, failure_message
from orchestrator.pricing import PriceTable
from orchestrator.settings import Settings
from orchestrator.tenants import idempotency
from orchestrator.tenants.accounts import Principal
from orchestrator.tenants.creating import resolve_provider, validate_input
from orchestrator.tenants.jobs import decode_cursor, encode_cursor
from schemas.batches import MAX_LINES, BatchLineIn, RequestCounts
from schemas.batches import Batch as BatchView
from schemas.jobs import JobStatus

MAX_PROBLEMS = 20  # a refused file names this many of its bad lines
MAX_PAGE = 100
CANCELLED_LINE = ("batch_cancelled", "the batch was cancelled before this line became a job")
_INSERT_LINE = insert(table(BatchLine))


@dataclass(frozen=True)
class Accepted:
    batch: Batch
    replayed: bool


def parse_lines(raw: bytes, prices: PriceTable, principal: Principal) -> list[BatchLineIn]:
    """Every line of the file, each checked as its job's create would be (body, provider, operation,
    input, price); InvalidBatchError names the bad lines, by number, if there is one."""
    problems: list[tuple[str, str]] = []
    lines: list[BatchLineIn] = []
    seen: set[str] = set()
    numbered = [(n, text_) for n, text_ in enumerate(raw.decode("utf-8", "replace").splitlines(), 1)]
    numbered = [(n, text_) for n, text_ in numbered if text_.strip()]
    if not numbered:
        raise InvalidBatchError("the batch file has no lines; send one JSON object per line", [])
    if len(numbered) > MAX_LINES:
        raise InvalidBatchError(f"a batch holds at most {MAX_LINES:,} lines, this one {len(numbered):,}", [])
    for number, line_text in numbered:
        try:
            line = BatchLineIn.model_validate_json(line_text)
            if line.custom_id in seen:
                raise InvalidRequestError(f"custom_id {line.custom_id!r} is on an earlier line too")
            seen.add(line.custom_id)
            _, input_model = resolve_provider(line.body.provider, line.body.operation)
            job_input = validate_input(input_model, line.body.input, line.body.model)
            prices.quote(
                line.body.provider,
                line.body.operation,
                line.body.model,
                job_input,
                principal.price_multiplier_ppm,
            )
            lines.append(line)
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"]) or "line"
                problems.append((f"line {number}: {where}", error["msg"]))
        except OrchestratorError as exc:
            problems.append((f"line {number}: {exc.field or 'body'}", exc.message))
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        summary = "; ".join(f"{where}: {message}" for where, message in problems[:3])
        raise InvalidBatchError(f"the batch file has bad lines, so no batch was made: {summary}", problems)
    return lines


def create_batch(
    session: Session,
    principal: Principal,
    lines: Sequence[BatchLineIn],
    *,
    callback_url: str | None = None,
    idempotency_key: str | None = None,
    fingerprint: bytes | None = None,
) -> Accepted:
    """The batch and its lines, due for expansion at once; with a key, the batch it already made."""
    if idempotency_key is not None:
        earlier = _keyed(
            session, principal.account_id, idempotency.validate_key(idempotency_key), fingerprint
        )
        if earlier is not None:
            return Accepted(earlier, replayed=True)
    batch = Batch(
        batch_id=new_uuid7(),
        account_id=principal.account_id,
        api_key_id=principal.key_id,
        price_multiplier_ppm=principal.price_multiplier_ppm,
        state="in_progress",
        callback_url=callback_url,
        idempotency_key=idempotency_key,
        request_hash=fingerprint if idempotency_key is not None else None,
        total=len(lines),
        next_expand_at=datetime.now(UTC),
    )
    session.add(batch)
    try:
        session.flush()
    except IntegrityError:
        raise IdempotencyInFlightError(
            "a batch with this Idempotency-Key is being made right now; retry in a moment"
        ) from None
    rows = [
        {
            "batch_id": batch.batch_id,
            "line_no": number,
            "custom_id": line.custom_id,
            "body": line.body.model_dump(mode="json", exclude_none=True),
        }
        for number, line in enumerate(lines, 1)
    ]
    session.execute(_INSERT_LINE, rows)
    return Accepted(batch, replayed=False)


def _keyed(session: Session, account_id: uuid.UUID, key: str, fingerprint: bytes | None) -> Batch | None:
    earlier = session.execute(
        select(Batch).where(Batch.account_id == account_id, Batch.idempotency_key == key)
    ).scalar_one_or_none()
    if earlier is not None and earlier.request_hash != fingerprint:
        raise IdempotencyConflictError(
            "this Idempotency-Key was already used for a different batch file; use a new key for a new batch"
        )
    return earlier


def find_batch(session: Session, account_id: uuid.UUID, batch_id: str, *, lock: bool = False) -> Batch:
    try:
        parsed = uuid.UUID(batch_id)
    except ValueError:
        raise BatchNotFoundError(f"no batch {batch_id!r}: batch ids look like 0193f7c2-...") from None
    query = select(Batch).where(Batch.batch_id == parsed, Batch.account_id == account_id)
    batch = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if batch is None:
        raise BatchNotFoundError(f"no batch {batch_id} in this account")
    return batch


_COUNTS = text(
    """
    SELECT count(*) FILTER (WHERE l.job_id IS NULL AND l.error_code IS NULL) AS pending,
           count(*) FILTER (WHERE l.error_code IS NOT NULL) AS refused,
           count(*) FILTER (WHERE j.state = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE j.state IN ('failed','cancelled','expired')) AS failed,
           count(j.job_id) FILTER (WHERE j.state NOT IN ('succeeded','failed','cancelled','expired'))
               AS running,
           coalesce(sum(j.charged), 0) AS charged
    FROM batch_lines l LEFT JOIN jobs j ON j.job_id = l.job_id
    WHERE l.batch_id = :batch_id
    """
)


def counts(session: Session, batch_id: uuid.UUID) -> dict[str, int]:
    """pending, refused, succeeded, failed, running, charged: one pass over the batch's lines."""
    row = session.execute(_COUNTS, {"batch_id": batch_id}).one()
    return {key: int(value) for key, value in row._mapping.items()}


def batch_view(session: Session, batch: Batch) -> BatchView:
    seen = counts(session, batch.batch_id)
    return BatchView(
        batch_id=str(batch.batch_id),
        status=batch.state,
        request_counts=RequestCounts(
            total=batch.total,
            pending=seen["pending"],
            running=seen["running"],
            succeeded=seen["succeeded"],
            failed=seen["failed"],
            refused=seen["refused"],
        ),
        charged=seen["charged"],
        callback_url=batch.callback_url,
        created_at=batch.created_at,
        expanded_at=batch.expanded_at,
        finished_at=batch.finished_at,
    )


def list_batches(
    session: Session, account_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[Batch], str | None]:
    """Newest first, with the cursor of the next page (None at the end)."""
    query = select(Batch).where(Batch.account_id == account_id)
    if cursor:
        query = query.where(Batch.batch_id < decode_cursor(cursor))
    rows = session.execute(query.order_by(Batch.batch_id.desc()).limit(limit + 1)).scalars().all()
    page = list(rows[:limit])
    more = len(rows) > limit
    return page, (encode_cursor(page[-1].batch_id) if more else None)


def cancel_batch(session: Session, settings: Settings, account_id: uuid.UUID, batch_id: str) -> Batch:
    """Stop the batch: lines not yet jobs are refused, and its jobs not yet sent upstream are cancelled
    and released, in this transaction. Jobs already upstream run to their end; the batch is
    `cancelling` until they have, then `cancelled`."""
    batch = find_batch(session, account_id, batch_id, lock=True)  # waits out an expanding chunk
    if batch.state not in ("in_progress",):
        raise BatchNotCancellableError(
            f"the batch is {batch.state}; only a batch in progress can be cancelled"
        )
    code, message = CANCELLED_LINE
    session.execute(
        update(BatchLine)
        .where(
            BatchLine.batch_id == batch.batch_id, BatchLine.job_id.is_(None), BatchLine.error_code.is_(None)
        )
        .values(error_code=code, error_message=failure_message(settings, message), body=None)
    )
    queued = session.execute(
        select(Job.job_id).where(Job.batch_id == batch.batch_id, Job.state == JobStatus.QUEUED.value)
    ).scalars()
    change = lifecycle.Change(
        JobStatus.CANCELLED,
        columns=failure_columns(settings, "cancelled", "cancelled with its batch"),
        detail={"batch_cancelled": True},
    )
    for job_id in list(queued):
        lifecycle.advance(session, job_id, JobStatus.QUEUED, change)
    batch.state = "cancelling"
    batch.next_expand_at = None
    batch.expanded_at = batch.expanded_at or func.now()
    session.flush()
    session.refresh(batch)
    return batch


@dataclass(frozen=True)
class ResultRow:
    line: BatchLine
    job: Job | None
    outputs: list[JobOutput]


def result_pages(
    session_pages: Iterator[Session], batch_id: uuid.UUID, page_size: int = 1000
) -> Iterator[list[ResultRow]]:
    """The batch's lines in file order with their jobs and outputs, a page per session taken from
    `session_pages` (each a short transaction: a long download holds no connection between pages)."""
    after = 0
    for session in session_pages:
        lines = (
            session.execute(
                select(BatchLine)
                .where(BatchLine.batch_id == batch_id, BatchLine.line_no > after)
                .order_by(BatchLine.line_no)
                .limit(page_size)
            )
            .scalars()
            .all()
        )
        if not lines:
            return
        job_ids = [line.job_id for line in lines if line.job_id is not None]
        jobs = {
            job.job_id: job for job in session.execute(select(Job).where(Job.job_id.in_(job_ids))).scalars()
        }
        outputs: dict[uuid.UUID, list[JobOutput]] = {}
        for output in session.execute(select(JobOutput).where(JobOutput.job_id.in_(job_ids))).scalars():
            outputs.setdefault(output.job_id, []).append(output)
        yield [
            ResultRow(line, jobs.get(line.job_id), outputs.get(line.job_id, []))
            if line.job_id is not None
            else ResultRow(line, None, [])
            for line in lines
        ]
        after = lines[-1].line_no
        if len(lines) < page_size:
            return


def fingerprint_of(raw: bytes, callback_url: str | None) -> bytes:
    return idempotency.request_fingerprint(
        {"file": raw.decode("utf-8", "replace"), "callback_url": callback_url}
    )
