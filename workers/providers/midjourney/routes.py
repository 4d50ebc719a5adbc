"""Midjourney-compatible routes (`/mj/...`) as CometAPI serves midjourney-proxy: submit (imagine, blend,
describe, video and its extension, edits, action, modal), fetch one task or several, in the proxy's
envelope, with our durable jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.jobs import JobCreate, JobStatus
from workers.providers.compat import (
    CompatAnswer,
    CompatFamily,
    CompatRequest,
    CompatRoute,
    Jobs,
    JobView,
    Lookup,
    invalid,
    not_found,
)
from workers.providers.midjourney.envelope import render_error, submitted
from workers.providers.midjourney.projection import task_object
from workers.providers.midjourney.schemas import (
    MidjourneyBlendInput,
    MidjourneyDescribeInput,
    MidjourneyImagineInput,
)
from workers.providers.midjourney.wire import MODEL_FLAGS, NAME, VERSION_FLAG

# The operations a submit creates from the body's own fields, by their input models.
GENERATE: dict[str, type[BaseModel]] = {
    "imagine": MidjourneyImagineInput,
    "blend": MidjourneyBlendInput,
    "describe": MidjourneyDescribeInput,
}
# No version flag in the prompt: what Midjourney itself runs by default, or the Niji bot's.
DEFAULT_MODEL, NIJI_MODEL = "midjourney-v7", "niji-6"
VERSIONS = {(family, version): model for model, (_, family, version) in MODEL_FLAGS.items()}
MAX_BATCH = 100


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


def _generator(operation: str) -> Callable[[CompatRequest, Jobs], CompatAnswer]:
    """imagine, blend, describe: the input model's fields of the body; anything else is ignored, as
    the proxy ignores it (clients built on Go structs send every field, unused ones null or "")."""

    def generate(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
        body: Submission = request.body
        known = GENERATE[operation].model_fields
        fields = {
            name: value
            for name, value in (body.model_extra or {}).items()
            if name in known and value not in (None, "", [])
        }
        bot_type = fields.get("botType")
        model = model_for(str(fields.get("prompt") or ""), bot_type if isinstance(bot_type, str) else None)
        return _accept(jobs, _job(operation, model, fields, body.notifyHook), body.state)

    return generate


def submit_action(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    body: ActionSubmission = request.body
    parent = pressable_parent(jobs, body.taskId, body.customId)
    fields: dict[str, Any] = {"parent_job_id": parent.job_id, "custom_id": body.customId}
    if body.enableRemix is not None:
        fields["enableRemix"] = body.enableRemix
    return _accept(jobs, _job("action", parent.model, fields, body.notifyHook), body.state)


def submit_video(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    """A new video from `image`, or (`action: "extend"`, `taskId`, `index`) an extension of one video of
    the caller's video task, in the model that task ran with. Peers spell them `task_id` and "0"."""
    body: Submission = request.body
    extra = body.model_extra or {}
    fields = _present(extra, ("motion", "image", "prompt"))
    parent_ref = extra.get("taskId", extra.get("task_id"))
    if str(extra.get("action") or "").lower() != "extend" and parent_ref is None:
        model = model_for(str(fields.get("prompt") or ""), None)
        return _accept(jobs, _job("video", model, fields, body.notifyHook), body.state)
    if not isinstance(parent_ref, str | int) or not str(parent_ref):
        raise invalid("taskId: an extension names the video task it extends", field="taskId")
    parent = jobs.get(str(parent_ref), lookup=(Lookup.JOB_ID,), field="taskId")
    index = video_index(extra.get("index"), parent)
    fields.pop("image", None)  # the extension starts where the parent's video ends
    fields |= {"parent_job_id": parent.job_id, "index": index}
    return _accept(jobs, _job("video", parent.model, fields, body.notifyHook), body.state)


def video_index(raw: Any, parent: JobView) -> int:
    """A zero-based index of one of the parent's videos, as a number or a numeric string."""
    index = int(raw) if isinstance(raw, str) and raw.strip().isdigit() else raw
    if not isinstance(index, int) or isinstance(index, bool):
        raise invalid("index: an extension names one of the parent's videos, from 0", field="index")
    made = (parent.result or {}).get("videos")
    if isinstance(made, int) and not 0 <= index < made:
        raise invalid(f"index: task {parent.job_id} made {made} videos (0 to {made - 1})", field="index")
    return index


def submit_edits(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    """The editor: `prompt`, one image (`base64Array` as new-api relays document it, or `image`), and an
    optional `maskBase64` and `remix`; `action: "EDITS"` is implied."""
    body: Submission = request.body
    extra = body.model_extra or {}
    fields = _present(extra, ("prompt", "image", "maskBase64", "remix"))
    images = extra.get("base64Array")
    if isinstance(images, list) and images:
        if len(images) > 1:
            raise invalid("base64Array: the editor takes one image", field="base64Array")
        fields["image"] = images[0]
    model = model_for(str(fields.get("prompt") or ""), None)
    return _accept(jobs, _job("edits", model, fields, body.notifyHook), body.state)


def _present(extra: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: extra[name] for name in names if extra.get(name) not in (None, "", [])}


def submit_modal(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    body: ModalSubmission = request.body
    fields = {
        key: value for key, value in (("prompt", body.prompt), ("maskBase64", body.maskBase64)) if value
    }
    job = jobs.continue_job(body.taskId, fields, field="taskId")  # the core submits it again
    return CompatAnswer(200, submitted(job.job_id))


def fetch(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    task_id = request.path_params["task_id"]
    found = jobs.get_many([task_id])
    if not found:
        raise not_found(f"no task {task_id!r} in this account")
    return CompatAnswer(200, task_object(found[0]))


def list_by_condition(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    body: TaskCondition = request.body
    return CompatAnswer(200, [task_object(job) for job in jobs.get_many(body.ids)])


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
        raise invalid(f"{asked[0]!r} is not offered; use {offered} or no version", field="prompt")
    return model


def _job(operation: str, model: str, fields: dict[str, Any], notify_hook: str | None) -> JobCreate:
    # A notifyHook that is no http(s) URL fails validation here: the core refuses it as an invalid
    # `callback_url`, which the envelope names `notifyHook` again.
    return JobCreate(
        provider=NAME, operation=operation, model=model, input=fields, callback_url=notify_hook or None
    )


def _accept(jobs: Jobs, job_request: JobCreate, state: str | None) -> CompatAnswer:
    def render(job: JobView) -> CompatAnswer:
        return CompatAnswer(200, submitted(job.job_id))

    return jobs.create(job_request, render, client_reference=state or None)  # echoed back as `state`


def pressable_parent(jobs: Jobs, task_id: str, custom_id: str) -> JobView:
    """The task a button belongs to, by our id. A finished task must offer that button; an unfinished
    one is refused when the action job is created (it has no buttons yet)."""
    parent = jobs.get(task_id, lookup=(Lookup.JOB_ID,), field="taskId")
    offered = [str(button.get("customId")) for button in (parent.result or {}).get("buttons") or []]
    if parent.status == JobStatus.SUCCEEDED and custom_id not in offered:
        raise not_found(f"task {task_id} has no button {custom_id!r}", field="customId")
    return parent


FAMILY = CompatFamily(
    name=NAME,
    prefix="/mj",
    routes=(
        CompatRoute(
            "POST",
            "/submit/imagine",
            "Midjourney imagine (CometAPI-compatible)",
            _generator("imagine"),
            body=Submission,
        ),
        CompatRoute(
            "POST",
            "/submit/blend",
            "Midjourney blend of 2-5 images (CometAPI-compatible)",
            _generator("blend"),
            body=Submission,
        ),
        CompatRoute(
            "POST",
            "/submit/describe",
            "Midjourney describe: prompts for an image (CometAPI-compatible)",
            _generator("describe"),
            body=Submission,
        ),
        CompatRoute(
            "POST",
            "/submit/video",
            "Midjourney video from a first frame, or an extension of a video task (CometAPI-compatible)",
            submit_video,
            body=Submission,
        ),
        CompatRoute(
            "POST",
            "/submit/edits",
            "Midjourney editor: repaint an image by prompt, within a mask (CometAPI-compatible)",
            submit_edits,
            body=Submission,
        ),
        CompatRoute(
            "POST",
            "/submit/action",
            "Press a button of a finished task (CometAPI-compatible)",
            submit_action,
            body=ActionSubmission,
        ),
        CompatRoute(
            "POST",
            "/submit/modal",
            "Give a task waiting in MODAL its prompt and/or mask",
            submit_modal,
            body=ModalSubmission,
        ),
        CompatRoute("GET", "/task/{task_id}/fetch", "One Midjourney task by our task id", fetch),
        CompatRoute(
            "POST",
            "/task/list-by-condition",
            "Several Midjourney tasks; ids not in this account are left out",
            list_by_condition,
            body=TaskCondition,
        ),
    ),
    project=task_object,
    render_error=render_error,
    key_headers=("mj-api-secret",),
)
