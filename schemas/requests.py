"""A tenant's request log: each authenticated request to the API, as `GET /v1/requests` shows it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

# RFC 3339 with its offset (`Z` or `+hh:mm`): a moment, never a local time.
MOMENT_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
KEY_PREFIX_PATTERN = r"^gr_[0-9a-f]{8}$"
ROUTE_PATTERN = r"^/[A-Za-z0-9_./{}:-]{0,299}$"


class RequestEntry(BaseModel):
    """One request: no body, prompt or key is kept, only the key's visible prefix."""

    request_id: str = Field(description="The `X-Request-Id` it was answered with.")
    at: datetime = Field(description="When it arrived.")
    key_prefix: str | None = Field(description="The API key's visible prefix.")
    client_ip: str | None = Field(
        description="The caller's address (behind the operator's trusted proxies, the client's)."
    )
    method: str
    route: str = Field(description="The route's template, e.g. `/v1/jobs/{job_id}`.")
    status: int
    latency_ms: int = Field(description="From its arrival to the end of its answer (a stream's too).")
    job_id: str | None = Field(description="The job it created or named, if any.")
    bytes_in: int
    bytes_out: int


class RequestPage(BaseModel):
    data: list[RequestEntry] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page.")
