"""A tenant's usage over a period of days: its jobs, grouped, with the credits the ledger captured for
them. Jobs are picked by creation day through their ids (UUIDv7: time-ordered, the account's index)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from orchestrator.ids import uuid7_floor
from orchestrator.models import NON_TERMINAL_SQL
from schemas.usage import USAGE_COLUMNS, UsageGroup, UsageRow

# What each grouping reads; fixed texts only, never built from the request.
_GROUP_SQL: dict[UsageGroup, str] = {
    "day": "to_char(j.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    "provider": "j.provider",
    "model": "j.provider || '/' || j.model",
    "key": "coalesce(k.prefix, '')",
}
_COUNTS = f"""
    count(*) AS jobs,
    count(*) FILTER (WHERE j.state = 'succeeded') AS succeeded,
    count(*) FILTER (WHERE j.state = 'failed') AS failed,
    count(*) FILTER (WHERE j.state = 'cancelled') AS cancelled,
    count(*) FILTER (WHERE j.state = 'expired') AS expired,
    count(*) FILTER (WHERE j.{NON_TERMINAL_SQL}) AS unfinished,
    coalesce(sum(e.amount), 0) AS captured
"""
_FROM = """
    FROM jobs j
    LEFT JOIN ledger_entries e ON e.job_id = j.job_id AND e.kind = 'capture'
    LEFT JOIN api_keys k ON k.key_id = j.api_key_id
    WHERE j.account_id = :account AND j.job_id >= :first AND j.job_id < :after
"""


_AFTER_ALL = uuid.UUID(int=(1 << 128) - 1)


def _first_id_of(day: date) -> uuid.UUID:
    """The smallest job id made on `day` or later (no job is older than 1970, UUIDv7's epoch)."""
    return uuid7_floor(max(0.0, datetime.combine(day, time(), tzinfo=UTC).timestamp()))


def usage(
    session: Session, account_id: uuid.UUID, since: date, until: date, group_by: UsageGroup
) -> tuple[list[UsageRow], UsageRow]:
    """The rows (in the order of their group) and their total, for the jobs created from `since` to
    `until` (whole UTC days, both included); an empty period has no rows and a total of zero."""
    window = {
        "account": account_id,
        "first": _first_id_of(since),
        "after": _first_id_of(until + timedelta(days=1)) if until < date.max else _AFTER_ALL,
    }
    group = _GROUP_SQL[group_by]
    rows = session.execute(
        text(f"SELECT {group} AS grp, {_COUNTS} {_FROM} GROUP BY grp ORDER BY grp"),
        window,
    ).all()
    found = [_row(row) for row in rows]
    counts = {name: sum(getattr(row, name) for row in found) for name in USAGE_COLUMNS if name != "group"}
    return found, UsageRow(group="total", **counts)


def _row(row: Row[Any]) -> UsageRow:
    counts = {name: int(row._mapping[name]) for name in USAGE_COLUMNS if name != "group"}
    return UsageRow(group=row.grp, **counts)
