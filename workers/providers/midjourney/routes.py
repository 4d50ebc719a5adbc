"""Midjourney-compatible routes (`/mj/...`) as CometAPI serves midjourney-proxy: submit (imagine, blend,
describe, video and its extension, edits, action, modal), fetch one task or several, in the proxy's
envelope, with our durable jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from schemas.jobs import JobCreate, JobStatus
from workers.providers.compat import (
    CREATE_ERRORS,
    LOOKUP_ERRORS,
    CompatAnswer,
    CompatFamily,
    CompatRequest,
    CompatRoute,
    Handler,
    Jobs,
    JobView,
    Lookup,
    invalid,
    not_found,
)
from workers.providers.midjourney.bodies import (
    ActionSubmission,
    BlendSubmission,
    DescribeSubmission,
    EditsSubmission,
    ImagineSubmission,
    ModalSubmission,
    Submission,
    TaskCondition,
    VideoSubmission,
)
from workers.providers.midjourney.envelope import MidjourneyError, Submitted, render_error, submitted
from workers.providers.midjourney.projection import TaskObject, TaskObjects, task_object
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


def _generator(operation: str) -> Callable[[CompatRequest, Jobs], CompatAnswer]:
    """imagine, blend, describe: the input model's fields of the body; anything else is ignored, as
    the proxy ignores it (clients built on Go structs send every field, unused ones null or "")."""

    def generate(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
        body: Submission = request.body
        sent = body.model_dump(include=set(GENERATE[operation].model_fields), exclude_unset=True)
        fields = {name: value for name, value in sent.items() if value not in (None, "", [])}
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
    body: VideoSubmission = request.body
    fields = _present(body, ("motion", "image", "prompt"))
    parent_ref = body.parent
    if (body.action or "").lower() != "extend" and parent_ref is None:
        model = model_for(str(fields.get("prompt") or ""), None)
        return _accept(jobs, _job("video", model, fields, body.notifyHook), body.state)
    if parent_ref is None:
        raise invalid("taskId: an extension names the video task it extends", field="taskId")
    parent = jobs.get(parent_ref, lookup=(Lookup.JOB_ID,), field="taskId")
    index = video_index(body.index, parent)
    fields.pop("image", None)  # the extension starts where the parent's video ends
    fields |= {"parent_job_id": parent.job_id, "index": index}
    return _accept(jobs, _job("video", parent.model, fields, body.notifyHook), body.state)


def video_index(index: int | None, parent: JobView) -> int:
    """A zero-based index of one of the parent's videos."""
    if index is None:
        raise invalid("index: an extension names one of the parent's videos, from 0", field="index")
    made = (parent.result or {}).get("videos")
    if isinstance(made, int) and not 0 <= index < made:
        raise invalid(f"index: task {parent.job_id} made {made} videos (0 to {made - 1})", field="index")
    return index


def submit_edits(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    """The editor: `prompt`, one image (`base64Array` as new-api relays document it, or `image`), and an
    optional `maskBase64` and `remix`; `action: "EDITS"` is implied."""
    body: EditsSubmission = request.body
    fields = _present(body, ("prompt", "image", "maskBase64", "remix"))
    if body.base64Array:
        fields["image"] = body.base64Array[0]
    model = model_for(str(fields.get("prompt") or ""), None)
    return _accept(jobs, _job("edits", model, fields, body.notifyHook), body.state)


def _present(body: BaseModel, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(body, name) for name in names if getattr(body, name) not in (None, "", [])}


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


def _links(*, result: str) -> dict[str, Any]:
    """OpenAPI links from an answer naming a task (at `result`) to the routes that take its id."""
    task = f"$response.body#/{result}"
    links = {
        "FetchTask": {"operationId": FETCH, "parameters": {"task_id": task}},
        "ListTasks": {"operationId": LIST, "requestBody": {"ids": [task]}},
        "ContinueModal": {"operationId": MODAL, "requestBody": {"taskId": task, "prompt": "--zoom 2"}},
    }
    return {"responses": {"200": {"links": links}}}


FETCH = "midjourney_get_task_task_id_fetch_mj_task__task_id__fetch_get"
LIST = "midjourney_post_task_list_by_condition_mj_task_list_by_condition_post"
MODAL = "midjourney_post_submit_modal_mj_submit_modal_post"
SUBMITTED = _links(result="result")


def _submit(
    path: str, summary: str, handle: Handler, body: type[BaseModel], *, finds_parent: bool = False
) -> CompatRoute:
    return CompatRoute(
        "POST",
        path,
        summary,
        handle,
        body=body,
        errors=(*CREATE_ERRORS, *LOOKUP_ERRORS) if finds_parent else CREATE_ERRORS,
        response=Submitted,
        openapi_extra=SUBMITTED,
    )


FAMILY = CompatFamily(
    name=NAME,
    prefix="/mj",
    routes=(
        _submit(
            "/submit/imagine",
            "Midjourney imagine (CometAPI-compatible)",
            _generator("imagine"),
            ImagineSubmission,
        ),
        _submit(
            "/submit/blend",
            "Midjourney blend of 2-5 images (CometAPI-compatible)",
            _generator("blend"),
            BlendSubmission,
        ),
        _submit(
            "/submit/describe",
            "Midjourney describe: prompts for an image (CometAPI-compatible)",
            _generator("describe"),
            DescribeSubmission,
        ),
        _submit(
            "/submit/video",
            "Midjourney video from a first frame, or an extension of a video task (CometAPI-compatible)",
            submit_video,
            VideoSubmission,
            finds_parent=True,
        ),
        _submit(
            "/submit/edits",
            "Midjourney editor: repaint an image by prompt, within a mask (CometAPI-compatible)",
            submit_edits,
            EditsSubmission,
        ),
        _submit(
            "/submit/action",
            "Press a button of a finished task (CometAPI-compatible)",
            submit_action,
            ActionSubmission,
            finds_parent=True,
        ),
        CompatRoute(
            "POST",
            "/submit/modal",
            "Give a task waiting in MODAL its prompt and/or mask",
            submit_modal,
            body=ModalSubmission,
            errors=(*LOOKUP_ERRORS, 409),
            response=Submitted,
        ),
        CompatRoute(
            "GET",
            "/task/{task_id}/fetch",
            "One Midjourney task by our task id",
            fetch,
            response=TaskObject,
            openapi_extra=_links(result="id"),
        ),
        CompatRoute(
            "POST",
            "/task/list-by-condition",
            "Several Midjourney tasks; ids not in this account are left out",
            list_by_condition,
            body=TaskCondition,
            response=TaskObjects,
        ),
    ),
    project=task_object,
    render_error=render_error,
    key_headers=("mj-api-secret",),
    error_schema=MidjourneyError,
)
