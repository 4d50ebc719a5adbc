"""Kling-compatible routes (`/kling/v1/...`), as CometAPI passes Kling's API through: the same bodies
and envelopes for every family (videos, images, audio), with genrelay's durable jobs behind them.
Image expansion is not offered, and answers as CometAPI's does."""

from __future__ import annotations

from typing import Any

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
    not_found,
)
from workers.providers.kling.answers import KlingErrorBody, KlingTaskAnswer
from workers.providers.kling.bodies import create_body, inlined
from workers.providers.kling.creates import PARENT_OPERATIONS, PATHS
from workers.providers.kling.intake import job_request
from workers.providers.kling.projection import task_object

# Route path (family/name) -> operation.
FAMILIES = {path: operation for operation, path in PATHS.items()}
# Our error codes as Kling's body codes (providers.md §2.5).
CODES = {
    "unauthenticated": 1000,
    "account_disabled": 1100,
    "insufficient_credits": 1101,
    "key_budget_exceeded": 1101,
    "provider_not_allowed": 1100,
    "job_not_found": 1203,
    "not_found": 1203,
    "idempotency_key_in_flight": 1303,
}
SUMMARIES = {
    "text2video": "Kling text-to-video",
    "image2video": "Kling image-to-video",
    "image_generation": "Kling image generation",
    "multi_image2video": "Kling video from 2 to 4 images",
    "video_extend": "Kling video extension of one of your videos (video_id)",
    "lip_sync": "Kling lip-sync on one of your videos (video_id) or a video_url",
    "video_effects": "Kling video effects (effect_scene)",
    "avatar": "Kling avatar: a portrait speaking an audio",
    "text_to_audio": "Kling sound from a text",
    "video_to_audio": "Kling sound for one of your videos (video_id) or a video_url",
    "virtual_try_on": "Kolors virtual try-on",
}
# Our input's names as a Kling client wrote them.
FIELDS = {"parent_job_id": "video_id"}


def render_error(error: CompatError, request_id: str | None) -> CompatAnswer:
    code = CODES.get(error.code, 1201 if error.status in {400, 409, 422} else 5000)
    message = error.message.replace("parent_job_id", FIELDS["parent_job_id"])
    if error.field:
        field = error.field.removeprefix("input.")
        message = f"{FIELDS.get(field, field)}: {message}"
    return CompatAnswer(error.status, {"code": code, "message": message, "request_id": request_id})


def envelope(data: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    return {"code": 0, "message": "SUCCEED", "request_id": request_id, "data": data}


def _creator(operation: str) -> Handler:
    def create(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
        job_create, reference = job_request(operation, request.body, jobs)

        def render(job: JobView) -> CompatAnswer:
            created = {key: value for key, value in task_object(job).items() if key != "task_status_msg"}
            return CompatAnswer(200, envelope(created, request.request_id))

        return jobs.create(job_create, render, client_reference=reference)

    return create


def _answer(request: CompatRequest, job: JobView, operation: str) -> CompatAnswer:
    if job.operation != operation:
        raise not_found(f"no {PATHS.get(operation, operation)} task {job.job_id!r}")
    return CompatAnswer(200, envelope(task_object(job), request.request_id))


def get_task(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    kind, action, task_id = (request.path_params[name] for name in ("kind", "action", "task_id"))
    operation = FAMILIES.get(f"{kind}/{action}")
    job = jobs.get(task_id)
    if operation is None:
        raise not_found(f"no {kind}/{action} task {task_id!r}")
    return _answer(request, job, operation)


def _getter(operation: str) -> Handler:
    """The query route of a family whose path is deeper than `{kind}/{action}` (the avatar's)."""

    def get(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
        return _answer(request, jobs.get(request.path_params["task_id"]), operation)

    return get


def expand(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    # CometAPI answers image expansion with `{"code": null, "message": "404"}`: it is not served there,
    # so it is not offered here either. Nothing is created or held.
    raise CompatError(404, "not_found", "404: image expansion (images/editing/expand) is not available")


DEEP = [path for path in PATHS.values() if path.count("/") > 1]
QUERY = "/kling/v1/{kind}/{action}/{task_id}"


def _ref(path: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/get"


def _documented(operation: str) -> dict[str, Any]:
    """The create's body, its answer, and the link from its `task_id` to the task's query route."""
    path, task_id = PATHS[operation], "$response.body#/data/task_id"
    if path in DEEP:
        link = {"operationRef": _ref(f"/kling/v1/{path}/{{task_id}}"), "parameters": {"task_id": task_id}}
    else:
        kind, action = path.split("/")
        parameters = {"kind": kind, "action": action, "task_id": task_id}
        link = {"operationRef": _ref(QUERY), "parameters": parameters}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": create_body(operation)}},
        },
        "responses": {"200": {**ANSWER, "links": {"GetTask": link}}},
    }


ANSWER = {
    "description": "The task, in Kling's envelope.",
    "content": {"application/json": {"schema": inlined(KlingTaskAnswer.model_json_schema())}},
}

FAMILY = CompatFamily(
    name="kling",
    prefix="/kling/v1",
    routes=(
        *(
            CompatRoute(
                "POST",
                f"/{path}",
                f"{SUMMARIES[op]} (CometAPI-compatible)",
                _creator(op),
                errors=(*CREATE_ERRORS, 404) if op in PARENT_OPERATIONS else CREATE_ERRORS,
                openapi_extra=_documented(op),
            )
            for op, path in PATHS.items()
        ),
        # Before the query route, whose path template matches its path too: a request of another
        # method on it is answered 405 with this route's `Allow`.
        CompatRoute(
            "POST",
            "/images/editing/expand",
            "Kling image expansion: not available (as on CometAPI)",
            expand,
            errors=(404,),
        ),
        CompatRoute(
            "GET",
            "/{kind}/{action}/{task_id}",
            "A Kling task by task_id or external_task_id",
            get_task,
            openapi_extra={"responses": {"200": ANSWER}},
        ),
        *(
            CompatRoute(
                "GET",
                f"/{path}/{{task_id}}",
                "A Kling avatar task",
                _getter(FAMILIES[path]),
                openapi_extra={"responses": {"200": ANSWER}},
            )
            for path in DEEP
        ),
    ),
    project=task_object,
    render_error=render_error,
    error_schema=KlingErrorBody,
)
