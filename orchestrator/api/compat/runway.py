"""Runway-compatible routes (`/runwayml/v1/...`), Runway's official API as CometAPI passes it through:
the same bodies, version header, task objects and `{"error": ...}` bodies, durable jobs behind them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from orchestrator import jobs, messaging, models
from orchestrator.api import intake
from orchestrator.api.compat.common import CompatError, compat_route, load_job, output_urls
from orchestrator.api.context import AppContext, Caller, Context
from orchestrator.creating import Origin
from orchestrator.errors import InvalidRequestError, JobNotCancellableError
from orchestrator.projections import runway
from schemas.jobs import JobCreate, JobStatus
from workers.providers.runway.schemas import RUNWAY_VERSION

FORMAT = "runway"
# CometAPI documents gen3a_turbo as the model of an image_to_video body that names none.
DEFAULT_MODELS = {"image_to_video": "gen3a_turbo", "text_to_image": None}
# Runway answers every refused input with 400; it has no 422.
STATUSES = {422: 400}
INPUT_PREFIX = re.compile(r"\binput\.")


def render_error(request: Request, error: CompatError) -> Response:
    """Runway's error body: `error` (human text), our stable `code`, zod-style `issues` for a field at
    fault; the request id is in the `X-Request-Id` header."""
    message = INPUT_PREFIX.sub("", error.message)
    body: dict[str, Any] = {"error": message, "code": error.code}
    if error.field:
        path = INPUT_PREFIX.sub("", error.field).split(".")
        body["issues"] = [{"path": path, "message": message}]
    return JSONResponse(body, status_code=STATUSES.get(error.status, error.status))


router = APIRouter(prefix="/runwayml/v1", tags=["runway-compatible"], route_class=compat_route(render_error))

JsonBody = Annotated[dict[str, Any], Body()]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
RunwayVersion = Annotated[str | None, Header(alias="X-Runway-Version")]


def check_version(version: str | None, *, required: bool) -> None:
    """Runway refuses a create without the API version it speaks; we speak only the one it has."""
    if version is None and not required:
        return
    if version != RUNWAY_VERSION:
        problem = "is required" if version is None else f"must be {RUNWAY_VERSION}, not {version!r}"
        raise InvalidRequestError(f"X-Runway-Version header {problem}", field="X-Runway-Version")


def job_request(operation: str, body: dict[str, Any]) -> JobCreate:
    """Runway's body as a unified job: `model` is the job's, the rest its input. `callback_url` is
    genrelay's extension (Runway has no webhooks): its deliveries carry the task object."""
    fields = dict(body)
    model = fields.pop("model", None) or DEFAULT_MODELS[operation]
    callback_url = fields.pop("callback_url", None)
    if not isinstance(model, str):
        raise InvalidRequestError("model: Required", field="model")
    try:
        return JobCreate(
            provider="runway", operation=operation, model=model, input=fields, callback_url=callback_url
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise InvalidRequestError(f"{field}: {error['msg']}", field=field) from None


def _create(
    operation: str,
    body: dict[str, Any],
    context: AppContext,
    caller: Caller,
    version: str | None,
    idempotency_key: str | None,
) -> Response:
    check_version(version, required=True)

    def render(job: models.Job, outputs: Sequence[models.JobOutput]) -> tuple[int, dict[str, Any]]:
        # The current SDK also reads the most the task may charge: our hold, in micro-credits.
        return 200, {"id": str(job.job_id), "estimatedCost": {"credits": job.price}}

    origin = Origin(api_format=FORMAT)
    return intake.accept(
        context, caller, job_request(operation, body), render, idempotency_key=idempotency_key, origin=origin
    ).response()


@router.post("/image_to_video", summary="Runway image-to-video (official format)")
def image_to_video(
    body: JsonBody,
    context: Context,
    caller: Caller,
    version: RunwayVersion = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return _create("image_to_video", body, context, caller, version, idempotency_key)


@router.post("/text_to_image", summary="Runway text-to-image (official format)")
def text_to_image(
    body: JsonBody,
    context: Context,
    caller: Caller,
    version: RunwayVersion = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return _create("text_to_image", body, context, caller, version, idempotency_key)


@router.get("/tasks/{task_id}", summary="A Runway task")
def get_task(task_id: str, context: Context, caller: Caller, version: RunwayVersion = None) -> Response:
    check_version(version, required=False)
    job, outputs = load_job(context, caller.account_id, "runway", task_id)
    return JSONResponse(runway.task_object(job, output_urls(context, outputs)))


@router.delete("/tasks/{task_id}", status_code=204, summary="Cancel a Runway task")
def delete_task(task_id: str, context: Context, caller: Caller, version: RunwayVersion = None) -> Response:
    """Cancel an unfinished task and release its hold. Runway deletes a finished task; we keep ours
    (its files and its charge stand) and answer 204 all the same, so a client's cleanup succeeds."""
    check_version(version, required=False)
    job, _ = load_job(context, caller.account_id, "runway", task_id)
    try:
        with context.db.transaction() as session:
            stop_upstream = jobs.cancel_job(session, caller.account_id, job.job_id)
    except JobNotCancellableError:
        current, _ = load_job(context, caller.account_id, "runway", task_id)
        if not JobStatus(current.state).is_terminal:
            raise  # submitting or storing: 409, which the SDK retries
        stop_upstream = False
    if stop_upstream:
        context.dispatcher.send(messaging.cancel_task(job.provider), [str(job.job_id)])
    return Response(status_code=204)
