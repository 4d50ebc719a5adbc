"""Suno-compatible routes (`/suno/...`) as CometAPI serves them: submit music or lyrics, fetch one
TaskDto or many, in the `{code, message, data}` envelope, with genrelay's durable jobs behind them."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.jobs import JobCreate
from workers.providers.compat import (
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
from workers.providers.suno.projection import task_object

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


def render_error(error: CompatError, request_id: str | None) -> CompatAnswer:
    status, code = CODES.get(error.code, (error.status, error.code))
    if error.status in {400, 422} and error.code not in CODES and not error.code.startswith("idempotency"):
        status, code = 400, "invalid_request"  # what new-api answers for any body it can't take
    message = code if code == "task_not_exist" else client_message(error)
    return CompatAnswer(status, {"code": code, "message": message, "data": None})


def client_message(error: CompatError) -> str:
    """The message in the client's terms: its field names (`mv`, not our `model`), the field first."""
    message = error.message.removeprefix(INPUT_PREFIX).removeprefix("input: ").replace("input.", "")
    for ours, theirs in FIELDS.items():
        message = re.sub(rf"\b{ours}\b", theirs, message)
    field = FIELDS.get(error.field or "", (error.field or "").removeprefix("input."))
    if field in ("", "input") or message.startswith(f"{field}:"):
        return message
    return f"{field}: {message}"


class FetchMany(BaseModel):
    """Body of `POST /suno/fetch`."""

    model_config = ConfigDict(extra="ignore")

    ids: list[str] = Field(max_length=MAX_BATCH)
    action: Literal["MUSIC", "LYRICS", "music", "lyrics"] | None = None


def ok(data: Any) -> dict[str, Any]:
    return {"code": "success", "message": "", "data": data}


def created(job: JobView) -> CompatAnswer:
    """A submit's answer: our job id is the task id the client fetches by."""
    return CompatAnswer(200, ok(job.job_id))


def submit_music(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    fields = _sent(request.body)
    model = str(fields.pop("mv", None) or DEFAULT_MODEL)
    callback_url = fields.pop("notify_hook", None)
    if fields.get("continue_clip_id") is not None and fields.get("task_id") is not None:
        fields["task_id"] = parent_external_id(jobs, str(fields["task_id"]), str(fields["continue_clip_id"]))
    return jobs.create(_job("music", model, fields, callback_url), created)


def submit_lyrics(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    fields = _sent(request.body)
    fields.pop("mv", None)  # lyrics have no model to choose
    callback_url = fields.pop("notify_hook", None)
    return jobs.create(_job("lyrics", LYRICS_MODEL, fields, callback_url), created)


def fetch(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    return CompatAnswer(200, ok(task_object(jobs.get(request.path_params["task_id"]))))


def fetch_many(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    body: FetchMany = request.body
    action = body.action.upper() if body.action else None
    tasks = [task_object(job) for job in jobs.get_many(body.ids)]
    return CompatAnswer(200, ok([task for task in tasks if action in (None, task["action"])]))


def _sent(body: dict[str, Any]) -> dict[str, Any]:
    # Clients built on Go structs send every field, unused ones as null or "": those were not sent.
    return {key: value for key, value in body.items() if value is not None and value != ""}


def _job(operation: str, model: str, fields: dict[str, Any], callback_url: Any) -> JobCreate:
    # `mv` or `notify_hook` of the wrong shape fails validation here: the mount answers it as the
    # client's invalid request, in Suno's envelope.
    return JobCreate(
        provider="suno", operation=operation, model=model, input=fields, callback_url=callback_url
    )


def parent_external_id(jobs: Jobs, reference: str, clip_id: str) -> str:
    """Suno's id of the task a continuation extends. Clients know our id (what we answered), so that
    is translated; Suno's own id passes only when it is one of this tenant's tasks, never another's."""
    try:
        parent = jobs.get(
            reference, lookup=(Lookup.JOB_ID, Lookup.EXTERNAL_ID), operation="music", field="task_id"
        )
    except CompatError as exc:
        if exc.code != "job_not_found":
            raise
        # A bad field of the submit, not a fetch of a missing task: invalid_request, not task_not_exist.
        raise invalid(f"no music task {reference!r} in this account", field="task_id") from None
    clips = [str(clip.get("clip_id")) for clip in (parent.result or {}).get("clips") or []]
    if parent.external_id is None or clip_id not in clips:
        raise invalid(
            f"task {reference!r} has no clip {clip_id!r} (yet): continue a clip its fetch shows",
            field="continue_clip_id",
        )
    return parent.external_id


FAMILY = CompatFamily(
    name="suno",
    prefix="/suno",
    routes=(
        CompatRoute(
            "POST",
            "/submit/music",
            "Suno music: inspiration, custom or continuation (CometAPI-compatible)",
            submit_music,
        ),
        CompatRoute(
            "POST", "/submit/lyrics", "Suno lyrics from a description (CometAPI-compatible)", submit_lyrics
        ),
        CompatRoute("GET", "/fetch/{task_id}", "One Suno task by our task id (CometAPI-compatible)", fetch),
        CompatRoute(
            "POST",
            "/fetch",
            "Several Suno tasks; ids not in this account are left out",
            fetch_many,
            body=FetchMany,
        ),
    ),
    project=task_object,
    render_error=render_error,
)
