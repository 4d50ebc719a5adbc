"""The caller's own account: its balance, and its usage."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from orchestrator.api.context import Caller, Context
from orchestrator.api.errors import error_responses
from orchestrator.errors import AccountNotFoundError, InvalidRequestError
from orchestrator.models import Account
from orchestrator.tenants import usage
from orchestrator.tenants.accounts import ppm_to_multiplier
from schemas.account import AccountBalance
from schemas.usage import DAY_PATTERN, USAGE_COLUMNS, UsageGroup, UsageReport, UsageRow

router = APIRouter(tags=["account"])


@router.get(
    "/v1/account",
    response_model=AccountBalance,
    summary="Balance, held and available credits",
    responses=error_responses(401, 404, 429, described={404: "The key's account no longer exists."}),
)
def get_account(context: Context, caller: Caller) -> AccountBalance:
    with context.db.transaction() as session:
        account = session.get(Account, caller.account_id)
        if account is None:
            raise AccountNotFoundError("this API key's account no longer exists")
        balance = account.credits_added - account.captured
        return AccountBalance(
            account_id=str(account.account_id),
            name=account.name,
            balance=balance,
            held=account.held,
            available=balance - account.held,
            price_multiplier=ppm_to_multiplier(account.price_multiplier_ppm),
        )


DAY = {"pattern": DAY_PATTERN, "json_schema_extra": {"format": "date"}}


@router.get(
    "/v1/usage",
    response_model=UsageReport,
    summary="Your jobs and the credits they were charged, by day, provider, model or key",
    description="Jobs created from `from` to `to` (whole UTC days, both included; by default the "
    "current month), by how they stand now, with the credits captured for them: the rows add up to "
    "`total`, which equals the ledger's captures for those jobs. `Accept: text/csv` answers the rows and "
    "the total as CSV, with a header line.",
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **error_responses(401, 422, 429),
    },
)
def get_usage(
    request: Request,
    context: Context,
    caller: Caller,
    since: Annotated[str | None, Query(alias="from", **DAY)] = None,
    to: Annotated[str | None, Query(**DAY)] = None,
    group_by: UsageGroup = "day",
) -> Response | UsageReport:
    until = _day(to, "to") if to else datetime.now(UTC).date()
    first = _day(since, "from") if since else until.replace(day=1)
    with context.db.transaction() as session:
        rows, total = usage.usage(session, caller.account_id, first, until, group_by)
    if _wants_csv(request.headers.get("accept", "")):
        return Response(_csv([*rows, total]), media_type="text/csv; charset=utf-8")
    return UsageReport(
        since=first.isoformat(), until=until.isoformat(), group_by=group_by, data=rows, total=total
    )


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(
            f"{name}: {value!r} is not a day of the calendar (YYYY-MM-DD)", field=name
        ) from None


def _wants_csv(accept: str) -> bool:
    """CSV when `Accept` names it and not JSON (a client that takes both gets JSON)."""
    kinds = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return "text/csv" in kinds and "application/json" not in kinds


def _csv(rows: list[UsageRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(USAGE_COLUMNS)
    writer.writerows([getattr(row, column) for column in USAGE_COLUMNS] for row in rows)
    return out.getvalue()
