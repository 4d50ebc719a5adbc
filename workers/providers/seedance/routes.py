"""Ark-compatible routes for Seedance, under CometAPI's `/volc/v3` and Ark's own `/api/v3`: the create body
(`model`, `content[]`, output parameters as fields or `--flags`, `callback_url`), the task object, and a
DELETE that cancels a queued task; genrelay's durable jobs behind them.

Errors come in Ark's envelope `{"error": {"code", "message", "type"}}` with Ark's HTTP statuses. Not
offered: the task list (genrelay's job seam lists no jobs by filter) and deleting a finished task's record
(a finished job is kept, with its files and its charge)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from schemas.jobs import JobCreate
from workers.providers.compat import (
    CREATE_ERRORS,
    CancelOutcome,
    CompatAnswer,
    CompatError,
    CompatFamily,
    CompatRequest,
    CompatRoute,
    Jobs,
    JobView,
    Lookup,
    invalid,
)
from workers.providers.seedance.content import BodyError, read_body
from workers.providers.seedance.document import ArkCreated, ArkErrorBody, ArkTask, create_body, inlined
from workers.providers.seedance.projection import task_object

PROVIDER = "seedance"
PREFIXES = ("/volc/v3", "/api/v3")
TASKS = "/contents/generations/tasks"
# Our error codes as Ark's (providers-more.md §2.5): (HTTP status, code); the rest by status.
CODES = {
    "unauthenticated": (401, "AuthenticationError"),
    "forbidden": (403, "AccessDenied"),
    "account_disabled": (403, "AccessDenied"),
    "insufficient_credits": (403, "AccountOverdueError"),
    "key_budget_exceeded": (403, "AccountOverdueError"),
    "provider_not_allowed": (403, "AccessDenied"),
    "rate_limited": (429, "RateLimitExceeded.EndpointRPMExceeded"),
    "job_not_found": (404, "ResourceNotFound"),
    "missing_parameter": (400, "MissingParameter"),
    # Ark's word for refusing to cancel a running or ended task is undocumented [M]: this one is ours.
    "job_not_cancellable": (409, "TaskNotCancellable"),
    # Nor has Ark idempotency keys: the same key's first request still running is a conflict too.
    "idempotency_key_in_flight": (409, "IdempotencyKeyInFlight"),
}
TYPES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict"}
TYPES |= {429: "TooManyRequests"}


def render_error(error: CompatError, request_id: str | None) -> CompatAnswer:
    status, code = CODES.get(error.code, (error.status, ""))
    if error.code == "model_not_available" and error.field == "model":
        status, code = 404, "InvalidEndpoint.NotFound"  # how Ark answers a model it does not serve
    if not code:
        status, code = (500, "InternalServiceError") if status >= 500 else (400, "InvalidParameter")
    message = error.message.replace("input.", "")
    field = (error.field or "").removeprefix("input.")
    message = f"{field}: {message}" if field and field not in message else message
    if request_id:
        message = f"{message} Request ID: {request_id}"  # as Ark ends its messages
    kind = TYPES.get(status, "InternalServerError" if status >= 500 else "BadRequest")
    return CompatAnswer(status, {"error": {"code": code, "message": message, "type": kind}})


def job_request(body: dict[str, Any]) -> JobCreate:
    """Ark's create body as a unified job: reference images make it reference2video, frames image2video."""
    try:
        model, operation, fields = read_body({k: v for k, v in body.items() if k != "callback_url"})
    except BodyError as problem:
        if problem.missing:
            raise CompatError(422, "missing_parameter", problem.message, problem.field) from None
        raise invalid(problem.message, problem.field) from None
    callback_url = body.get("callback_url")
    if callback_url is not None and not isinstance(callback_url, str):
        raise invalid("callback_url must be a string", "callback_url")
    return JobCreate(
        provider=PROVIDER,
        operation=operation,
        model=model,
        input=fields,
        callback_url=callback_url or None,
    )


def create(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    def render(job: JobView) -> CompatAnswer:
        return CompatAnswer(200, {"id": job.job_id})  # bare, as Ark's: no status in a create's answer

    return jobs.create(job_request(request.body), render)


def get_task(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    return CompatAnswer(200, task_object(_job(request, jobs)))


def cancel_task(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    """Cancel a queued task (its hold released); a running, cancelled or ended one is refused."""
    job = _job(request, jobs)
    shown = task_object(job)["status"]
    if shown == "running":
        raise _not_cancellable("the task is running; only a queued task can be cancelled")
    if shown != "queued" or jobs.cancel(job.job_id) is CancelOutcome.FINISHED:
        raise _not_cancellable(
            f"the task is {shown if shown != 'queued' else 'finished'}; its record is kept"
        )
    return CompatAnswer(200, {})


def _not_cancellable(message: str) -> CompatError:
    return CompatError(409, "job_not_cancellable", message)


def _job(request: CompatRequest, jobs: Jobs) -> JobView:
    return jobs.get(request.path_params["task_id"], lookup=(Lookup.JOB_ID,), field="id")


CREATE_DESCRIPTION = (
    "Ark's body: `model` (`doubao-seedance-…` or BytePlus's `seedance-…`), `content[]` (one text item, then "
    "`image_url` items: role `first_frame`/`last_frame` for image-to-video, `reference_image` (1-4) for "
    "reference-to-video), the output parameters as fields or `--flags` after the text (not both), and "
    "`callback_url`, which gets genrelay's signed webhooks carrying the task object. The `id` is the "
    "genrelay job id."
)


def _answer(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": inlined(model)}}}


def _created(path: str) -> dict[str, Any]:
    """The create's body, its answer, and links from its `id` to the task's query and cancel."""
    task = path.replace("~", "~0").replace("/", "~1") + "~1{task_id}"
    links = {
        name: {"operationRef": f"#/paths/{task}/{method}", "parameters": {"task_id": "$response.body#/id"}}
        for name, method in (("GetTask", "get"), ("CancelTask", "delete"))
    }
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": create_body()}}},
        "responses": {"200": {**_answer(ArkCreated, "The task's id."), "links": links}},
    }


def _routes(prefix: str) -> tuple[CompatRoute, ...]:
    path = f"{prefix}{TASKS}"
    cancelled = {
        "description": "Cancelled.",
        "content": {"application/json": {"schema": {"type": "object", "maxProperties": 0}}},
    }
    return (
        CompatRoute(
            "POST",
            path,
            "Seedance video generation (Ark-compatible)",
            create,
            description=CREATE_DESCRIPTION,
            # 404: a model this API does not offer, as Ark answers an endpoint it does not serve.
            errors=(*CREATE_ERRORS, 404),
            openapi_extra=_created(path),
        ),
        CompatRoute(
            "GET",
            f"{path}/{{task_id}}",
            "A Seedance task",
            get_task,
            openapi_extra={"responses": {"200": _answer(ArkTask, "The task.")}},
        ),
        CompatRoute(
            "DELETE",
            f"{path}/{{task_id}}",
            "Cancel a queued Seedance task",
            cancel_task,
            errors=(409,),
            openapi_extra={"responses": {"200": cancelled}},
        ),
    )


FAMILY = CompatFamily(
    name="seedance",
    prefix="",  # two prefixes, CometAPI's and Ark's, each route declared under both
    routes=tuple(route for prefix in PREFIXES for route in _routes(prefix)),
    project=task_object,
    render_error=render_error,
    error_schema=ArkErrorBody,
)
