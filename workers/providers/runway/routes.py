"""Runway-compatible routes (`/runwayml/v1/...`), Runway's official API as CometAPI passes it through:
the same bodies, version header, task objects and `{"error": ...}` bodies, durable jobs behind them."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from schemas.jobs import JobCreate
from workers.providers.compat import (
    CompatAnswer,
    CompatError,
    CompatFamily,
    CompatRequest,
    CompatRoute,
    Handler,
    Jobs,
    JobView,
    invalid,
)
from workers.providers.runway.projection import task_object
from workers.providers.runway.schemas import RUNWAY_VERSION

# CometAPI documents gen3a_turbo as the model of an image_to_video body that names none.
DEFAULT_MODELS = {"image_to_video": "gen3a_turbo", "text_to_image": None}
# Runway answers every refused input with 400; it has no 422.
STATUSES = {422: 400}
INPUT_PREFIX = re.compile(r"\binput\.")
VERSION_HEADER = "X-Runway-Version"


def render_error(error: CompatError, request_id: str | None) -> CompatAnswer:
    """Runway's error body: `error` (human text), our stable `code`, zod-style `issues` for a field at
    fault; the request id is in the `X-Request-Id` header."""
    message = INPUT_PREFIX.sub("", error.message)
    body: dict[str, Any] = {"error": message, "code": error.code}
    if error.field:
        path = INPUT_PREFIX.sub("", error.field).split(".")
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


def job_request(operation: str, body: dict[str, Any]) -> JobCreate:
    """Runway's body as a unified job: `model` is the job's, the rest its input. `callback_url` is
    genrelay's extension (Runway has no webhooks): its deliveries carry the task object."""
    fields = dict(body)
    model = fields.pop("model", None) or DEFAULT_MODELS[operation]
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


def _creator(operation: str) -> Handler:
    def create(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
        check_version(request, required=True)

        def render(job: JobView) -> CompatAnswer:
            # The current SDK also reads the most the task may charge: our hold, in micro-credits.
            return CompatAnswer(200, {"id": job.job_id, "estimatedCost": {"credits": job.price}})

        return jobs.create(job_request(operation, request.body), render)

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
VERSIONED = (VERSION_HEADER,)

FAMILY = CompatFamily(
    name="runway",
    prefix="/runwayml/v1",
    routes=(
        CompatRoute(
            "POST",
            "/image_to_video",
            "Runway image-to-video (official format)",
            _creator("image_to_video"),
            headers=VERSIONED,
        ),
        CompatRoute(
            "POST",
            "/text_to_image",
            "Runway text-to-image (official format)",
            _creator("text_to_image"),
            headers=VERSIONED,
        ),
        CompatRoute("GET", "/tasks/{task_id}", "A Runway task", get_task, headers=VERSIONED),
        CompatRoute(
            "DELETE",
            "/tasks/{task_id}",
            "Cancel a Runway task",
            delete_task,
            status_code=204,
            description=DELETE_DESCRIPTION,
            headers=VERSIONED,
        ),
    ),
    project=task_object,
    render_error=render_error,
)
