"""The caller's account's request log: every authenticated request, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from orchestrator.api.context import Caller, Context
from orchestrator.api.errors import error_responses
from orchestrator.api.routes_jobs import Cursor
from orchestrator.api.routes_keys import NOT_MANAGING, require_managing
from orchestrator.errors import InvalidRequestError
from orchestrator.tenants import requests
from orchestrator.tenants.requests import RequestFilter
from schemas.requests import KEY_PREFIX_PATTERN, MOMENT_PATTERN, ROUTE_PATTERN, RequestEntry, RequestPage

router = APIRouter(tags=["account"])
MOMENT = {"pattern": MOMENT_PATTERN, "json_schema_extra": {"format": "date-time"}}


@router.get(
    "/v1/requests",
    response_model=RequestPage,
    summary="Your account's requests, newest first",
    description="Every authenticated request to this API with your account's keys (unified, "
    "provider-compatible): when, which key, from which address, the route's template, the status, the "
    "latency, the job it created or named, and the bytes in and out; never a body, a prompt or a key. "
    "Kept for the deployment's `GENRELAY_REQUEST_LOG_DAYS` (30 by default); written a moment after the "
    "request. `since` is included and `until` is not. Only a key that manages keys may read it.",
    responses=error_responses(401, 403, 422, 429, described=NOT_MANAGING),
)
def list_requests(
    context: Context,
    caller: Caller,
    since: Annotated[str | None, Query(**MOMENT)] = None,
    until: Annotated[str | None, Query(**MOMENT)] = None,
    key: Annotated[str | None, Query(pattern=KEY_PREFIX_PATTERN, description="A key's prefix.")] = None,
    status: Annotated[int | None, Query(ge=100, le=599)] = None,
    route: Annotated[
        str | None, Query(pattern=ROUTE_PATTERN, description="A route's template, e.g. `/v1/jobs`.")
    ] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=requests.MAX_PAGE)] = 100,
) -> RequestPage:
    require_managing(caller)
    where = RequestFilter(_moment(since, "since"), _moment(until, "until"), key, status, route)
    with context.db.transaction() as session:
        page, next_cursor = requests.list_requests(
            session, caller.account_id, where, cursor=cursor or None, limit=limit
        )
    return RequestPage(
        data=[
            RequestEntry(
                request_id=entry.request_id,
                at=entry.at,
                key_prefix=entry.key_prefix,
                client_ip=entry.client_ip,
                method=entry.method,
                route=entry.route,
                status=entry.status,
                latency_ms=entry.latency_ms,
                job_id=None if entry.job_id is None else str(entry.job_id),
                bytes_in=entry.bytes_in,
                bytes_out=entry.bytes_out,
            )
            for entry in page
        ],
        next_cursor=next_cursor,
    )


def _moment(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(f"{name}: {value!r} is not a moment (RFC 3339)", field=name) from None
