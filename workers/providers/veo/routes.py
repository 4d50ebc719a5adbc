"""Veo-compatible routes (`/v1/videos`), as CometAPI serves Veo: the multipart create (or the same
fields as JSON), the OpenAI-style video object and errors, and the MP4 served from our storage."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from schemas.jobs import JobCreate, JobStatus
from workers.providers.compat import (
    CompatAnswer,
    CompatError,
    CompatFamily,
    CompatRequest,
    CompatRoute,
    Jobs,
    JobView,
    StoredOutput,
    invalid,
)
from workers.providers.veo.projection import DEFAULT_SIZE, STATUS, video_object
from workers.providers.veo.schemas import MAX_IMAGE_BYTES
from workers.providers.veo.uploads import data_uri, too_large

PROVIDER = "veo"
DEFAULT_MODEL = "veo3-fast"
MAX_REFERENCES = 2  # first frame, last frame
MAX_BODY_BYTES = 3 * MAX_IMAGE_BYTES  # two images as base64 in JSON, plus the text fields
FIELDS = ("prompt", "model", "size", "seconds", "input_reference", "callback_url")
# Where the unified input names a field differently from the client's form.
PARAMS = {
    "input.durationSeconds": "seconds",
    "input.image": "input_reference",
    "input.lastFrame": "input_reference",
    "input": None,  # the input as a whole (a first/last-frame clip lasts 8 seconds)
}
# The unified input's words in the client's, for messages.
WORDS = (("input.", ""), ("durationSeconds", "seconds"), ("lastFrame", "input_reference"))
CODES = {
    "unauthenticated": "invalid_api_key",
    "insufficient_credits": "insufficient_quota",
    "job_not_found": "task_not_exist",
    "not_found": "task_not_exist",
}
TYPES = {401: "invalid_request_error", 402: "insufficient_quota", 403: "permission_error"}
_TEXT = {"type": "string"}
_FIELDS = {"prompt": _TEXT, "model": _TEXT, "size": {"enum": ["16x9", "9x16"]}, "seconds": _TEXT}
_FILE = {"type": "string", "format": "binary"}
REQUEST_BODY = {
    "required": True,
    "content": {
        kind: {
            "schema": {
                "type": "object",
                "required": ["prompt"],
                "properties": {**_FIELDS, "input_reference": {"type": "array", "items": item}},
            }
        }
        for kind, item in (("multipart/form-data", _FILE), ("application/json", _TEXT))
    },
}


def render_error(error: CompatError, request_id: str | None) -> CompatAnswer:
    """OpenAI's envelope, with the request id in the message as CometAPI puts it."""
    status = 400 if error.status == 422 else error.status  # OpenAI-style APIs say 400 for bad input
    kind = TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    param = PARAMS.get(error.field, error.field.removeprefix("input.")) if error.field else None
    message = error.message
    for ours, theirs in WORDS:
        message = message.replace(ours, theirs)
    message = f"{message} (request id: {request_id})" if request_id else message
    body = {"message": message, "type": kind, "param": param, "code": CODES.get(error.code, error.code)}
    return CompatAnswer(status, {"error": body})


def create_video(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    def render(job: JobView) -> CompatAnswer:
        return CompatAnswer(200, {k: v for k, v in video_object(job).items() if k != "task_id"})

    return jobs.create(job_create(create_fields(request)), render)


def get_video(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    return CompatAnswer(200, video_object(jobs.get(request.path_params["video_id"])))


def get_video_content(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    video_id = request.path_params["video_id"]
    job = jobs.get(video_id)
    variant = request.query.get("variant", "video")
    if variant != "video":
        raise invalid(f"variant {variant!r} is not available; only 'video'", "variant")
    if job.status != JobStatus.SUCCEEDED:
        status = STATUS[JobStatus(job.status)]
        reason = f": {job.error_message}" if status == "failed" and job.error_message else ""
        raise CompatError(400, "video_not_ready", f"video {video_id} is {status}{reason}")
    clip = next((label for label in job.outputs if label.startswith("video")), None)
    clip = clip or next(iter(job.outputs), None)
    if clip is None:
        raise CompatError(404, "not_found", f"video {video_id} has no stored file")
    return CompatAnswer(output=StoredOutput(job.job_id, clip))


# --- reading a create -------------------------------------------------------------------------------


def create_fields(request: CompatRequest) -> dict[str, Any]:
    """The create's fields from a multipart form or a JSON object; `input_reference` as a list."""
    if request.form is None:
        fields = dict(request.body or {})
        refs = fields.get("input_reference")
        fields["input_reference"] = [] if refs is None else refs if isinstance(refs, list) else [refs]
        return fields
    # A field sent twice counts once, with its last value; the images, all of them, in order.
    form = {name: values[-1] for name, values in request.form.items() if name != "input_reference"}
    return {**form, "input_reference": [data_uri(item) for item in request.form.get("input_reference", ())]}


def job_create(fields: dict[str, Any]) -> JobCreate:
    """The unified job a create asks for: no reference is text-to-video, one or two image-to-video."""
    unknown = next((name for name in fields if name not in FIELDS), None)
    if unknown is not None:
        raise invalid(f"unknown parameter: {unknown!r}", unknown)
    prompt = _text(fields, "prompt")
    if not prompt or not prompt.strip():
        raise invalid("prompt is required", "prompt")
    refs = fields["input_reference"]
    if len(refs) > MAX_REFERENCES or not all(isinstance(ref, str) and ref for ref in refs):
        raise invalid(
            "input_reference takes one image (first frame) or two (first and last frame)", "input_reference"
        )
    job_input: dict[str, Any] = {"prompt": prompt, "size": _text(fields, "size") or DEFAULT_SIZE}
    if fields.get("seconds") not in (None, ""):
        job_input["durationSeconds"] = fields["seconds"]
    job_input.update(zip(("image", "lastFrame"), refs, strict=False))
    try:
        return JobCreate(
            provider=PROVIDER,
            operation="image_to_video" if refs else "text_to_video",
            model=_text(fields, "model") or DEFAULT_MODEL,
            input=job_input,
            callback_url=_text(fields, "callback_url") or None,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise invalid(f"{field}: {error['msg']}", field) from None


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None or isinstance(value, str):
        return value
    raise invalid(f"{name} must be a string", name)


FAMILY = CompatFamily(
    name="veo",
    prefix="/v1/videos",
    routes=(
        CompatRoute(
            "POST",
            "",
            "Create a Veo video (CometAPI-compatible)",
            create_video,
            form=True,
            description=(
                "`multipart/form-data` with `prompt` (required), `model` (default `veo3-fast`), `size` "
                "(`16x9` | `9x16`), `seconds` and up to two `input_reference` images (first frame, last "
                "frame; at most 20 MB each). The same fields are accepted as a JSON object, with "
                "`input_reference` an https URL or `data:image/...;base64,` URI, or a list of two. "
                "`callback_url` (genrelay's addition) gets signed webhooks carrying the video object."
            ),
            openapi_extra={"requestBody": REQUEST_BODY},
            max_body_bytes=MAX_BODY_BYTES,
            too_large=too_large(
                f"the request is larger than {MAX_BODY_BYTES} bytes; each input_reference may be "
                f"at most {MAX_IMAGE_BYTES} bytes (20 MB)"
            ),
            max_form_files=MAX_REFERENCES + 2,
            max_form_fields=len(FIELDS) + 4,
        ),
        CompatRoute("GET", "/{video_id}", "A Veo video object (CometAPI-compatible)", get_video),
        CompatRoute(
            "GET",
            "/{video_id}/content",
            "The video's MP4, from genrelay's storage",
            get_video_content,
            query=("variant",),
        ),
    ),
    project=video_object,
    render_error=render_error,
)
