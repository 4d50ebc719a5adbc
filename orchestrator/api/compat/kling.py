"""Kling-compatible routes (`/kling/v1/...`), as CometAPI passes Kling's API through: the same
bodies and envelopes, with genrelay's durable jobs behind them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import JSONResponse, Response

from orchestrator import models
from orchestrator.api import intake
from orchestrator.api.compat.common import CompatError, compat_route, load_job, output_urls
from orchestrator.api.context import AppContext, Caller, Context
from orchestrator.creating import Origin
from orchestrator.projections import kling
from schemas.jobs import JobCreate

FORMAT = "kling"
FAMILIES = {
    "videos/text2video": "text2video",
    "videos/image2video": "image2video",
    "images/generations": "image_generation",
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
    return kling.task_object(job, output_urls(context, outputs))


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
