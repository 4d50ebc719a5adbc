"""Suno-compatible routes for clips: upload from a URL, concat, stems (`task: "gen_stem"` on the music
route), and the calls CometAPI answers at once, `persona/create` and `act/{kind}/{clip_id}`. A clip is
named by Suno's clip id, which this tenant's jobs map to the job that made it. A synchronous call
becomes a job the answer waits for (a bounded time, `Prefer: wait=N`); an identical call made again
answers that job, finished or not, so a repeat is never a second charge (a failure older than a minute
is tried anew)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.jobs import JobCreate
from workers.providers.compat import (
    CompatAnswer,
    CompatError,
    CompatRequest,
    Jobs,
    JobView,
    Lookup,
    Render,
    WaitFor,
    invalid,
)
from workers.providers.suno.envelope import created, job, sent
from workers.providers.suno.projection_sync import act_answer, persona_answer
from workers.providers.suno.schemas_ops import ACT_KINDS, PARENT_OPERATIONS

# How long a synchronous call's answer waits for its job, unless `Prefer: wait=N` says otherwise.
SYNC_WAIT_S, MAX_WAIT_S = 20.0, 60.0
PREFER_WAIT = re.compile(r"\bwait\s*=\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
GROUPS = {"two": "two", "twelve": "twelve"}  # `stem_type_group_name`, lower-cased, as a stem task
# What a gen_stem body carries besides what we read: fixed by the protocol, so not the client's choice.
STEM_FIXED = frozenset({"task", "generation_type", "mv", "prompt", "make_instrumental", "stem_type_id"})
STEM_READ = frozenset(
    {"task_id", "continue_clip_id", "stem_task", "stem_type_group_name", "title", "notify_hook"}
)
ENDED_BADLY = frozenset({"failed", "cancelled", "expired"})
# A failure is the answer to the same call for this long (a caller asking again sees it, even one
# that was not waiting when it came); after that, the same call tries anew.
FAILURE_SHOWN = timedelta(seconds=60)


def upload(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    fields = sent(request.body)
    callback_url = fields.pop("notify_hook", None)
    return jobs.create(job("upload", "suno_upload", fields, callback_url), created)


# The fields of Suno's own bodies these routes read; any other is refused, as the document says.
CONCAT_FIELDS = frozenset({"clip_id", "is_infill", "notify_hook"})
PERSONA_FIELDS = frozenset({"root_clip_id", "name", "description", "clips", "is_public"})


def concat(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    fields = sent(request.body)
    _refuse_stray(fields, CONCAT_FIELDS)
    callback_url = fields.pop("notify_hook", None)
    parent = clip_parent(jobs, _text(fields, "clip_id"), "concat")
    return jobs.create(
        job("concat", "suno_concat", {**fields, "parent_job_id": parent.job_id}, callback_url), created
    )


def stems(fields: dict[str, Any], jobs: Jobs) -> CompatAnswer:
    """A `task: "gen_stem"` body of the music route."""
    _refuse_stray(fields, STEM_FIXED | STEM_READ)
    clip = _text(fields, "continue_clip_id")
    if "task_id" in fields:
        parent = task_parent(jobs, _text(fields, "task_id"), clip, "stems")
    else:
        parent = clip_parent(jobs, clip, "stems", field="continue_clip_id")
    group = str(fields.get("stem_type_group_name", "")).lower()
    job_input = {
        "parent_job_id": parent.job_id,
        "clip_id": clip,
        "stem_task": fields.get("stem_task") or GROUPS.get(group, "two"),
        **({"title": fields["title"]} if "title" in fields else {}),
    }
    return jobs.create(job("stems", "suno_stems", job_input, fields.get("notify_hook")), created)


def persona(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    fields = sent(request.body)
    _refuse_stray(fields, PERSONA_FIELDS)
    root = _text(fields, "root_clip_id")
    parent = clip_parent(jobs, root, "persona", field="root_clip_id")
    named = fields.get("clips") or []
    if not isinstance(named, list):
        raise invalid("a list of clip ids is expected", field="clips")
    mine = _clips_of(parent)
    strangers = [clip for clip in named if clip not in mine]
    if strangers:
        raise invalid(f"{strangers[0]!r} is not a clip of the root clip's task", field="clips")
    job_input = {key: value for key, value in fields.items() if key != "root_clip_id"}
    job_input.update(parent_job_id=parent.job_id, clip_id=root)
    return answered_at_once(request, jobs, job("persona", "suno_persona", job_input), persona_answer)


def act(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    kind, clip = request.path_params["kind"], request.path_params["clip_id"]
    if kind not in ACT_KINDS:
        raise invalid(f"no such conversion {kind!r}; one of {', '.join(ACT_KINDS)}", field="kind")
    parent = clip_parent(jobs, clip, kind, field="clip_id")
    job_input = {"parent_job_id": parent.job_id, "clip_id": clip}
    return answered_at_once(request, jobs, job(kind, f"suno_{kind}", job_input), act_answer(kind))


def answered_at_once(request: CompatRequest, jobs: Jobs, wanted: JobCreate, render: Render) -> CompatAnswer:
    """The job an identical earlier call made, unless it failed over a minute ago (then a new one: the
    call is tried again), answered once it has ended or the wait is up."""
    identical = json.dumps([wanted.operation, wanted.input], sort_keys=True, separators=(",", ":"))
    reference = f"{wanted.operation}:{hashlib.sha256(identical.encode()).hexdigest()[:40]}"
    try:
        earlier: JobView | None = jobs.get(
            reference, lookup=(Lookup.CLIENT_REFERENCE,), operation=wanted.operation
        )
    except CompatError as exc:
        if exc.code != "job_not_found":
            raise
        earlier = None
    if earlier is not None and not _stale_failure(earlier):
        job_id = earlier.job_id
    else:
        accepted = jobs.create(
            wanted, lambda made: CompatAnswer(202, {"task_id": made.job_id}), client_reference=reference
        )
        job_id = str(accepted.body["task_id"])
    return CompatAnswer(wait=WaitFor(job_id, wait_s(request), render))


def _stale_failure(job: JobView) -> bool:
    ended = job.finished_at or job.updated_at
    return job.status in ENDED_BADLY and datetime.now(UTC) - ended > FAILURE_SHOWN


def wait_s(request: CompatRequest) -> float:
    """`Prefer: wait=N` (RFC 7240) bounds the wait; `respond-async` answers at once."""
    prefer = request.headers.get("prefer", "")
    asked = PREFER_WAIT.search(prefer)
    if asked is not None:
        return min(float(asked[1]), MAX_WAIT_S)
    return 0.0 if "respond-async" in prefer.lower() else SYNC_WAIT_S


def clip_parent(jobs: Jobs, clip: str, operation: str, field: str = "clip_id") -> JobView:
    """The tenant's finished job that made `clip`, of a kind `operation` can act on."""
    try:
        parent = jobs.get(clip, lookup=(Lookup.RESULT_REF,), field=field)
    except CompatError as exc:
        if exc.code != "job_not_found":
            raise
        raise invalid(f"no clip {clip!r} in this account", field=field) from None
    return _can_act_on(parent, clip, operation, field)


def task_parent(jobs: Jobs, reference: str, clip: str, operation: str) -> JobView:
    """The tenant's task `reference` (our id, or Suno's id of one of its tasks) with clip `clip`."""
    try:
        parent = jobs.get(reference, lookup=(Lookup.JOB_ID, Lookup.EXTERNAL_ID), field="task_id")
    except CompatError as exc:
        if exc.code != "job_not_found":
            raise
        raise invalid(f"no task {reference!r} in this account", field="task_id") from None
    if clip not in _clips_of(parent):
        raise invalid(f"task {reference!r} has no clip {clip!r}", field="continue_clip_id")
    return _can_act_on(parent, clip, operation, "continue_clip_id")


def _can_act_on(parent: JobView, clip: str, operation: str, field: str) -> JobView:
    kinds = PARENT_OPERATIONS[operation]
    if parent.operation not in kinds:
        made_by = "an upload" if parent.operation == "upload" else f"a {parent.operation} task"
        raise invalid(
            f"{operation} works on a clip of {'/'.join(sorted(kinds))}; {clip!r} is {made_by}", field
        )
    if parent.status != "succeeded":
        raise invalid(f"clip {clip!r} is not complete: its task is {parent.status}", field)
    return parent


def _clips_of(parent: JobView) -> list[str]:
    return [str(clip.get("clip_id")) for clip in (parent.result or {}).get("clips") or []]


def _refuse_stray(fields: dict[str, Any], known: frozenset[str]) -> None:
    stray = sorted(set(fields) - known)
    if stray:
        raise invalid(f"{stray[0]}: Extra inputs are not permitted", field=stray[0])


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str):
        raise invalid("a clip or task id is required", field=name)
    return value
