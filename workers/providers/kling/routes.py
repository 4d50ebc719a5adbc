"""Kling-compatible routes (`/kling/v1/...`), as CometAPI passes Kling's API through: the same bodies
and envelopes, with genrelay's durable jobs behind them."""

from __future__ import annotations

from typing import Any

from schemas.jobs import JobCreate
from workers.providers.compat import (
    CompatAnswer,
    CompatError,
    CompatFamily,
    CompatRequest,
    CompatRoute,
    Jobs,
    JobView,
    not_found,
)
from workers.providers.kling.projection import task_object

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


def render_error(error: CompatError, request_id: str | None) -> CompatAnswer:
    code = CODES.get(error.code, 1201 if error.status in {400, 409, 422} else 5000)
    message = error.message if not error.field else f"{error.field.removeprefix('input.')}: {error.message}"
    return CompatAnswer(error.status, {"code": code, "message": message, "request_id": request_id})


def envelope(data: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    return {"code": 0, "message": "SUCCEED", "request_id": request_id, "data": data}


def _creator(family: str) -> Any:
    def create(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
        fields = dict(request.body)
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

        def render(job: JobView) -> CompatAnswer:
            created = {key: value for key, value in task_object(job).items() if key != "task_status_msg"}
            return CompatAnswer(200, envelope(created, request.request_id))

        return jobs.create(job_request, render, client_reference=str(reference) if reference else None)

    return create


def get_task(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    kind, action, task_id = (request.path_params[name] for name in ("kind", "action", "task_id"))
    job = jobs.get(task_id)
    if FAMILIES.get(f"{kind}/{action}") != job.operation:
        raise not_found(f"no {kind}/{action} task {task_id!r}")
    return CompatAnswer(200, envelope(task_object(job), request.request_id))


FAMILY = CompatFamily(
    name="kling",
    prefix="/kling/v1",
    routes=(
        CompatRoute(
            "POST",
            "/videos/text2video",
            "Kling text-to-video (CometAPI-compatible)",
            _creator("videos/text2video"),
        ),
        CompatRoute(
            "POST",
            "/videos/image2video",
            "Kling image-to-video (CometAPI-compatible)",
            _creator("videos/image2video"),
        ),
        CompatRoute(
            "POST",
            "/images/generations",
            "Kling image generation (CometAPI-compatible)",
            _creator("images/generations"),
        ),
        CompatRoute(
            "GET", "/{kind}/{action}/{task_id}", "A Kling task by task_id or external_task_id", get_task
        ),
    ),
    project=task_object,
    render_error=render_error,
)
