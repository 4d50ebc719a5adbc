"""The request log's rows: written in batches, read newest first by account, and deleted once older
than the deployment keeps them, a bounded batch per statement."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from orchestrator.ids import uuid7_floor
from orchestrator.models import RequestLogEntry, table

PRUNE_BATCH = 5_000
_log = table(RequestLogEntry)
_INSERT = insert(_log)
_PRUNE = delete(_log).where(
    _log.c.entry_id.in_(
        select(_log.c.entry_id)
        .where(_log.c.entry_id < bindparam("before"))
        .order_by(_log.c.entry_id)
        .limit(bindparam("batch"))
        .scalar_subquery()
    )
)


def write(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(_INSERT, list(rows))


def prune(session: Session, keep_days: int, *, batch: int = PRUNE_BATCH) -> int:
    """Delete up to `batch` of the oldest entries older than `keep_days`; how many went. Entries are
    found by their time-ordered ids, so each batch reads only the oldest part of the primary key."""
    before = uuid7_floor(time.time() - keep_days * 86_400)
    result = session.execute(_PRUNE, {"before": before, "batch": batch})
    return int(result.rowcount)  # type: ignore[attr-defined]
