"""Suno-compatible routes (`/suno/...`) as CometAPI serves them: submit music (stems too) or lyrics,
fetch one TaskDto or many, in the `{code, message, data}` envelope, with genrelay's durable jobs behind
them; and the family of every route, those for clips (`routes_ops`) included."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from workers.providers.compat import (
    CREATE_ERRORS,
    LOOKUP_ERRORS,
    CompatAnswer,
    CompatError,
    CompatFamily,
    CompatRequest,
    CompatRoute,
    Jobs,
    Lookup,
    invalid,
)
from workers.providers.suno import routes_ops
from workers.providers.suno.document import (
    CONCAT_BODY,
    LYRICS_BODY,
    MUSIC_BODY,
    PERSONA_BODY,
    UPLOAD_BODY,
    SunoCreated,
    SunoError,
    SunoFetched,
    created_links,
)
from workers.providers.suno.envelope import created, job, ok, render_error, sent
from workers.providers.suno.projection import task_object
from workers.providers.suno.schemas import DEFAULT_MODEL
from workers.providers.suno.schemas_ops import ACT_KINDS

LYRICS_MODEL = "suno_lyrics"  # the lyrics price rule's model; no `mv` is sent for lyrics
MAX_BATCH = 100
SYNC_DESCRIPTION = (
    "Suno answers this call at once; genrelay makes it a job and answers when the job has ended, or"
    " after 20 s (`Prefer: wait=N`, up to 60; `respond-async`: at once) with"
    ' `{"state": "running", "task_id"}` (HTTP 202; 200 for MIDI, which Suno also answers so). The'
    " same call again answers that job's outcome, without a second charge; after a failure it tries anew."
)


class FetchMany(BaseModel):
    """Body of `POST /suno/fetch`."""

    model_config = ConfigDict(extra="ignore")

    ids: list[str] = Field(max_length=MAX_BATCH)
    action: str | None = Field(default=None, max_length=20, description="MUSIC, LYRICS, PERSONA, WAV, ...")


def submit_music(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    fields = sent(request.body)
    if fields.get("task") == "gen_stem":
        return routes_ops.stems(fields, jobs)
    model = fields.pop("mv", DEFAULT_MODEL)
    if not isinstance(model, str):
        raise invalid("a model name, e.g. chirp-v4", field="mv")
    callback_url = fields.pop("notify_hook", None)
    if fields.get("continue_clip_id") is not None and fields.get("task_id") is not None:
        fields["task_id"] = parent_external_id(jobs, str(fields["task_id"]), str(fields["continue_clip_id"]))
    return jobs.create(job("music", model, fields, callback_url), created)


def submit_lyrics(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    fields = sent(request.body)
    fields.pop("mv", None)  # lyrics have no model to choose
    callback_url = fields.pop("notify_hook", None)
    return jobs.create(job("lyrics", LYRICS_MODEL, fields, callback_url), created)


def fetch(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    return CompatAnswer(200, ok(task_object(jobs.get(request.path_params["task_id"]))))


def fetch_many(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    body: FetchMany = request.body
    action = body.action.upper() if body.action else None
    tasks = [task_object(job) for job in jobs.get_many(body.ids)]
    return CompatAnswer(200, ok([task for task in tasks if action in (None, task["action"])]))


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
            "Suno music: inspiration, custom, continuation, a persona's voice, or stems of a clip"
            ' (`task: "gen_stem"`) (CometAPI-compatible)',
            submit_music,
            errors=(*CREATE_ERRORS, *LOOKUP_ERRORS),
            response=SunoCreated,
            openapi_extra={**MUSIC_BODY, **created_links()},
        ),
        CompatRoute(
            "POST",
            "/submit/concat",
            "The full song an extended clip ends (CometAPI-compatible)",
            routes_ops.concat,
            errors=CREATE_ERRORS,
            response=SunoCreated,
            openapi_extra={**CONCAT_BODY, **created_links()},
        ),
        CompatRoute(
            "POST",
            "/uploads/audio-url",
            "A clip from a public audio URL (CometAPI-compatible)",
            routes_ops.upload,
            errors=CREATE_ERRORS,
            response=SunoCreated,
            openapi_extra={**UPLOAD_BODY, **created_links()},
        ),
        CompatRoute(
            "POST",
            "/persona/create",
            "A persona from a generated clip, answered at once (CometAPI-compatible)",
            routes_ops.persona,
            errors=CREATE_ERRORS,
            headers=("Prefer",),
            openapi_extra=PERSONA_BODY,
            description=SYNC_DESCRIPTION,
        ),
        CompatRoute(
            "GET",
            "/act/{kind}/{clip_id}",
            "A clip as WAV, MP4, MIDI or aligned lyrics (`timing`), answered at once (CometAPI-compatible)",
            routes_ops.act,
            errors=CREATE_ERRORS,
            path_values={"kind": ACT_KINDS},
            headers=("Prefer",),
            description=SYNC_DESCRIPTION,
        ),
        CompatRoute(
            "POST",
            "/submit/lyrics",
            "Suno lyrics from a description (CometAPI-compatible)",
            submit_lyrics,
            errors=CREATE_ERRORS,
            response=SunoCreated,
            openapi_extra={**LYRICS_BODY, **created_links()},
        ),
        CompatRoute(
            "GET",
            "/fetch/{task_id}",
            "One Suno task by our task id (CometAPI-compatible)",
            fetch,
            response=SunoFetched,
        ),
        CompatRoute(
            "POST",
            "/fetch",
            "Several Suno tasks; ids not in this account are left out",
            fetch_many,
            body=FetchMany,
            response=SunoFetched,
        ),
    ),
    project=task_object,
    render_error=render_error,
    error_schema=SunoError,
)
