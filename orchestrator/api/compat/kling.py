"""Kling-compatible routes (`/kling/v1/...`), as CometAPI passes Kling's API through: the same
bodies and envelopes, with genrelay's durable jobs behind them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import JSONResponse, Response

from orchestrator import models
from orchestrator.api import intake
from orchestrator.api.compat.common import CompatError, compat_route, epoch_ms, load_job, output_urls
from orchestrator.api.context import AppContext, Caller, Context
from orchestrator.jobs import Origin
from schemas.jobs import JobCreate, JobStatus

FORMAT = "kling"
FAMILIES = {
    "videos/text2video": "text2video",
    "videos/image2video": "image2video",
    "images/generations": "image_generation",
}
STATUS = {
    JobStatus.QUEUED: "submitted",
    JobStatus.SUBMITTING: "submitted",
    JobStatus.SUBMITTED: "submitted",
    JobStatus.RUNNING: "processing",
    JobStatus.ACTION_REQUIRED: "processing",
    JobStatus.STORING: "processing",
    JobStatus.SUCCEEDED: "succeed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "failed",
    JobStatus.EXPIRED: "failed",
}
# Our error codes as Kling's body codes (providers.md §2.5).
CODES = {
    "unauthenticated": 1000,
    "account_disabled": 1100,
    "insufficient_credits": 1101,
    "job_not_found": 1203,
    "not_found": 1203,
    "idempotency_key_in_flight": 1303,
}
TASK_FIELDS = ("model_name", "model", "callback_url", "external_task_id")


def render_error(request: Request, error: CompatError) -> Response:
    code = CODES.get(error.code, 1201 if error.status in {400, 409, 422} else 5000)
    message = error.message if not error.field else f"{error.field.removeprefix('input.')}: {error.message}"
    body = {"code": code, "message": message, "request_id": request.scope.get("state", {}).get("request_id")}
    return JSONResponse(body, status_code=error.status)


router = APIRouter(prefix="/kling/v1", tags=["kling-compatible"], route_class=compat_route(render_error))


def task_object(context: AppContext, job: models.Job, outputs: Sequence[models.JobOutput]) -> dict[str, Any]:
    """The job as Kling's task object (ms timestamps, Kling status names, our result URLs)."""
    status = STATUS[JobStatus(job.state)]
    task: dict[str, Any] = {
        "task_id": str(job.job_id),
        "task_status": status,
        "task_status_msg": job.error_message or "" if status == "failed" else "",
        "task_info": {"external_task_id": job.client_reference or ""},
        "created_at": epoch_ms(job.created_at),
        "updated_at": epoch_ms(job.updated_at),
    }
    if status == "succeed":
        urls = output_urls(context, outputs)
        videos = [
            {"id": f"{job.job_id}-{label}", "url": url, "duration": str(job.input.get("duration", "5"))}
            for label, url in urls.items()
            if label.startswith("video")
        ]
        images = [
            {"index": n, "url": url}
            for n, (label, url) in enumerate(urls.items())
            if label.startswith("image")
        ]
        task["task_result"] = {"videos": videos, "images": images}
        task["final_unit_deduction"] = str(job.charged)
    return task


def envelope(data: dict[str, Any], request: Request) -> dict[str, Any]:
    return {
        "code": 0,
        "message": "SUCCEED",
        "request_id": request.scope.get("state", {}).get("request_id"),
        "data": data,
    }


def _create(
    family: str,
    body: dict[str, Any],
    request: Request,
    context: AppContext,
    caller: Caller,
    idempotency_key: str | None,
) -> Response:
    fields = dict(body)
    model = fields.pop("model_name", None) or fields.pop("model", None) or "kling-v1"
    callback_url = fields.pop("callback_url", None) or None
    reference = fields.pop("external_task_id", None) or None
    job_request = JobCreate(
        provider="kling",
        operation=FAMILIES[family],
        model=str(model),
        input=fields,
        callback_url=callback_url,
    )

    def render(job: models.Job, outputs: Sequence[models.JobOutput]) -> tuple[int, dict[str, Any]]:
        created = {
            key: value
            for key, value in task_object(context, job, outputs).items()
            if key != "task_status_msg"
        }
        return 200, envelope(created, request)

    origin = Origin(api_format=FORMAT, client_reference=str(reference) if reference else None)
    return intake.accept(
        context, caller, job_request, render, idempotency_key=idempotency_key, origin=origin
    ).response()


JsonBody = Annotated[dict[str, Any], Body()]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


@router.post("/videos/text2video", summary="Kling text-to-video (CometAPI-compatible)")
def text2video(
    body: JsonBody, request: Request, context: Context, caller: Caller, idempotency_key: IdempotencyKey = None
) -> Response:
    return _create("videos/text2video", body, request, context, caller, idempotency_key)


@router.post("/videos/image2video", summary="Kling image-to-video (CometAPI-compatible)")
def image2video(
    body: JsonBody, request: Request, context: Context, caller: Caller, idempotency_key: IdempotencyKey = None
) -> Response:
    return _create("videos/image2video", body, request, context, caller, idempotency_key)


@router.post("/images/generations", summary="Kling image generation (CometAPI-compatible)")
def image_generation(
    body: JsonBody, request: Request, context: Context, caller: Caller, idempotency_key: IdempotencyKey = None
) -> Response:
    return _create("images/generations", body, request, context, caller, idempotency_key)


@router.get("/{kind}/{action}/{task_id}", summary="A Kling task by task_id or external_task_id")
def get_task(
    kind: str, action: str, task_id: str, request: Request, context: Context, caller: Caller
) -> Response:
    job, outputs = load_job(context, caller.account_id, "kling", task_id)
    if FAMILIES.get(f"{kind}/{action}") != job.operation:
        return render_error(
            request, CompatError(404, "job_not_found", f"no {kind}/{action} task {task_id!r}")
        )
    return JSONResponse(envelope(task_object(context, job, outputs), request))
