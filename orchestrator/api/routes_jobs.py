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
from orchestrator.errors import JobNotFoundError
from orchestrator.outlook import UNKNOWN
from orchestrator.tenants import jobs
from orchestrator.tenants.job_outlooks import outlooks
from orchestrator.views import event_view, job_view
from schemas.errors import ErrorResponse
from schemas.jobs import Job, JobContinue, JobCreate, JobEventList, JobPage, JobStatus

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 402, 404, 409, 422)
}
router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=ERRORS)
Prefer = Annotated[str | None, Header(alias="Prefer", description=prefer.DESCRIPTION)]


def parse_job_id(job_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(job_id)
    except ValueError:
        raise JobNotFoundError(f"no job {job_id!r}: job ids look like 0193f7c2-...") from None


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


@router.post("", status_code=202, response_model=Job, summary="Create a job and hold its price")
async def create_job(
    body: JobCreate,
    context: Context,
    caller: Caller,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
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


@router.get("", response_model=JobPage, summary="List your jobs, newest first")
def list_jobs(
    context: Context,
    caller: Caller,
    status: JobStatus | None = None,
    provider: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=jobs.MAX_PAGE)] = 20,
) -> JobPage:
    with context.db.transaction() as session:
        page, next_cursor = jobs.list_jobs(
            session, caller.account_id, status=status, provider=provider, cursor=cursor, limit=limit
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


@router.get("/{job_id}", response_model=Job, summary="Get one job")
async def get_job(
    job_id: str, context: Context, caller: Caller, response: Response, preference: Prefer = None
) -> Job:
    parsed = parse_job_id(job_id)
    seconds = prefer.wait_seconds(preference)
    if seconds is None:
        return await run_in_threadpool(_view, context, caller.account_id, parsed)
    response.headers.update(prefer.applied(seconds))
    return await _view_once_settled(context, caller.account_id, parsed, seconds)


@router.post("/{job_id}/cancel", response_model=Job, summary="Cancel a job and release its hold")
def cancel_job(job_id: str, context: Context, caller: Caller) -> Job:
    parsed = parse_job_id(job_id)
    with context.db.transaction() as session:
        stop_upstream = jobs.cancel_job(session, caller.account_id, parsed, context.settings)
    view = _view(context, caller.account_id, parsed)
    if stop_upstream:
        context.dispatcher.send(messaging.cancel_task(view.provider), [job_id])
    return view


@router.post("/{job_id}/continue", response_model=Job, summary="Give a job in action_required its input")
def continue_job(job_id: str, body: JobContinue, context: Context, caller: Caller) -> Job:
    parsed = parse_job_id(job_id)
    with context.db.transaction() as session:
        jobs.continue_job(session, caller.account_id, parsed, body.input, context.settings)
    view = _view(context, caller.account_id, parsed)
    context.dispatcher.send(messaging.submit_task(view.provider), [job_id])
    return view


@router.get("/{job_id}/events", response_model=JobEventList, summary="The job's timeline")
def list_events(job_id: str, context: Context, caller: Caller) -> JobEventList:
    with context.db.transaction() as session:
        events = jobs.list_events(session, caller.account_id, parse_job_id(job_id))
    return JobEventList(data=[event_view(event) for event in events])
