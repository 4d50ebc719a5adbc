"""An account's request log, read newest first in pages, filtered by period, key, status and route."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.ids import uuid7_floor
from orchestrator.models import RequestLogEntry
from orchestrator.tenants.jobs import decode_cursor, encode_cursor

MAX_PAGE = 1000


@dataclass(frozen=True)
class RequestFilter:
    since: datetime | None = None
    until: datetime | None = None
    key_prefix: str | None = None
    status: int | None = None
    route: str | None = None


def list_requests(
    session: Session, account_id: uuid.UUID, where: RequestFilter, *, cursor: str | None, limit: int
) -> tuple[list[RequestLogEntry], str | None]:
    """A page of the account's requests, newest first, and the cursor of the next (None at the end).
    The period is read as a range of the entries' time-ordered ids, through the account's index."""
    query = select(RequestLogEntry).where(RequestLogEntry.account_id == account_id)
    if where.since is not None:
        query = query.where(RequestLogEntry.entry_id >= uuid7_floor(where.since.timestamp()))
    if where.until is not None:
        query = query.where(RequestLogEntry.entry_id < uuid7_floor(where.until.timestamp()))
    if where.key_prefix is not None:
        query = query.where(RequestLogEntry.key_prefix == where.key_prefix)
    if where.status is not None:
        query = query.where(RequestLogEntry.status == where.status)
    if where.route is not None:
        query = query.where(RequestLogEntry.route == where.route)
    if cursor is not None:
        query = query.where(RequestLogEntry.entry_id < decode_cursor(cursor))
    rows = session.execute(query.order_by(RequestLogEntry.entry_id.desc()).limit(limit + 1)).scalars().all()
    page = list(rows[:limit])
    return page, encode_cursor(page[-1].entry_id) if len(rows) > limit else None
