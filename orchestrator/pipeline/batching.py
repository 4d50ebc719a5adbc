"""Turning a server-side batch's lines into jobs, and ending batches.

Lines become jobs a chunk per transaction, in file order, each job with its own hold, exactly as a
create would make it; the line records its job in that same transaction, and a unique index on
(batch, custom_id) makes a second job for one line impossible, so a chunk run twice (a redelivered
message, two workers) makes each job once. A line refused for good (credits, a changed price list,
an unreachable callback) records why; at the account's open-jobs limit the batch pauses and comes
back as jobs finish. The sweep dispatches batches due for expansion and ends the batches whose every
line has ended, with a `batch.completed` (or `batch.cancelled`) webhook."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from orchestrator import messaging
from orchestrator.db import Database
from orchestrator.errors import OpenJobsLimitError, OrchestratorError
from orchestrator.ids import new_uuid7
from orchestrator.models import ApiKey, Batch, BatchLine, OutboxEvent
from orchestrator.outbox import DISPATCH_LEASE, NEW_EVENTS
from orchestrator.pipeline.failures import failure_message
from orchestrator.pricing import PriceTable
from orchestrator.settings import Settings
from orchestrator.tenants import batches, creating
from orchestrator.tenants.accounts import Principal
from schemas.jobs import JobCreate

log = logging.getLogger(__name__)
CHUNK = 500
PAUSE = timedelta(seconds=5)  # at the open-jobs limit: when to look again for room
LEASE = timedelta(seconds=60)  # a dispatched expansion; should it be lost, the sweep sends another

_PENDING_LINES = (
    select(BatchLine)
    .where(BatchLine.job_id.is_(None), BatchLine.error_code.is_(None))
    .order_by(BatchLine.line_no)
    .limit(CHUNK)
    .with_for_update(skip_locked=True)
)


def expand(
    db: Database,
    dispatcher: messaging.Dispatcher,
    settings: Settings,
    prices: PriceTable,
    batch_id: uuid.UUID,
) -> int:
    """Make jobs of the batch's pending lines until none is left or the account's open-jobs limit
    stops it; how many jobs were made."""
    made = 0
    while True:
        created: list[tuple[str, str]] = []
        paused = False
        with db.transaction() as session:
            # Shared: a cancel (which locks the batch for update) waits for this chunk, and then sees
            # its jobs; a chunk never starts after the cancel committed. The batch row itself is only
            # written after the chunk commits: two expansions holding it shared must not both wait.
            batch = session.execute(
                select(Batch).where(Batch.batch_id == batch_id).with_for_update(read=True)
            ).scalar_one_or_none()
            if batch is None or batch.state != "in_progress" or batch.next_expand_at is None:
                return made
            lines = list(session.execute(_PENDING_LINES.where(BatchLine.batch_id == batch_id)).scalars())
            if lines:
                created, paused = _expand_chunk(session, settings, prices, batch, lines)
        if not lines:  # all made or refused, or another expansion holds the rest (it ends the batch's)
            with db.transaction() as session:
                session.execute(_EXPANDED, {"batch_id": batch_id})
            return made
        dispatcher.send_submits(created)
        made += len(created)
        if paused:
            with db.transaction() as session:
                session.execute(
                    update(Batch)
                    .where(Batch.batch_id == batch_id, Batch.state == "in_progress")
                    .values(next_expand_at=datetime.now(UTC) + PAUSE)
                )
            return made


_EXPANDED = text(
    """
    UPDATE batches SET next_expand_at = NULL, expanded_at = coalesce(expanded_at, now())
    WHERE batch_id = :batch_id AND next_expand_at IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM batch_lines
          WHERE batch_id = :batch_id AND job_id IS NULL AND error_code IS NULL)
    """
)


def _expand_chunk(
    session: Session, settings: Settings, prices: PriceTable, batch: Batch, lines: list[BatchLine]
) -> tuple[list[tuple[str, str]], bool]:
    """The chunk's jobs, written with their holds in the caller's transaction: (provider, job id) of
    each made, and whether the open-jobs limit stopped it (those lines stay pending)."""
    assert batch.api_key_id is not None
    # What the key may do now: its providers and monthly cap bind its batch's jobs as its own creates.
    key = session.get(ApiKey, batch.api_key_id)
    assert key is not None
    principal = Principal(
        batch.account_id,
        batch.api_key_id,
        batch.price_multiplier_ppm,
        providers=None if key.providers is None else frozenset(key.providers),
        monthly_cap=key.monthly_cap,
    )
    prepared: list[tuple[BatchLine, creating.PreparedJob]] = []
    for line in lines:
        try:
            request = JobCreate.model_validate(line.body)
            origin = creating.Origin(creating.UNIFIED.api_format, line.custom_id)
            item = creating.prepare(principal, request, prices, settings, origin)
        except ValidationError as exc:
            _refuse(settings, line, "invalid_input", str(exc.errors()[0]["msg"]))
            continue
        except OrchestratorError as exc:
            _refuse(settings, line, exc.code, exc.message)
            continue
        item.row["batch_id"] = batch.batch_id
        prepared.append((line, item))
    outcomes = creating.write(session, [item for _, item in prepared], settings)
    created: list[tuple[str, str]] = []
    paused = False
    for (line, _), outcome in zip(prepared, outcomes, strict=True):
        if isinstance(outcome, creating.Created):
            line.job_id, line.body = outcome.job.job_id, None
            created.append((outcome.job.provider, str(outcome.job.job_id)))
        elif isinstance(outcome, OpenJobsLimitError):
            paused = True  # stays pending: it goes in when jobs finish
        elif isinstance(outcome, OrchestratorError):
            _refuse(settings, line, outcome.code, outcome.message)
    session.flush()
    return created, paused


def _refuse(settings: Settings, line: BatchLine, code: str, message: str) -> None:
    line.error_code, line.error_message, line.body = code, failure_message(settings, message), None


_CLAIM_DUE = text(
    """
    UPDATE batches SET next_expand_at = now() + make_interval(secs => :lease_s)
    WHERE batch_id IN (
        SELECT batch_id FROM batches
        WHERE next_expand_at <= now() AND state = 'in_progress'
        ORDER BY next_expand_at LIMIT :limit FOR UPDATE SKIP LOCKED
    )
    RETURNING batch_id
    """
)


def claim_due(session: Session, limit: int) -> list[str]:
    """Batches with lines to expand whose time has come, leased so one sweep sends each."""
    rows = session.execute(_CLAIM_DUE, {"lease_s": LEASE.total_seconds(), "limit": limit})
    return [str(row.batch_id) for row in rows]


_END_FINISHED = text(
    """
    UPDATE batches b
    SET state = CASE b.state WHEN 'cancelling' THEN 'cancelled' ELSE 'completed' END,
        finished_at = now()
    WHERE b.state IN ('in_progress','cancelling') AND b.expanded_at IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM jobs j
          WHERE j.batch_id = b.batch_id
            AND j.state IN ('queued','submitting','submitted','running','action_required','storing'))
    RETURNING b.batch_id
    """
)
_INSERT_EVENT = insert(OutboxEvent)


def end_finished(session: Session, settings: Settings) -> list[uuid.UUID]:
    """End every batch whose lines have all ended, and queue its webhook; the batches ended."""
    ended = [row.batch_id for row in session.execute(_END_FINISHED)]
    if not ended:
        return []
    for batch in session.execute(select(Batch).where(Batch.batch_id.in_(ended))).scalars():
        if batch.callback_url is None:
            continue
        event_id = new_uuid7()
        snapshot = batches.batch_view(session, batch).model_dump(mode="json")
        session.execute(
            _INSERT_EVENT.values(
                event_id=event_id,
                job_id=None,
                batch_id=batch.batch_id,
                account_id=batch.account_id,
                event_type=f"batch.{batch.state}",
                sequence=1,
                url=batch.callback_url,
                snapshot=snapshot,
                next_attempt_at=func.now() + DISPATCH_LEASE,  # sent once this commits (the sweep's if lost)
            )
        )
        session.info.setdefault(NEW_EVENTS, []).append(str(event_id))
    log.info("batches ended: %d", len(ended), extra={"batches": [str(b) for b in ended]})
    return ended
