"""A Kling create body, as a client sends it to a compatible route, made a unified job request: task
fields taken out, a nested `input` flattened, and a `video_id` (a video we showed the client: our job
id and the video's label) resolved to the caller's parent job."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.jobs import JobCreate, JobStatus
from workers.providers.compat import CompatError, Jobs, JobView, Lookup, invalid, not_found
from workers.providers.kling.creates import PARENT_OPERATIONS

# The model a job gets when the body names none; operations Kling runs without a model get theirs
# always (it only prices them here).
DEFAULT_MODELS = {
    "multi_image2video": "kling-v1-6",
    "video_effects": "kling-v1-6",
    "virtual_try_on": "kolors-virtual-try-on-v1",
}
FIXED_MODELS = {
    "lip_sync": "kling-lip-sync",
    "avatar": "kling-avatar",
    "text_to_audio": "kling-text-to-audio",
    "video_to_audio": "kling-video-to-audio",
}
NESTED = frozenset({"lip_sync", "video_effects"})  # their generation fields come under `input`
VIDEO_LABEL = "-video-"  # our video ids: "<job id>-video-<n>"


def job_request(operation: str, body: Mapping[str, Any], jobs: Jobs) -> tuple[JobCreate, str | None]:
    """The unified job for a create body, and the client's `external_task_id`."""
    fields = _sent(body)
    model = _text(fields, "model_name") or fields.pop("model", None)
    callback_url, reference = (_text(fields, name) for name in ("callback_url", "external_task_id"))
    if operation in NESTED:
        fields = _flattened(fields)
        model = _text(fields, "model_name") or model
    parent: JobView | None = None
    if fields.get("video_id") is not None:
        parent = parent_job(jobs, operation, str(fields.pop("video_id")))
        fields["parent_job_id"] = parent.job_id
    if operation == "video_extend" and parent is not None:
        model = parent.model  # an extension continues in its parent's model
    model = FIXED_MODELS.get(operation) or model or DEFAULT_MODELS.get(operation, "kling-v1")
    request = JobCreate(
        provider="kling", operation=operation, model=str(model), input=fields, callback_url=callback_url
    )
    return request, reference


def _text(fields: dict[str, Any], name: str) -> str | None:
    """A task field that is a string when sent (taken out of the generation's fields)."""
    value = fields.pop(name, None)
    if value is not None and not isinstance(value, str):
        raise invalid(f"{name} must be a string", name)
    return value


def _sent(fields: Mapping[str, Any]) -> dict[str, Any]:
    # Clients built on typed structs send every field, unused ones as null or "": those were not sent
    # (a lip-sync with `video_url` and `"video_id": null` names one video, not two).
    return {key: value for key, value in fields.items() if value is not None and value != ""}


def _flattened(fields: dict[str, Any]) -> dict[str, Any]:
    inner = fields.pop("input", None)
    if not isinstance(inner, Mapping):
        raise invalid("input is required: an object with the generation's fields", "input")
    return {**fields, **_sent(inner)}


def parent_job(jobs: Jobs, operation: str, video_id: str) -> JobView:
    """The caller's job whose video `video_id` names (our id of it, or the job's id alone), if a
    follow-up of `operation` can act on it. Another tenant's is as unknown as a missing one."""
    reference = video_id.rsplit(VIDEO_LABEL, 1)[0] if VIDEO_LABEL in video_id else video_id
    try:
        parent = jobs.get(reference, lookup=(Lookup.JOB_ID, Lookup.CLIENT_REFERENCE), field="video_id")
    except CompatError as exc:
        if exc.code != "job_not_found":
            raise
        # Kling's "resource does not exist" (1203): no such video, whatever the body's other fields.
        raise not_found(f"no Kling video {video_id!r} in this account", "video_id") from None
    allowed = PARENT_OPERATIONS.get(operation, frozenset())
    if parent.operation not in allowed:
        raise invalid(
            f"video_id names a {parent.operation} task; {operation} acts on a video of "
            f"{', '.join(sorted(allowed))}",
            "video_id",
        )
    if parent.status != JobStatus.SUCCEEDED:
        # The same request succeeds once the video is made: a conflict with the task's state.
        raise CompatError(
            409,
            "job_not_finished",
            f"video_id names a task still {parent.status}: it must be a succeeded kling job",
            "video_id",
        )
    return parent
