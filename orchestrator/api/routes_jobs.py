"""The unified job routes under /v1/jobs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from orchestrator import messaging, models
from orchestrator.api import intake, prefer
from orchestrator.api.context import AppContext, Caller, Context
from orchestrator.api.document import links
from orchestrator.api.errors import error_responses
from orchestrator.api.request_log import note_job
from orchestrator.errors import JobNotFoundError
from orchestrator.outlook import UNKNOWN
from orchestrator.tenants import job_data, jobs
from orchestrator.tenants.job_outlooks import outlooks
from orchestrator.views import event_view, job_view
from schemas.jobs import (
    CURSOR_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    Job,
    JobContinue,
    JobCreate,
    JobEventList,
    JobPage,
    JobStatus,
)

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
Prefer = Annotated[str | None, Header(alias="Prefer", description=prefer.DESCRIPTION)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Send the same key again to get the first answer instead of a second job.",
    ),
]
Cursor = Annotated[
    str | None,
    Query(
        pattern=CURSOR_PATTERN,
        description="The `next_cursor` of the page before; absent or empty: the first page.",
    ),
]
# Where a job's id, as a create answers it, goes next.
JOB_LINKS = links(
    "job_id",
    "/job_id",
    ("GET", "/v1/jobs/{job_id}"),
    ("POST", "/v1/jobs/{job_id}/cancel"),
    ("POST", "/v1/jobs/{job_id}/continue"),
    ("GET", "/v1/jobs/{job_id}/events"),
    ("GET", "/v1/jobs/{job_id}/deliveries"),
    ("DELETE", "/v1/jobs/{job_id}/data"),
    ("GET", "/v1/jobs/{job_id}/stream"),
)


def parse_job_id(job_id: str) -> uuid.UUID:
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        raise JobNotFoundError(f"no job {job_id!r}: job ids look like 0193f7c2-...") from None
    note_job(parsed)
    return parsed


def _view(context: AppContext, account_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    with context.db.transaction() as session:
        job, outputs = jobs.get_job(session, account_id, job_id)
        seen = outlooks(session, context.settings, [job]).get(job.job_id, UNKNOWN)
    return job_view(job, outputs, context.storage, context.settings.download_url_ttl_s, seen)


async def _view_once_settled(
    context: AppContext, account_id: uuid.UUID, job_id: uuid.UUID, seconds: int
) -> Job:
    """The job once it ends or waits for input, or as it stands after `seconds`."""

    def status() -> JobStatus:
        with context.db.transaction() as session:
            return jobs.job_status(session, account_id, job_id)

    await prefer.until_settled(context, str(job_id), seconds, status)
    return await run_in_threadpool(_view, context, account_id, job_id)


@router.post(
    "",
    status_code=202,
    response_model=Job,
    summary="Create a job and hold its price",
    responses={
        202: {"description": "The job, queued (or as it stands after `Prefer: wait`).", "links": JOB_LINKS},
        **error_responses(
            400,
            401,
            402,
            403,
            404,
            409,
            413,
            422,
            429,
            described={
                403: "The account is disabled (`account_disabled`).",
                404: "A follow-up's `input.parent_job_id` names no job of this account "
                "(`parent_job_not_found`).",
                409: "A request with this `Idempotency-Key` is still running (`idempotency_key_in_flight`), "
                "or a follow-up's parent job has not succeeded (`parent_job_not_succeeded`).",
            },
        ),
    },
)
async def create_job(
    body: JobCreate,
    context: Context,
    caller: Caller,
    idempotency_key: IdempotencyKey = None,
    preference: Prefer = None,
) -> JSONResponse:
    def render(job: models.Job, outputs: Sequence[models.JobOutput]) -> tuple[int, dict[str, Any]]:
        view = job_view(job, outputs, context.storage, context.settings.download_url_ttl_s)
        return 202, view.model_dump(mode="json")

    accepted = await intake.accept_async(context, caller, body, render, idempotency_key=idempotency_key)
    seconds = prefer.wait_seconds(preference)
    if seconds is None:
        return accepted.response()
    # A replayed answer waits too, and then shows the job as it stands rather than as it was created.
    job_id = uuid.UUID(str(accepted.body["job_id"]))
    view = await _view_once_settled(context, caller.account_id, job_id, seconds)
    return replace(accepted, body=view.model_dump(mode="json")).response(prefer.applied(seconds))


@router.get(
    "",
    response_model=JobPage,
    summary="List your jobs, newest first",
    responses=error_responses(401, 422, 429),
)
def list_jobs(
    context: Context,
    caller: Caller,
    status: JobStatus | None = None,
    provider: Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9._-]+$")] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=jobs.MAX_PAGE)] = 20,
) -> JobPage:
    with context.db.transaction() as session:
        page, next_cursor = jobs.list_jobs(
            session, caller.account_id, status=status, provider=provider, cursor=cursor or None, limit=limit
        )
        seen = outlooks(session, context.settings, [job for job, _ in page])
    ttl = context.settings.download_url_ttl_s
    return JobPage(
        data=[
            job_view(job, outputs, context.storage, ttl, seen.get(job.job_id, UNKNOWN))
            for job, outputs in page
        ],
        next_cursor=next_cursor,
    )


@router.get("/{job_id}", response_model=Job, summary="Get one job", responses=error_responses(401, 404, 429))
async def get_job(
    job_id: str, context: Context, caller: Caller, response: Response, preference: Prefer = None
) -> Job:
    parsed = parse_job_id(job_id)
    seconds = prefer.wait_seconds(preference)
    if seconds is None:
        return await run_in_threadpool(_view, context, caller.account_id, parsed)
    response.headers.update(prefer.applied(seconds))
    return await _view_once_settled(context, caller.account_id, parsed, seconds)


@router.post(
    "/{job_id}/cancel",
    response_model=Job,
    summary="Cancel a job and release its hold",
    responses=error_responses(
        401, 404, 409, 429, described={409: "The job cannot be cancelled now (`job_not_cancellable`)."}
    ),
)
def cancel_job(job_id: str, context: Context, caller: Caller) -> Job:
    parsed = parse_job_id(job_id)
    with context.db.transaction() as session:
        stop_upstream = jobs.cancel_job(session, caller.account_id, parsed, context.settings)
    view = _view(context, caller.account_id, parsed)
    if stop_upstream:
        context.dispatcher.send(messaging.cancel_task(view.provider), [job_id])
    return view


@router.delete(
    "/{job_id}/data",
    response_model=Job,
    summary="Delete a finished job's outputs, input, metadata and result",
    description="Its stored files are deleted from storage, and its input, metadata and provider "
    "result cleared everywhere genrelay keeps them (the job's timeline and webhook snapshots, its "
    "idempotency record: a retry under that key is a new request from now on). The job itself, its "
    "timeline of states and its charge stay: it shows `data_deleted_at`. Deleting again changes "
    "nothing.",
    responses=error_responses(
        401,
        404,
        409,
        429,
        described={409: "The job has not finished (`job_not_finished`): cancel it, or wait for its end."},
    ),
)
def delete_job_data(job_id: str, context: Context, caller: Caller) -> Job:
    parsed = parse_job_id(job_id)
    with context.db.transaction() as session:
        job_data.delete_job_data(session, context.storage, caller.account_id, parsed)
    return _view(context, caller.account_id, parsed)


@router.post(
    "/{job_id}/continue",
    response_model=Job,
    summary="Give a job in action_required its input",
    responses=error_responses(
        400,
        401,
        404,
        409,
        413,
        422,
        429,
        described={409: "The job does not wait for input (`job_not_continuable`)."},
    ),
)
def continue_job(job_id: str, body: JobContinue, context: Context, caller: Caller) -> Job:
    parsed = parse_job_id(job_id)
    with context.db.transaction() as session:
        jobs.continue_job(session, caller.account_id, parsed, body.input, context.settings)
    view = _view(context, caller.account_id, parsed)
    context.dispatcher.send(messaging.submit_task(view.provider), [job_id])
    return view


@router.get(
    "/{job_id}/events",
    response_model=JobEventList,
    summary="The job's timeline",
    responses=error_responses(401, 404, 429),
)
def list_events(job_id: str, context: Context, caller: Caller) -> JobEventList:
    with context.db.transaction() as session:
        events = jobs.list_events(session, caller.account_id, parse_job_id(job_id))
    return JobEventList(data=[event_view(event) for event in events])
