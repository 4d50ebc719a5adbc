"""Server-side batches under /v1/batches: a JSONL file in, a batch id at once; the lines become jobs
on the workers; the batch's counts, its cancel, and its results as JSONL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from orchestrator import egress, messaging
from orchestrator.api.context import AppContext, Caller, Context
from orchestrator.errors import InsufficientCreditsError, InvalidRequestError, OrchestratorError
from orchestrator.tenants import batches
from orchestrator.tenants.accounts import Principal
from orchestrator.views import job_error, output_views
from schemas.batches import MAX_LINES, Batch, BatchPage, BatchResult
from schemas.errors import ErrorResponse
from schemas.jobs import JobError, JobStatus

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 409, 413, 415, 422, 429)
}
router = APIRouter(prefix="/v1/batches", tags=["batches"], responses=ERRORS)
JSONL_TYPES = ("application/jsonl", "application/x-ndjson", "application/json-lines", "text/plain")
LINE_EXAMPLE = (
    '{"custom_id": "boat", "body": {"provider": "kling", "operation": "text2video", '
    '"model": "kling-v1-6", "input": {"prompt": "a paper boat", "duration": 5}}}\n'
)
UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        **{
            media: {"schema": {"type": "string", "description": "One line per job"}, "example": LINE_EXAMPLE}
            for media in ("application/jsonl", "application/x-ndjson")
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": "The JSONL file"},
                    "callback_url": {"type": "string", "description": "Where the batch's webhook goes"},
                },
            }
        },
    },
}


class UnsupportedMediaTypeError(OrchestratorError):
    code = "unsupported_media_type"
    http_status = 415


async def _upload(request: Request, callback_url: str | None) -> tuple[bytes, str | None]:
    """The file's bytes and the batch's callback URL, from a JSONL body or a multipart upload."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        async with request.form(max_files=1, max_fields=4) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidRequestError("send the JSONL file in the form field `file`", field="file")
            field = form.get("callback_url")
            return await upload.read(), field if isinstance(field, str) and field else callback_url
    if media in JSONL_TYPES:
        return await request.body(), callback_url
    raise UnsupportedMediaTypeError(
        f"send the batch as JSONL ({', '.join(JSONL_TYPES[:2])}) or as multipart/form-data with a `file`"
    )


@router.post(
    "",
    status_code=202,
    response_model=Batch,
    summary="Create a batch of jobs from a JSONL file",
    description=(
        f'Each line is `{{"custom_id": ..., "body": <a POST /v1/jobs body>}}`, up to {MAX_LINES:,} '
        "lines. The whole file is checked first: a bad line makes no batch (422 `invalid_batch`, "
        "naming the lines). The answer comes at once; the lines become jobs on the workers, in order, "
        "each with its own hold, as the account's open-jobs limit allows. Lines that do not fit the "
        "account's credits are refused `insufficient_credits`; the others go on."
    ),
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def create_batch(
    request: Request,
    context: Context,
    caller: Caller,
    callback_url: Annotated[
        str | None,
        Query(max_length=2048, description="Where `batch.completed` or `batch.cancelled` is sent (signed)."),
    ] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    raw, callback = await _upload(request, callback_url)
    return await run_in_threadpool(_accept, context, caller, raw, callback, idempotency_key)


def _accept(
    context: AppContext, caller: Principal, raw: bytes, callback_url: str | None, key: str | None
) -> JSONResponse:
    if callback_url is not None:
        if not callback_url.startswith(("http://", "https://")):
            raise InvalidRequestError("callback_url must be an http:// or https:// URL", field="callback_url")
        egress.resolve(callback_url, context.settings.webhook_allowlist)  # refuses internal targets
    lines = batches.parse_lines(raw, context.prices, caller)
    fingerprint = batches.fingerprint_of(raw, callback_url) if key is not None else None
    with context.db.transaction() as session:
        accepted = batches.create_batch(
            session, caller, lines, callback_url=callback_url, idempotency_key=key, fingerprint=fingerprint
        )
        view = batches.batch_view(session, accepted.batch)
    if not accepted.replayed:  # if lost, the sweep dispatches it: the batch is due at once
        context.dispatcher.send(messaging.EXPAND_BATCHES_TASK, [view.batch_id])
    headers = {"Idempotent-Replayed": "true"} if accepted.replayed else None
    return JSONResponse(view.model_dump(mode="json"), status_code=202, headers=headers)


@router.get("", response_model=BatchPage, summary="List your batches, newest first")
def list_batches(
    context: Context,
    caller: Caller,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=batches.MAX_PAGE)] = 20,
) -> BatchPage:
    with context.db.transaction() as session:
        page, next_cursor = batches.list_batches(session, caller.account_id, cursor=cursor, limit=limit)
        return BatchPage(data=[batches.batch_view(session, batch) for batch in page], next_cursor=next_cursor)


@router.get("/{batch_id}", response_model=Batch, summary="Get one batch and its counts")
def get_batch(batch_id: str, context: Context, caller: Caller) -> Batch:
    with context.db.transaction() as session:
        return batches.batch_view(session, batches.find_batch(session, caller.account_id, batch_id))


@router.post("/{batch_id}/cancel", response_model=Batch, summary="Cancel what of a batch has not started")
def cancel_batch(batch_id: str, context: Context, caller: Caller) -> Batch:
    with context.db.transaction() as session:
        batch = batches.cancel_batch(session, context.settings, caller.account_id, batch_id)
        return batches.batch_view(session, batch)


@router.get(
    "/{batch_id}/results",
    summary="The batch's results, a JSONL line per line of its file",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/jsonl": {"schema": BatchResult.model_json_schema()}}}},
)
def batch_results(batch_id: str, context: Context, caller: Caller) -> StreamingResponse:
    with context.db.transaction() as session:
        found = batches.find_batch(session, caller.account_id, batch_id).batch_id
    return StreamingResponse(_result_lines(context, found), media_type="application/jsonl")


def _result_lines(context: AppContext, batch_id: uuid.UUID) -> Iterator[bytes]:
    def sessions() -> Iterator[Session]:
        while True:  # a page per short transaction: a slow download holds no connection between pages
            with context.db.transaction() as session:
                yield session

    for page in batches.result_pages(sessions(), batch_id):
        yield "".join(_result(context, row).model_dump_json() + "\n" for row in page).encode()


def _result(context: AppContext, row: batches.ResultRow) -> BatchResult:
    line, job = row.line, row.job
    if job is None:
        refused = line.error_code is not None
        error = None
        if line.error_code is not None:
            # A line that never became a job: only a shortfall of credits passes with a top-up.
            retryable = line.error_code == InsufficientCreditsError.code
            error = JobError(code=line.error_code, message=line.error_message or "", retryable=retryable)
        return BatchResult(
            line=line.line_no,
            custom_id=line.custom_id,
            job_id=None,
            status="refused" if refused else "pending",
            outputs=[],
            charged=0,
            error=error,
        )
    succeeded = job.state == JobStatus.SUCCEEDED
    ttl = context.settings.download_url_ttl_s
    return BatchResult(
        line=line.line_no,
        custom_id=line.custom_id,
        job_id=str(job.job_id),
        status=JobStatus(job.state).value,
        outputs=output_views(row.outputs, context.storage, ttl) if succeeded else [],
        charged=job.charged,
        error=job_error(job),
    )
