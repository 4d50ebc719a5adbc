"""Server-side batches under /v1/batches: a JSONL file in, a batch id at once; the lines become jobs
on the workers; the batch's counts, its cancel, and its results as JSONL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from orchestrator import egress, messaging
from orchestrator.api.context import AppContext, Caller, Context
from orchestrator.api.document import links
from orchestrator.api.errors import error_responses
from orchestrator.api.routes_jobs import Cursor, IdempotencyKey
from orchestrator.errors import (
    InsufficientCreditsError,
    InvalidRequestError,
    KeyBudgetExceededError,
    OrchestratorError,
)
from orchestrator.tenants import batches
from orchestrator.tenants.accounts import Principal
from orchestrator.views import job_error, output_views
from schemas.batches import MAX_LINES, Batch, BatchLineIn, BatchPage, BatchResult
from schemas.jobs import CALLBACK_URL_PATTERN, MAX_CALLBACK_URL_LENGTH, JobError, JobStatus

RETRYABLE = frozenset({InsufficientCreditsError.code, KeyBudgetExceededError.code})
router = APIRouter(prefix="/v1/batches", tags=["batches"])
JSONL_TYPES = ("application/jsonl", "application/x-ndjson", "application/json-lines", "text/plain")
LINE_EXAMPLE = {
    "custom_id": "boat",
    "body": {
        "provider": "kling",
        "operation": "text2video",
        "model": "kling-v1-6",
        "input": {"prompt": "a paper boat", "duration": 5},
    },
}
# A JSONL document is described by the array of its lines: item n is line n (as OpenAPI 3.2's
# `itemSchema` will say of sequential media types).
LINES = "One JSON object per line; this array's items are the lines, in order."
UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        media: {
            "schema": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/BatchLineIn"},
                "minItems": 1,
                "maxItems": MAX_LINES,
                "description": LINES,
            },
            "example": [LINE_EXAMPLE],
        }
        for media in ("application/jsonl", "application/x-ndjson")
    },
}
# Models the bodies above name by reference: they go into the document's components.
DOCUMENTED_MODELS = (BatchLineIn, BatchResult)
BATCH_LINKS = links(
    "batch_id",
    "/batch_id",
    ("GET", "/v1/batches/{batch_id}"),
    ("POST", "/v1/batches/{batch_id}/cancel"),
    ("GET", "/v1/batches/{batch_id}/results"),
)


class JSONLinesResponse(StreamingResponse):
    media_type = "application/jsonl"


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
        "account's credits are refused `insufficient_credits` (the key's monthly cap, "
        "`key_budget_exceeded`); the others go on. The file may also come "
        "as `multipart/form-data`, in the field `file` (and `callback_url` in a field of its own)."
    ),
    openapi_extra={"requestBody": UPLOAD_BODY},
    responses={
        202: {"description": "The batch, its lines not yet jobs.", "links": BATCH_LINKS},
        **error_responses(
            400,
            401,
            409,
            413,
            415,
            422,
            429,
            described={
                409: "A request with this `Idempotency-Key` is still running (`idempotency_key_in_flight`).",
                422: "A bad line, or a bad `callback_url`: no batch was made (`invalid_batch`, ...).",
            },
        ),
    },
)
async def create_batch(
    request: Request,
    context: Context,
    caller: Caller,
    callback_url: Annotated[
        str | None,
        Query(
            max_length=MAX_CALLBACK_URL_LENGTH,
            pattern=CALLBACK_URL_PATTERN,
            description="Where `batch.completed` or `batch.cancelled` is sent (signed).",
        ),
    ] = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    raw, callback = await _upload(request, callback_url)
    return await run_in_threadpool(_accept, context, caller, raw, callback, idempotency_key)


def _accept(
    context: AppContext, caller: Principal, raw: bytes, callback_url: str | None, key: str | None
) -> JSONResponse:
    if callback_url is not None:
        if not callback_url.startswith(("http://", "https://")):
            raise InvalidRequestError("callback_url must be an http:// or https:// URL", field="callback_url")
        egress.vet(callback_url, context.settings.webhook_allowlist)  # refuses internal targets
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


@router.get(
    "",
    response_model=BatchPage,
    summary="List your batches, newest first",
    responses=error_responses(401, 422, 429),
)
def list_batches(
    context: Context,
    caller: Caller,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=batches.MAX_PAGE)] = 20,
) -> BatchPage:
    with context.db.transaction() as session:
        page, next_cursor = batches.list_batches(session, caller.account_id, cursor=cursor, limit=limit)
        return BatchPage(data=[batches.batch_view(session, batch) for batch in page], next_cursor=next_cursor)


@router.get(
    "/{batch_id}",
    response_model=Batch,
    summary="Get one batch and its counts",
    responses=error_responses(401, 404, 429),
)
def get_batch(batch_id: str, context: Context, caller: Caller) -> Batch:
    with context.db.transaction() as session:
        return batches.batch_view(session, batches.find_batch(session, caller.account_id, batch_id))


@router.post(
    "/{batch_id}/cancel",
    response_model=Batch,
    summary="Cancel what of a batch has not started",
    responses=error_responses(
        401, 404, 409, 429, described={409: "The batch already ended (`batch_not_cancellable`)."}
    ),
)
def cancel_batch(batch_id: str, context: Context, caller: Caller) -> Batch:
    with context.db.transaction() as session:
        batch = batches.cancel_batch(session, context.settings, caller.account_id, batch_id)
        return batches.batch_view(session, batch)


@router.get(
    "/{batch_id}/results",
    summary="The batch's results, a JSONL line per line of its file",
    response_class=JSONLinesResponse,
    responses={
        200: {
            "description": "A line per line of the batch file. " + LINES,
            "content": {
                "application/jsonl": {
                    "schema": {"type": "array", "items": {"$ref": "#/components/schemas/BatchResult"}}
                }
            },
        },
        **error_responses(401, 404, 429),
    },
)
def batch_results(batch_id: str, context: Context, caller: Caller) -> JSONLinesResponse:
    with context.db.transaction() as session:
        found = batches.find_batch(session, caller.account_id, batch_id).batch_id
    return JSONLinesResponse(_result_lines(context, found))


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
            # A line that never became a job: only a shortfall (the account's credits, the key's monthly
            # cap) passes later, with a top-up or a new month.
            retryable = line.error_code in RETRYABLE
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
