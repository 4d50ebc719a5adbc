"""Midjourney-compatible routes (`/mj/...`) as CometAPI serves midjourney-proxy: submit (imagine, blend,
describe, action, modal), fetch one task or several, in the proxy's envelope, with our durable jobs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator import jobs, messaging, models
from orchestrator.accounts import Principal
from orchestrator.api import intake
from orchestrator.api.compat.common import CompatError, compat_route, output_urls
from orchestrator.api.context import AppContext, Context, bearer, get_principal
from orchestrator.creating import Origin
from orchestrator.errors import AuthenticationError, InvalidRequestError, JobNotFoundError
from orchestrator.models import Job, JobOutput
from orchestrator.projections import midjourney
from schemas.jobs import JobCreate, JobStatus
from workers.providers import PROVIDERS
from workers.providers.midjourney.wire import MODEL_FLAGS, VERSION_FLAG

FORMAT = PROVIDER = "midjourney"
# No version flag in the prompt: what Midjourney itself runs by default, or the Niji bot's.
DEFAULT_MODEL, NIJI_MODEL = "midjourney-v7", "niji-6"
VERSIONS = {(family, version): model for model, (_, family, version) in MODEL_FLAGS.items()}
MAX_BATCH = 100
# Our error codes as the proxy's business codes (providers.md §1.2); 23 ("queue full") means "back off
# and send it again". The proxy has none for a bad key, a disabled account or missing credits (new-api
# answers those by HTTP status alone): those carry their HTTP status as the code.
CODES = {"job_not_found": 3, "not_found": 3, "rate_limited": 23, "idempotency_key_in_flight": 23}
# Words new-api uses for these, leading a description that names no field.
TOKENS = {
    "unauthenticated": "unauthorized",
    "insufficient_credits": "quota_not_enough",
    "job_not_found": "task_no_found",
    "not_found": "task_no_found",
}
# Our names for the client's fields, as the client sent them.
FIELDS = {"parent_job_id": "taskId", "custom_id": "customId", "callback_url": "notifyHook"}
INPUT_PREFIX = "the job input is not valid: "  # creating.validate_input's; the client sent no "input"


def render_error(request: Request, error: CompatError) -> Response:
    # 400 is what CometAPI answers (with code 4) for a request it can't take.
    status = 400 if error.status == 422 and not error.code.startswith("idempotency") else error.status
    code = CODES.get(error.code) or (status if status in (401, 402, 403) else 9 if status >= 500 else 4)
    properties = {"requestId": request.scope.get("state", {}).get("request_id")}
    body = {"code": code, "description": describe(error), "result": None, "properties": properties}
    return JSONResponse(body, status_code=status)


def describe(error: CompatError) -> str:
    """The message in the client's terms (`taskId`, not our `parent_job_id`), the field first."""
    message = re.sub(r"\binput\.", "", error.message.removeprefix(INPUT_PREFIX))
    for ours, theirs in FIELDS.items():
        message = re.sub(rf"\b{ours}\b", theirs, message)
    name = (error.field or "").removeprefix("input.")
    field = FIELDS.get(name, name)
    if field in ("", "input"):
        token = TOKENS.get(error.code)
        return f"{token}: {message}" if token else message
    return message if message.startswith(f"{field}:") else f"{field}: {message}"


router = APIRouter(prefix="/mj", tags=["midjourney-compatible"], route_class=compat_route(render_error))
mj_api_secret = APIKeyHeader(
    name="mj-api-secret", auto_error=False, description="Your API key, as midjourney-proxy clients send it."
)


async def get_mj_caller(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    secret: Annotated[str | None, Depends(mj_api_secret)],
) -> Principal:
    """The key as `Authorization: Bearer` (CometAPI clients) or `mj-api-secret` (midjourney-proxy's),
    checked (and rate-limited) exactly as the unified routes check a bearer key."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        if not secret:
            raise AuthenticationError(
                "send your API key as `Authorization: Bearer <key>` or `mj-api-secret: <key>`"
            )
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=secret)
    return await get_principal(context, credentials)


MjCaller = Annotated[Principal, Depends(get_mj_caller)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


class Submission(BaseModel):
    """What every submit may carry besides the job's input (which is the rest of the body)."""

    model_config = ConfigDict(extra="allow")

    notifyHook: str | None = None  # noqa: N815 - the wire's names
    state: str | None = Field(default=None, max_length=255)


class ActionSubmission(Submission):
    """Body of `/mj/submit/action`: a button (`customId`) of one of this tenant's tasks (`taskId`)."""

    taskId: str = Field(min_length=1, max_length=64)  # noqa: N815
    customId: str = Field(min_length=1, max_length=256)  # noqa: N815
    enableRemix: bool | None = None  # noqa: N815


class ModalSubmission(BaseModel):
    """Body of `/mj/submit/modal`: what a task waiting in MODAL needs."""

    model_config = ConfigDict(extra="ignore")

    taskId: str = Field(min_length=1, max_length=64)  # noqa: N815
    prompt: str | None = None
    maskBase64: str | None = None  # noqa: N815


class TaskCondition(BaseModel):
    """Body of `/mj/task/list-by-condition`."""

    model_config = ConfigDict(extra="ignore")

    ids: list[str] = Field(default_factory=list, max_length=MAX_BATCH)


def submitted(task_id: str) -> dict[str, Any]:
    return {"code": 1, "description": "Submission successful", "result": task_id, "properties": {}}


@router.post("/submit/imagine", summary="Midjourney imagine (CometAPI-compatible)")
def submit_imagine(
    body: Submission, context: Context, caller: MjCaller, idempotency_key: IdempotencyKey = None
) -> Response:
    return _generate("imagine", body, context, caller, idempotency_key)


@router.post("/submit/blend", summary="Midjourney blend of 2-5 images (CometAPI-compatible)")
def submit_blend(
    body: Submission, context: Context, caller: MjCaller, idempotency_key: IdempotencyKey = None
) -> Response:
    return _generate("blend", body, context, caller, idempotency_key)


@router.post("/submit/describe", summary="Midjourney describe: prompts for an image (CometAPI-compatible)")
def submit_describe(
    body: Submission, context: Context, caller: MjCaller, idempotency_key: IdempotencyKey = None
) -> Response:
    return _generate("describe", body, context, caller, idempotency_key)


@router.post("/submit/action", summary="Press a button of a finished task (CometAPI-compatible)")
def submit_action(
    body: ActionSubmission, context: Context, caller: MjCaller, idempotency_key: IdempotencyKey = None
) -> Response:
    parent_id, model = pressable_parent(context, caller.account_id, body.taskId, body.customId)
    fields: dict[str, Any] = {"parent_job_id": parent_id, "custom_id": body.customId}
    if body.enableRemix is not None:
        fields["enableRemix"] = body.enableRemix
    job_request = _job("action", model, fields, body.notifyHook)
    return _accept(context, caller, job_request, body.state, idempotency_key)


@router.post("/submit/modal", summary="Give a task waiting in MODAL its prompt and/or mask")
def submit_modal(body: ModalSubmission, context: Context, caller: MjCaller) -> Response:
    fields = {
        key: value for key, value in (("prompt", body.prompt), ("maskBase64", body.maskBase64)) if value
    }
    with context.db.transaction() as session:
        job_id = find_task(session, caller.account_id, body.taskId, field="taskId").job_id
        jobs.continue_job(session, caller.account_id, job_id, fields, context.settings)
    context.dispatcher.send(messaging.submit_task(PROVIDER), [str(job_id)])
    return JSONResponse(submitted(str(job_id)))


@router.get("/task/{task_id}/fetch", summary="One Midjourney task by our task id")
def fetch(task_id: str, context: Context, caller: MjCaller) -> Response:
    found = load_tasks(context, caller.account_id, [task_id])
    if not found:
        raise JobNotFoundError(f"no task {task_id!r} in this account")
    return JSONResponse(task_object(context, *found[0]))


@router.post(
    "/task/list-by-condition", summary="Several Midjourney tasks; ids not in this account are left out"
)
def list_by_condition(body: TaskCondition, context: Context, caller: MjCaller) -> Response:
    found = load_tasks(context, caller.account_id, body.ids)
    return JSONResponse([task_object(context, job, outputs) for job, outputs in found])


def task_object(context: AppContext, job: Job, outputs: Sequence[JobOutput]) -> dict[str, Any]:
    return midjourney.task_object(job, output_urls(context, outputs))


def _generate(
    operation: str, body: Submission, context: AppContext, caller: Principal, key: str | None
) -> Response:
    """imagine, blend, describe: the input model's fields of the body; anything else is ignored, as
    the proxy ignores it (clients built on Go structs send every field, unused ones null or "")."""
    known = PROVIDERS[PROVIDER].operations[operation].model_fields
    fields = {
        name: value
        for name, value in (body.model_extra or {}).items()
        if name in known and value not in (None, "", [])
    }
    bot_type = fields.get("botType")
    model = model_for(str(fields.get("prompt") or ""), bot_type if isinstance(bot_type, str) else None)
    return _accept(context, caller, _job(operation, model, fields, body.notifyHook), body.state, key)


def model_for(prompt: str, bot_type: str | None) -> str:
    """The model (price tier) a prompt runs with: its version flag's, else the bot's default."""
    asked = VERSION_FLAG.search(prompt)
    family = {"version": "v"}.get(asked[1].lower(), asked[1].lower()) if asked else None
    if asked is None or asked[2] is None:
        niji = family == "niji" or (family is None and bot_type == "NIJI_JOURNEY")
        return NIJI_MODEL if niji else DEFAULT_MODEL
    model = VERSIONS.get((str(family), asked[2]))
    if model is None:
        offered = ", ".join(f"--{flag} {version}" for flag, version in VERSIONS)
        raise InvalidRequestError(f"{asked[0]!r} is not offered; use {offered} or no version", field="prompt")
    return model


def _job(operation: str, model: str, fields: dict[str, Any], notify_hook: str | None) -> JobCreate:
    try:
        return JobCreate(
            provider=PROVIDER,
            operation=operation,
            model=model,
            input=fields,
            callback_url=notify_hook or None,
        )
    except ValidationError as exc:  # a notifyHook that is no http(s) URL
        first = exc.errors()[0]
        raise InvalidRequestError(first["msg"], field=".".join(map(str, first["loc"])) or None) from None


def _accept(
    context: AppContext, caller: Principal, job_request: JobCreate, state: str | None, key: str | None
) -> Response:
    def render(job: models.Job, outputs: Sequence[models.JobOutput]) -> tuple[int, dict[str, Any]]:
        return 200, submitted(str(job.job_id))

    origin = Origin(api_format=FORMAT, client_reference=state or None)  # echoed back as `state`
    return intake.accept(context, caller, job_request, render, idempotency_key=key, origin=origin).response()


def pressable_parent(
    context: AppContext, account_id: uuid.UUID, task_id: str, custom_id: str
) -> tuple[str, str]:
    """Our id and model of the task a button belongs to. A finished task must offer that button;
    an unfinished one is refused when the action job is created (it has no buttons yet)."""
    with context.db.transaction() as session:
        parent = find_task(session, account_id, task_id, field="taskId")
    offered = [str(button.get("customId")) for button in (parent.result or {}).get("buttons") or []]
    if parent.state == JobStatus.SUCCEEDED and custom_id not in offered:
        raise JobNotFoundError(f"task {task_id} has no button {custom_id!r}", field="customId")
    return str(parent.job_id), parent.model


def find_task(session: Session, account_id: uuid.UUID, task_id: str, field: str | None = None) -> Job:
    """The tenant's Midjourney job by our id; another tenant's is as unknown as a missing one."""
    job_id = as_job_id(task_id)
    query = select(Job).where(Job.account_id == account_id, Job.provider == PROVIDER, Job.job_id == job_id)
    job = session.execute(query).scalars().first() if job_id is not None else None
    if job is None:
        raise JobNotFoundError(f"no task {task_id!r} in this account", field=field)
    return job


def load_tasks(
    context: AppContext, account_id: uuid.UUID, references: Sequence[str]
) -> list[tuple[Job, list[JobOutput]]]:
    """The tenant's Midjourney jobs among `references` (our ids), in the order asked; the rest left out."""
    wanted = [job_id for job_id in map(as_job_id, references) if job_id is not None]
    with context.db.transaction() as session:
        query = select(Job).where(
            Job.account_id == account_id, Job.provider == PROVIDER, Job.job_id.in_(wanted)
        )
        found: dict[uuid.UUID, tuple[Job, list[JobOutput]]] = {
            job.job_id: (job, []) for job in session.execute(query).scalars()
        }
        if found:
            for output in session.execute(select(JobOutput).where(JobOutput.job_id.in_(found))).scalars():
                found[output.job_id][1].append(output)
    return [found[job_id] for job_id in dict.fromkeys(wanted) if job_id in found]


def as_job_id(reference: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(reference)
    except ValueError:
        return None
