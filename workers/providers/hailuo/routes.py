"""MiniMax-compatible routes (`/minimax/v1/...`, the prefix gateways of this family use): MiniMax's video
API for its own clients — the same bodies and `base_resp` envelope, with genrelay's durable jobs behind.

Errors answer as MiniMax's do: HTTP 200 with a non-zero `base_resp.status_code` (its clients call
`raise_for_status()`, then read the code), for every refusal the client can act on — 1004 not
authenticated, 1008 insufficient credits, 1002 rate limited (with `Retry-After`), 2013 invalid
parameters or no such task/file. Only our own failures keep their 5xx status, with code 1000."""

from __future__ import annotations

from typing import Any

from schemas.jobs import JobCreate, JobStatus
from workers.providers.compat import (
    CompatAnswer,
    CompatError,
    CompatFamily,
    CompatRequest,
    CompatRoute,
    Jobs,
    JobView,
    Lookup,
    invalid,
    not_found,
)
from workers.providers.hailuo.document import CREATED, FILE, TASK, HailuoErrorBody, answer, create_body
from workers.providers.hailuo.projection import base_resp, file_object, query_body, stored_video
from workers.providers.hailuo.schemas import canonical_model, model_problem

PROVIDER = "hailuo"
# Our error codes as MiniMax's base_resp codes (providers-more.md §1.5); the rest by status.
CODES = {
    "unauthenticated": 1004,
    "forbidden": 1004,
    "account_disabled": 1004,
    "insufficient_credits": 1008,
    "key_budget_exceeded": 1008,
    "provider_not_allowed": 1004,
    "rate_limited": 1002,
    "idempotency_key_in_flight": 1002,
}
INVALID_PARAMS, UNKNOWN_ERROR = 2013, 1000


def render_error(error: CompatError, request_id: str | None) -> CompatAnswer:
    code = CODES.get(error.code, UNKNOWN_ERROR if error.status >= 500 else INVALID_PARAMS)
    message, field = error.message.replace("input.", ""), (error.field or "").removeprefix("input.")
    message = f"{field}: {message}" if field and field not in message else message
    headers = {"Trace-Id": request_id} if request_id else {}
    status = error.status if error.status >= 500 else 200
    return CompatAnswer(status, {"base_resp": base_resp(code, message)}, headers)


def job_request(body: dict[str, Any]) -> JobCreate:
    """MiniMax's create body as a unified job: a first frame makes it image2video."""
    fields = dict(body)
    model, callback_url = fields.pop("model", None), fields.pop("callback_url", None) or None
    if not isinstance(model, str) or not model:
        raise invalid("model is required", "model")
    if "subject_reference" in fields:
        raise invalid("subject_reference (S2V-01) is not offered here", "subject_reference")
    model = canonical_model(model)
    operation = "image2video" if fields.get("first_frame_image") else "text2video"
    problem = model_problem(model, operation, fields)
    if problem is not None:
        raise invalid(problem)  # it names the field
    return JobCreate(
        provider=PROVIDER, operation=operation, model=model, input=fields, callback_url=callback_url
    )


def create(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    def render(job: JobView) -> CompatAnswer:
        return CompatAnswer(200, {"task_id": job.job_id, "base_resp": base_resp()})

    return jobs.create(job_request(request.body), render)


def query(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    task_id = request.query.get("task_id") or ""
    if not task_id:
        raise invalid("task_id is required", "task_id")
    return CompatAnswer(200, query_body(jobs.get(task_id, lookup=(Lookup.JOB_ID,), field="task_id")))


def retrieve(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    file_id = request.query.get("file_id") or ""
    if not file_id:
        raise invalid("file_id is required", "file_id")
    job = jobs.get(file_id, lookup=(Lookup.JOB_ID,), field="file_id")
    url = stored_video(job) if job.status == JobStatus.SUCCEEDED else None
    if url is None:
        raise not_found(f"no file {file_id!r}: its task has not succeeded", "file_id")
    return CompatAnswer(200, {"file": file_object(job, url), "base_resp": base_resp()})


CREATE_DESCRIPTION = (
    "MiniMax's body: `model` (required), `prompt`, `duration` (6 or 10), `resolution`, "
    "`first_frame_image` (makes it image-to-video), `last_frame_image` (MiniMax-Hailuo-02), "
    "`prompt_optimizer`, `fast_pretreatment`. `callback_url` gets genrelay's signed webhooks carrying "
    "the query-shaped body (no challenge to echo). The `task_id` is the genrelay job id."
)

QUERY, RETRIEVE = (
    "#/paths/~1minimax~1v1~1query~1video_generation/get",
    "#/paths/~1minimax~1v1~1files~1retrieve/get",
)
CREATE_DOCUMENT = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": create_body()}}},
    "responses": {
        "200": {
            **answer(CREATED, "The task's id"),
            "links": {
                "QueryTask": {"operationRef": QUERY, "parameters": {"task_id": "$response.body#/task_id"}}
            },
        }
    },
}
QUERY_DOCUMENT = {
    "responses": {
        "200": {
            **answer(TASK, "The task"),
            "links": {
                "RetrieveFile": {
                    "operationRef": RETRIEVE,
                    "parameters": {"file_id": "$response.body#/file_id"},
                }
            },
        }
    }
}

FAMILY = CompatFamily(
    name="hailuo",
    prefix="/minimax/v1",
    routes=(
        CompatRoute(
            "POST",
            "/video_generation",
            "MiniMax Hailuo video generation (MiniMax-compatible)",
            create,
            description=CREATE_DESCRIPTION,
            openapi_extra=CREATE_DOCUMENT,
        ),
        CompatRoute(
            "GET",
            "/query/video_generation",
            "A MiniMax video task by task_id",
            query,
            query=("task_id",),
            openapi_extra=QUERY_DOCUMENT,
        ),
        CompatRoute(
            "GET",
            "/files/retrieve",
            "The task's video: a download link to genrelay's stored copy",
            retrieve,
            query=("file_id",),
            openapi_extra={"responses": {"200": answer(FILE, "The file")}},
        ),
    ),
    project=query_body,
    render_error=render_error,
    error_schema=HailuoErrorBody,
)
