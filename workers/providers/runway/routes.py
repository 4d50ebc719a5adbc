"""Runway-compatible routes (`/runwayml/v1/...`), Runway's official API as CometAPI passes it through:
the same bodies, version header, task objects and `{"error": ...}` bodies, durable jobs behind them.
Two extensions of ours: `callback_url` (Runway has no webhooks) and, on the operations that read a
video, `parentTaskId`: one of the caller's earlier Runway tasks, whose output is used instead of a URI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schemas.jobs import JobCreate
from workers.providers.compat import (
    CREATE_ERRORS,
    CompatAnswer,
    CompatError,
    CompatFamily,
    CompatRequest,
    CompatRoute,
    Handler,
    Jobs,
    JobView,
    Lookup,
    invalid,
)
from workers.providers.runway import document
from workers.providers.runway.followup import PARENT_OPERATIONS
from workers.providers.runway.projection import task_object
from workers.providers.runway.schemas import RUNWAY_VERSION
from workers.providers.runway.schemas_video import PARENT_FIELD

# CometAPI documents gen3a_turbo as the model of an image_to_video body that names none; Runway
# itself requires a model, and so do we for every other operation.
DEFAULT_MODELS = {"image_to_video": "gen3a_turbo"}
PARENT_TASK = document.PARENT_TASK
# Runway answers every refused input with 400; it has no 422.
STATUSES = {422: 400}
INPUT_PREFIX = re.compile(r"\binput\.")
VERSION_HEADER = document.VERSION_HEADER
PRICED = document.priced_models(Path(__file__).with_name("prices.toml"))


def render_error(error: CompatError, request_id: str | None) -> CompatAnswer:
    """Runway's error body: `error` (human text), our stable `code`, zod-style `issues` for a field at
    fault; the request id is in the `X-Request-Id` header."""
    message = INPUT_PREFIX.sub("", error.message).replace(PARENT_FIELD, PARENT_TASK)
    body: dict[str, Any] = {"error": message, "code": error.code}
    if error.field:
        path = INPUT_PREFIX.sub("", error.field).replace(PARENT_FIELD, PARENT_TASK).split(".")
        body["issues"] = [{"path": path, "message": message}]
    return CompatAnswer(STATUSES.get(error.status, error.status), body)


def check_version(request: CompatRequest, *, required: bool) -> None:
    """Runway refuses a create without the API version it speaks; we speak only the one it has."""
    version = request.headers.get(VERSION_HEADER.lower())
    if version is None and not required:
        return
    if version != RUNWAY_VERSION:
        problem = "is required" if version is None else f"must be {RUNWAY_VERSION}, not {version!r}"
        raise invalid(f"{VERSION_HEADER} header {problem}", field=VERSION_HEADER)


def job_request(operation: str, body: dict[str, Any], jobs: Jobs) -> JobCreate:
    """Runway's body as a unified job: `model` is the job's, the rest its input. `callback_url` is
    genrelay's extension (Runway has no webhooks): its deliveries carry the task object."""
    fields = dict(body)
    if PARENT_TASK in fields:
        fields[PARENT_FIELD] = parent_job(operation, fields.pop(PARENT_TASK), jobs)
    model = fields.pop("model", None)
    if model is None:
        model = DEFAULT_MODELS.get(operation)
    callback_url = fields.pop("callback_url", None)
    if not isinstance(model, str):
        raise invalid("model: Required", field="model")
    try:
        return JobCreate(
            provider="runway", operation=operation, model=model, input=fields, callback_url=callback_url
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise invalid(f"{field}: {error['msg']}", field=field) from None


def parent_job(operation: str, task_id: Any, jobs: Jobs) -> str:
    """The caller's own task that `parentTaskId` names (our job id: a Runway task id of these routes)."""
    if operation not in PARENT_OPERATIONS:
        raise invalid(f"{PARENT_TASK}: {operation} takes no earlier task", field=PARENT_TASK)
    if not isinstance(task_id, str) or not task_id:
        raise invalid(f"{PARENT_TASK}: must be the id of one of your tasks", field=PARENT_TASK)
    return jobs.get(task_id, lookup=(Lookup.JOB_ID,), field=PARENT_TASK).job_id


def _creator(operation: str) -> Handler:
    def create(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
        check_version(request, required=True)

        def render(job: JobView) -> CompatAnswer:
            # The current SDK also reads the most the task may charge: our hold, in micro-credits.
            return CompatAnswer(200, {"id": job.job_id, "estimatedCost": {"credits": job.price}})

        return jobs.create(job_request(operation, request.body, jobs), render)

    return create


def get_task(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    check_version(request, required=False)
    return CompatAnswer(200, task_object(jobs.get(request.path_params["task_id"])))


def delete_task(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    check_version(request, required=False)
    # A task that had already ended is kept, and answered 204 all the same (see DELETE_DESCRIPTION).
    jobs.cancel(request.path_params["task_id"])
    return CompatAnswer(204)


DELETE_DESCRIPTION = (
    "Cancel an unfinished task and release its hold. Runway deletes a finished task; we keep ours\n"
    "(its files and its charge stand) and answer 204 all the same, so a client's cleanup succeeds."
)
VIDEO_ROUTES = {
    "text_to_video": "Runway text-to-video: Veo 3 / 3.1 (official format)",
    "video_to_video": "Runway video-to-video: Aleph (official format; parentTaskId for a task's video)",
    "video_upscale": "Runway video upscale (official format; parentTaskId for a task's video)",
    "character_performance": "Runway Act-Two (official format; parentTaskId for a task's output)",
}
CREATES = {
    "image_to_video": "Runway image-to-video (official format)",
    "text_to_image": "Runway text-to-image (official format)",
    **VIDEO_ROUTES,
}


def create_route(operation: str, summary: str) -> CompatRoute:
    """A create; a follow-up may also refuse a `parentTaskId` the account has no task of (404)."""
    errors = (*CREATE_ERRORS, 404) if operation in PARENT_OPERATIONS else CREATE_ERRORS
    return CompatRoute(
        "POST",
        f"/{operation}",
        summary,
        _creator(operation),
        errors=errors,
        openapi_extra=document.create_extra(operation, PRICED[operation]),
    )


FAMILY = CompatFamily(
    name="runway",
    prefix="/runwayml/v1",
    routes=(
        *(create_route(operation, summary) for operation, summary in CREATES.items()),
        # The version header is read by the handlers (and declared in `openapi_extra`): a wrong one is 400.
        CompatRoute(
            "GET",
            "/tasks/{task_id}",
            "A Runway task",
            get_task,
            errors=(422,),
            openapi_extra=document.task_extra(deletes=False),
        ),
        CompatRoute(
            "DELETE",
            "/tasks/{task_id}",
            "Cancel a Runway task",
            delete_task,
            status_code=204,
            description=DELETE_DESCRIPTION,
            errors=(409, 422),
            openapi_extra=document.task_extra(deletes=True),
        ),
    ),
    project=task_object,
    render_error=render_error,
    error_schema=document.RunwayError,
)
