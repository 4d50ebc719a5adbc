"""Suno-compatible routes (`/suno/...`) as CometAPI serves them: submit music or lyrics, fetch one
TaskDto or many, in the `{code, message, data}` envelope, with genrelay's durable jobs behind them."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import or_, select

from orchestrator import models
from orchestrator.api import intake
from orchestrator.api.compat.common import CompatError, compat_route, load_job, output_urls
from orchestrator.api.context import AppContext, Caller, Context
from orchestrator.creating import Origin
from orchestrator.errors import InvalidRequestError
from orchestrator.models import Job, JobOutput
from orchestrator.projections import suno
from schemas.jobs import JobCreate

FORMAT = "suno"
# What a client gets without `mv`: new-api's default (providers.md §4.1); same price as chirp-v3-5.
DEFAULT_MODEL = "chirp-v3-0"
LYRICS_MODEL = "suno_lyrics"  # the lyrics price rule's model; no `mv` is sent for lyrics
MAX_BATCH = 100
# Our error codes as the string codes new-api/CometAPI put in the envelope (providers.md §4.5).
CODES = {
    "unauthenticated": (401, "unauthorized"),
    "insufficient_credits": (402, "quota_not_enough"),
    "job_not_found": (400, "task_not_exist"),
    "not_found": (400, "task_not_exist"),
}
# Our names for the client's fields, as the client sent them.
FIELDS = {"callback_url": "notify_hook", "model": "mv"}
INPUT_PREFIX = "the job input is not valid: "  # creating.validate_input's; the client sent no "input"


def render_error(request: Request, error: CompatError) -> Response:
    status, code = CODES.get(error.code, (error.status, error.code))
    if error.status in {400, 422} and error.code not in CODES and not error.code.startswith("idempotency"):
        status, code = 400, "invalid_request"  # what new-api answers for any body it can't take
    message = code if code == "task_not_exist" else client_message(error)
    return JSONResponse({"code": code, "message": message, "data": None}, status_code=status)


def client_message(error: CompatError) -> str:
    """The message in the client's terms: its field names (`mv`, not our `model`), the field first."""
    message = error.message.removeprefix(INPUT_PREFIX).removeprefix("input: ").replace("input.", "")
    for ours, theirs in FIELDS.items():
        message = re.sub(rf"\b{ours}\b", theirs, message)
    field = FIELDS.get(error.field or "", (error.field or "").removeprefix("input."))
    if field in ("", "input") or message.startswith(f"{field}:"):
        return message
    return f"{field}: {message}"


router = APIRouter(prefix="/suno", tags=["suno-compatible"], route_class=compat_route(render_error))

JsonBody = Annotated[dict[str, Any], Body()]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


class FetchMany(BaseModel):
    """Body of `POST /suno/fetch`."""

    model_config = ConfigDict(extra="ignore")

    ids: list[str] = Field(max_length=MAX_BATCH)
    action: Literal["MUSIC", "LYRICS", "music", "lyrics"] | None = None


def ok(data: Any) -> dict[str, Any]:
    return {"code": "success", "message": "", "data": data}


def task_object(context: AppContext, job: Job, outputs: Sequence[JobOutput]) -> dict[str, Any]:
    return suno.task_object(job, output_urls(context, outputs))


@router.post("/submit/music", summary="Suno music: inspiration, custom or continuation (CometAPI-compatible)")
def submit_music(
    body: JsonBody, context: Context, caller: Caller, idempotency_key: IdempotencyKey = None
) -> Response:
    fields = _sent(body)
    model = str(fields.pop("mv", None) or DEFAULT_MODEL)
    callback_url = fields.pop("notify_hook", None)
    if fields.get("continue_clip_id") is not None and fields.get("task_id") is not None:
        fields["task_id"] = parent_external_id(
            context, caller.account_id, str(fields["task_id"]), str(fields["continue_clip_id"])
        )
    return _accept(context, caller, _job("music", model, fields, callback_url), idempotency_key)


@router.post("/submit/lyrics", summary="Suno lyrics from a description (CometAPI-compatible)")
def submit_lyrics(
    body: JsonBody, context: Context, caller: Caller, idempotency_key: IdempotencyKey = None
) -> Response:
    fields = _sent(body)
    fields.pop("mv", None)  # lyrics have no model to choose
    callback_url = fields.pop("notify_hook", None)
    return _accept(context, caller, _job("lyrics", LYRICS_MODEL, fields, callback_url), idempotency_key)


@router.get("/fetch/{task_id}", summary="One Suno task by our task id (CometAPI-compatible)")
def fetch(task_id: str, context: Context, caller: Caller) -> Response:
    job, outputs = load_job(context, caller.account_id, "suno", task_id)
    return JSONResponse(ok(task_object(context, job, outputs)))


@router.post("/fetch", summary="Several Suno tasks; ids not in this account are left out")
def fetch_many(body: FetchMany, context: Context, caller: Caller) -> Response:
    action = body.action.upper() if body.action else None
    found = load_jobs(context, caller.account_id, body.ids)
    tasks = [task_object(context, job, outputs) for job, outputs in found]
    return JSONResponse(ok([task for task in tasks if action in (None, task["action"])]))


def _sent(body: dict[str, Any]) -> dict[str, Any]:
    # Clients built on Go structs send every field, unused ones as null or "": those were not sent.
    return {key: value for key, value in body.items() if value is not None and value != ""}


def _job(operation: str, model: str, fields: dict[str, Any], callback_url: Any) -> JobCreate:
    try:
        return JobCreate(
            provider="suno", operation=operation, model=model, input=fields, callback_url=callback_url
        )
    except ValidationError as exc:  # `mv` or `notify_hook` of the wrong shape
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidRequestError(first["msg"], field=field) from None


def _accept(context: AppContext, caller: Caller, job_request: JobCreate, key: str | None) -> Response:
    def render(job: models.Job, outputs: Sequence[models.JobOutput]) -> tuple[int, dict[str, Any]]:
        return 200, ok(str(job.job_id))

    origin = Origin(api_format=FORMAT)
    return intake.accept(context, caller, job_request, render, idempotency_key=key, origin=origin).response()


def parent_external_id(context: AppContext, account_id: uuid.UUID, reference: str, clip_id: str) -> str:
    """Suno's id of the task a continuation extends. Clients know our id (what we answered), so that
    is translated; Suno's own id passes only when it is one of this tenant's tasks, never another's."""
    with context.db.transaction() as session:
        query = select(Job).where(
            Job.account_id == account_id, Job.provider == "suno", Job.operation == "music"
        )
        job_id = as_job_id(reference)
        match = Job.external_id == reference
        if job_id is not None:
            match = or_(Job.job_id == job_id, match)
        parent = session.execute(query.where(match).limit(1)).scalars().first()
    if parent is None:
        raise InvalidRequestError(f"no music task {reference!r} in this account", field="task_id")
    clips = [str(clip.get("clip_id")) for clip in (parent.result or {}).get("clips") or []]
    if parent.external_id is None or clip_id not in clips:
        raise InvalidRequestError(
            f"task {reference!r} has no clip {clip_id!r} (yet): continue a clip its fetch shows",
            field="continue_clip_id",
        )
    return parent.external_id


def load_jobs(
    context: AppContext, account_id: uuid.UUID, references: Sequence[str]
) -> list[tuple[Job, list[JobOutput]]]:
    """The tenant's Suno jobs among `references` (our ids), in the order asked; the rest left out."""
    wanted = [job_id for job_id in map(as_job_id, references) if job_id is not None]
    with context.db.transaction() as session:
        query = select(Job).where(
            Job.account_id == account_id, Job.provider == "suno", Job.job_id.in_(wanted)
        )
        found: dict[uuid.UUID, tuple[Job, list[JobOutput]]] = {
            job.job_id: (job, []) for job in session.execute(query).scalars()
        }
        if found:
            outputs = select(JobOutput).where(JobOutput.job_id.in_(found))
            for output in session.execute(outputs).scalars():
                found[output.job_id][1].append(output)
    return [found[job_id] for job_id in dict.fromkeys(wanted) if job_id in found]


def as_job_id(reference: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(reference)
    except ValueError:
        return None
