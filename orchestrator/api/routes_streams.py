"""The event streams under /v1/jobs: a job's events, and an account's, as Server-Sent Events shaped as
the webhooks. A stream holds a coroutine only: the process's `JobEnds` listener wakes it on each change
of what it watches, and each read borrows a pooled connection for one short transaction in the thread
pool. Errors found before the stream starts (an unknown job, a bad cursor) are the usual JSON errors."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from orchestrator.api.context import AppContext, Caller, Context
from orchestrator.api.errors import error_responses
from orchestrator.api.routes_jobs import parse_job_id
from orchestrator.tenants import streams
from orchestrator.tenants.streams import AccountFilter, Batch
from schemas.jobs import JobStatus

# A read that found events behind a transaction still running is repeated this soon, then twice as late
# each time up to the longest: that transaction's end announces nothing to this stream when it wrote none
# of its events, and a long one (a dump, a session idle in a transaction) must not make streams spin.
HELD_BACK_RETRY_S = (0.2, 5.0)
EXAMPLE = 'event: job.running\nid: 2\ndata: {"type":"job.running","sequence":2,"data":{...}}\n\n'
# One event of a stream (the schema applies to each event, as OpenAPI 3.2's `itemSchema` will say).
EVENT = {
    "type": "object",
    "required": ["event", "id", "data"],
    "properties": {
        "event": {"type": "string", "description": "The event type, e.g. `job.running`."},
        "id": {"type": "string", "description": "The cursor to resume after this event."},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "The event as a webhook carries it (`WebhookEvent`).",
        },
    },
}
STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `event:` the type, `id:` the cursor to resume from, `data:` "
        "the event as a webhook carries it (`WebhookEvent`); a `: keep-alive` comment when idle.",
        "content": {"text/event-stream": {"schema": EVENT, "example": EXAMPLE}},
    }
}
RESUME = "Resume after this event id (`Last-Event-ID`, which takes precedence, says the same); empty: "
# The event ids each stream gives (orchestrator.tenants.streams): a job's timeline sequence; an
# account's `<transaction>-<row>` pair.
JOB_EVENT_ID = r"^[0-9]{0,9}$"
ACCOUNT_EVENT_ID = r"^([0-9]{1,19}-[0-9]{1,19})?$"
ACCOUNT_RESUME = RESUME + "from now on."
JOB_RESUME = RESUME + "from the job's first event."
AccountResume = Annotated[
    str | None, Header(alias="Last-Event-ID", pattern=ACCOUNT_EVENT_ID, description=ACCOUNT_RESUME)
]
AccountResumeQuery = Annotated[str | None, Query(pattern=ACCOUNT_EVENT_ID, description=ACCOUNT_RESUME)]
JobResume = Annotated[str | None, Header(alias="Last-Event-ID", pattern=JOB_EVENT_ID, description=JOB_RESUME)]
JobResumeQuery = Annotated[str | None, Query(pattern=JOB_EVENT_ID, description=JOB_RESUME)]
router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


class Waiting(Protocol):
    @property
    def closed(self) -> bool: ...

    async def wait(self, timeout: float | None) -> None: ...


class _Unwatched:
    """Without a listener (the app not started through its lifespan), a stream re-reads at every
    keep-alive interval instead of being woken."""

    closed = False

    def __init__(self, interval: float) -> None:
        self.interval = interval

    async def wait(self, timeout: float | None) -> None:
        await asyncio.sleep(min(timeout or self.interval, self.interval))


@contextlib.contextmanager
def _watching(context: AppContext, key: str) -> Iterator[Waiting]:
    if context.job_ends is None:
        yield _Unwatched(context.settings.stream_keepalive_s)
        return
    with context.job_ends.watch(key) as watch:
        yield watch


async def _events(
    context: AppContext, key: str, first: Batch, read: Callable[[], Batch]
) -> AsyncIterator[ServerSentEvent]:
    """The first read's events, then each later read's as the stream is woken, until the job ends (or
    the client leaves: the response cancels this generator)."""
    batch = first
    for event in batch.events:
        yield ServerSentEvent(event.body, event=event.event_type, id=event.cursor)
    retry = HELD_BACK_RETRY_S[0]
    with _watching(context, key) as watch:
        while not batch.ended and not watch.closed:
            # Registered first, then read: a change committed before the registration is in this read,
            # one after it wakes the wait below.
            batch = await run_in_threadpool(read)
            for event in batch.events:
                yield ServerSentEvent(event.body, event=event.event_type, id=event.cursor)
            if not batch.ended:
                await watch.wait(retry if batch.held_back else None)
            retry = min(retry * 2, HELD_BACK_RETRY_S[1]) if batch.held_back else HELD_BACK_RETRY_S[0]


def _respond(context: AppContext, events: AsyncIterator[ServerSentEvent]) -> EventSourceResponse:
    return EventSourceResponse(
        events,
        ping=context.settings.stream_keepalive_s,
        ping_message_factory=lambda: ServerSentEvent(comment="keep-alive"),
    )


class _JobFeed:
    """A job's stream's reads, each after the last sequence read."""

    def __init__(self, context: AppContext, account_id: uuid.UUID, job_id: uuid.UUID, after: int) -> None:
        self.context, self.account_id, self.job_id, self.after = context, account_id, job_id, after

    def read(self) -> Batch:
        settings = self.context.settings
        with self.context.db.transaction() as session:
            batch, self.after = streams.job_events(
                session,
                self.account_id,
                self.job_id,
                self.after,
                self.context.storage,
                settings.download_url_ttl_s,
            )
        return batch


class _AccountFeed:
    """An account's stream's reads, each after the last cursor read."""

    def __init__(self, context: AppContext, account_id: uuid.UUID, only: AccountFilter) -> None:
        self.context, self.account_id, self.only = context, account_id, only
        self.after: tuple[int, int] | None = None

    def read(self) -> Batch:
        ttl = self.context.settings.download_url_ttl_s
        with self.context.db.transaction() as session:
            if self.after is None:
                self.after = streams.start_of_account_stream(session)
            batch, self.after = streams.account_events(
                session, self.account_id, self.after, self.only, self.context.storage, ttl
            )
        return batch


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={**STREAM, **error_responses(401, 422, 429)},
    summary="Your jobs' events as they happen (Server-Sent Events)",
)
async def stream_account(
    context: Context,
    caller: Caller,
    status: JobStatus | None = None,
    provider: Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9._-]+$")] = None,
    last_event_id: AccountResumeQuery = None,
    resume_from: AccountResume = None,
) -> EventSourceResponse:
    """Every event of your jobs from now on (or after `Last-Event-ID`), optionally only those of jobs
    entering `status` or of one `provider`. The stream stays open; order one job's events by `sequence`."""
    feed = _AccountFeed(context, caller.account_id, AccountFilter(status, provider))
    feed.after = streams.account_cursor(resume_from or last_event_id)
    first = await run_in_threadpool(feed.read)
    return _respond(context, _events(context, str(caller.account_id), first, feed.read))


@router.get(
    "/{job_id}/stream",
    response_class=EventSourceResponse,
    responses={**STREAM, **error_responses(401, 404, 422, 429)},
    summary="A job's events as they happen (Server-Sent Events)",
)
async def stream_job(
    job_id: str,
    context: Context,
    caller: Caller,
    last_event_id: JobResumeQuery = None,
    resume_from: JobResume = None,
) -> EventSourceResponse:
    """The job's events from its first (or after `Last-Event-ID`), then each as it happens; the stream
    ends after the job's terminal event."""
    parsed = parse_job_id(job_id)
    feed = _JobFeed(context, caller.account_id, parsed, streams.job_cursor(resume_from or last_event_id))
    first = await run_in_threadpool(feed.read)  # an unknown job is a 404 here, before the stream starts
    return _respond(context, _events(context, str(parsed), first, feed.read))
