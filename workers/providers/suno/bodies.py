"""What genrelay sends Suno for each operation, and to which route: the task routes' JSON bodies, the
persona to create, and the clip a follow-up acts on, checked against the clips its parent reported."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workers.providers.base import SubmitRequest
from workers.providers.errors import ProviderRejectedError

# Fields of our input that are not Suno's: `mode` is derived, for prices and projections.
NOT_SENT = frozenset({"mode"})
STEM_GROUPS = {"two": "Two", "twelve": "Twelve"}
# providers-more.md §5b: the two-track body is verified with type 91 on chirp-auk; the full-track one
# is known only to differ in its group name and task, so it is sent with the same type and model.
STEM_TYPE_ID = 91
STEM_MODEL = "chirp-auk"


def parent_clips(request: SubmitRequest) -> list[Mapping[str, Any]]:
    clips = (request.parent_result or {}).get("clips") or []
    return [clip for clip in clips if isinstance(clip, Mapping) and clip.get("clip_id")]


def chosen_clip(request: SubmitRequest, wanted: Any = None) -> str:
    """The parent's clip a follow-up acts on: the one it names (one of its parent's), else the first."""
    clips = [str(clip["clip_id"]) for clip in parent_clips(request)]
    if not clips:
        raise ProviderRejectedError("invalid_input", "the parent job reported no clips to act on")
    wanted = request.input.get("clip_id") if wanted is None else wanted
    if wanted is None:
        return clips[0]
    if wanted not in clips:
        raise ProviderRejectedError(
            "invalid_input",
            f"clip {wanted!r} is not one of the parent job's clips ({', '.join(clips)})",
        )
    return str(wanted)


def task_request(request: SubmitRequest) -> tuple[str, dict[str, Any]]:
    """(route under /suno, JSON body) of an operation that makes an upstream task."""
    job_input, operation = request.input, request.operation
    if operation == "upload":
        return "/uploads/audio-url", {"url": job_input["url"]}
    if operation == "concat":
        return "/submit/concat", {
            "clip_id": chosen_clip(request),
            "is_infill": job_input.get("is_infill", False),
        }
    if operation == "stems":
        return "/submit/music", stems_body(request)
    body = {key: value for key, value in job_input.items() if key not in NOT_SENT}
    if operation == "music":
        body["mv"] = request.model
    return f"/submit/{operation}", body


def stems_body(request: SubmitRequest) -> dict[str, Any]:
    clip = chosen_clip(request)
    stem_task = str(request.input.get("stem_task") or "two")
    titles = {str(c["clip_id"]): c.get("title") for c in parent_clips(request)}
    return {
        "task": "gen_stem",
        "generation_type": "TEXT",
        "title": request.input.get("title") or titles.get(clip) or "",
        "mv": STEM_MODEL,
        "prompt": "",
        "make_instrumental": True,
        "task_id": parent_task_id(request),
        "continue_clip_id": clip,
        "stem_type_id": STEM_TYPE_ID,
        "stem_type_group_name": STEM_GROUPS[stem_task],
        "stem_task": stem_task,
    }


def parent_task_id(request: SubmitRequest) -> str:
    """Suno's id of the parent task (the one its clips came in)."""
    reported = (request.parent_result or {}).get("task_id")
    task_id = reported if isinstance(reported, str) and reported else request.parent_external_id
    if not task_id:
        raise ProviderRejectedError("invalid_input", "the parent job has no upstream task to act on")
    return task_id


def persona_body(request: SubmitRequest) -> dict[str, Any]:
    """`persona/create`: the root clip (named, else the first of `clips`, else the parent's first) and
    the clips the persona learns from, every one the parent's."""
    job_input = request.input
    named: Sequence[Any] = job_input.get("clips") or []
    root = chosen_clip(request, job_input.get("clip_id") or (named[0] if named else None))
    clips = [chosen_clip(request, clip) for clip in named] or [root]
    return {
        "root_clip_id": root,
        "name": job_input["name"],
        "description": job_input.get("description", ""),
        "clips": clips,
        "is_public": job_input.get("is_public", False),
    }
