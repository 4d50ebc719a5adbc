"""Veo-compatible routes (`/v1/videos`), as CometAPI serves Veo: the multipart create (or the same
fields as JSON), the OpenAI-style video object and errors, and the MP4 served from our storage."""

from __future__ import annotations

import base64
import json
import mimetypes
from collections.abc import Sequence
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive

from orchestrator import models
from orchestrator.api import intake
from orchestrator.api.compat.common import CompatError, compat_route, load_job, output_urls
from orchestrator.api.context import AppContext, Caller, Context
from orchestrator.creating import Origin
from orchestrator.errors import InvalidRequestError, NotFoundError
from orchestrator.projections import veo
from orchestrator.storage import LocalStorage
from schemas.jobs import JobCreate, JobStatus
from workers.providers.veo.schemas import MAX_IMAGE_BYTES

PROVIDER = FORMAT = "veo"
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
# Image types recognised by their first bytes, for uploads sent as application/octet-stream.
MAGIC = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif", b"RIFF": "image/webp"}
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


class UploadTooLargeError(InvalidRequestError):
    code = "file_too_large"
    http_status = 413


def render_error(request: Request, error: CompatError) -> Response:
    """OpenAI's envelope, with the request id in the message as CometAPI puts it."""
    status = 400 if error.status == 422 else error.status  # OpenAI-style APIs say 400 for bad input
    kind = TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    request_id = request.scope.get("state", {}).get("request_id")
    param = PARAMS.get(error.field, error.field.removeprefix("input.")) if error.field else None
    message = error.message
    for ours, theirs in WORDS:
        message = message.replace(ours, theirs)
    message = f"{message} (request id: {request_id})" if request_id else message
    body = {"message": message, "type": kind, "param": param, "code": CODES.get(error.code, error.code)}
    return JSONResponse({"error": body}, status_code=status)


router = APIRouter(prefix="/v1/videos", tags=["veo-compatible"], route_class=compat_route(render_error))
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def video_object(context: AppContext, job: models.Job, outputs: Sequence[models.JobOutput]) -> dict[str, Any]:
    return veo.video_object(job, output_urls(context, outputs))


@router.post(
    "",
    summary="Create a Veo video (CometAPI-compatible)",
    description=(
        "`multipart/form-data` with `prompt` (required), `model` (default `veo3-fast`), `size` "
        "(`16x9` | `9x16`), `seconds` and up to two `input_reference` images (first frame, last "
        "frame; at most 20 MB each). The same fields are accepted as a JSON object, with "
        "`input_reference` an https URL or `data:image/...;base64,` URI, or a list of two. "
        "`callback_url` (genrelay's addition) gets signed webhooks carrying the video object."
    ),
    openapi_extra={"requestBody": REQUEST_BODY},
)
async def create_video(
    request: Request, context: Context, caller: Caller, idempotency_key: IdempotencyKey = None
) -> Response:
    job_request = job_create(await read_fields(request))

    def render(job: models.Job, outputs: Sequence[models.JobOutput]) -> tuple[int, dict[str, Any]]:
        created = {k: v for k, v in video_object(context, job, outputs).items() if k != "task_id"}
        return 200, created

    accept = partial(intake.accept, idempotency_key=idempotency_key, origin=Origin(api_format=FORMAT))
    return (await run_in_threadpool(accept, context, caller, job_request, render)).response()


@router.get("/{video_id}", summary="A Veo video object (CometAPI-compatible)")
def get_video(video_id: str, context: Context, caller: Caller) -> Response:
    job, outputs = load_job(context, caller.account_id, PROVIDER, video_id)
    return JSONResponse(video_object(context, job, outputs))


@router.get("/{video_id}/content", summary="The video's MP4, from genrelay's storage")
def get_video_content(
    video_id: str, request: Request, context: Context, caller: Caller, variant: str = "video"
) -> Response:
    job, outputs = load_job(context, caller.account_id, PROVIDER, video_id)
    if variant != "video":
        raise InvalidRequestError(f"variant {variant!r} is not available; only 'video'", field="variant")
    if job.state != JobStatus.SUCCEEDED:
        status = veo.STATUS[JobStatus(job.state)]
        reason = f": {job.error_message}" if status == "failed" and job.error_message else ""
        return render_error(
            request, CompatError(400, "video_not_ready", f"video {video_id} is {status}{reason}")
        )
    clip = next((o for o in outputs if (o.label or "").startswith("video")), None) or min(
        outputs, key=lambda o: o.output_index, default=None
    )
    if clip is None:
        raise NotFoundError(f"video {video_id} has no stored file")
    return _serve(context, clip)


def _serve(context: AppContext, clip: models.JobOutput) -> Response:
    """Stream a local file; send object storage's clients to a fresh presigned link."""
    storage = context.storage
    if isinstance(storage, LocalStorage):
        path = storage.path_for(clip.storage_key)
        if not path.is_file():
            raise NotFoundError("the stored video is missing")
        return FileResponse(path, media_type=clip.content_type)
    url = storage.download_url(clip.storage_key, expires_in=context.settings.download_url_ttl_s)
    return RedirectResponse(url, status_code=307)


# --- reading a create -------------------------------------------------------------------------------


async def read_fields(request: Request) -> dict[str, Any]:
    """The create's fields from a multipart form or a JSON object; `input_reference` as a list."""
    body = await _read_body(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in {"multipart/form-data", "application/x-www-form-urlencoded"}:
        return await _form_fields(request, body)
    if content_type == "application/json" or not content_type:
        try:
            fields = json.loads(body) if body else {}
        except ValueError:
            raise InvalidRequestError("the request body is not valid JSON") from None
        if not isinstance(fields, dict):
            raise InvalidRequestError("the request body must be a JSON object")
        refs = fields.get("input_reference")
        fields["input_reference"] = [] if refs is None else refs if isinstance(refs, list) else [refs]
        return fields
    raise InvalidRequestError(f"send multipart/form-data or application/json, not {content_type}")


async def _read_body(request: Request) -> bytes:
    """The body, refused past MAX_BODY_BYTES before it is all read (Content-Length or not)."""
    too_large = UploadTooLargeError(
        f"the request is larger than {MAX_BODY_BYTES} bytes; each input_reference may be "
        f"at most {MAX_IMAGE_BYTES} bytes (20 MB)",
        field="input_reference",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _form_fields(request: Request, body: bytes) -> dict[str, Any]:
    parsed = Request(request.scope, receive=_receiver(body))
    try:
        form = await parsed.form(max_files=MAX_REFERENCES + 2, max_fields=len(FIELDS) + 4)
    except StarletteHTTPException as exc:  # starlette's word on a malformed or oversized form
        raise InvalidRequestError(f"unreadable multipart body: {exc.detail}") from None
    try:
        fields: dict[str, Any] = {k: v for k, v in form.multi_items() if k != "input_reference"}
        refs = [await _reference(item) for item in form.getlist("input_reference")]
    finally:
        await form.close()
    return {**fields, "input_reference": refs}


def _receiver(body: bytes) -> Receive:
    """An ASGI receive that hands the already-read body to a second Request."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _reference(item: UploadFile | str) -> str:
    """An uploaded image as a data URI (a text value is taken as a URL or data URI already)."""
    if isinstance(item, str):
        return item
    data = await item.read(MAX_IMAGE_BYTES + 1)
    name = item.filename or "input_reference"
    if len(data) > MAX_IMAGE_BYTES:
        message = f"input_reference {name!r} is larger than {MAX_IMAGE_BYTES} bytes (20 MB)"
        raise UploadTooLargeError(message, field="input_reference")
    if not data:
        raise InvalidRequestError(f"input_reference {name!r} is empty", field="input_reference")
    mime = _image_type(item, data)
    if mime is None:
        message = f"input_reference {name!r} is not an image (PNG, JPEG, WebP or GIF)"
        raise InvalidRequestError(message, field="input_reference")
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _image_type(item: UploadFile, data: bytes) -> str | None:
    declared = (item.content_type or "").split(";")[0].strip().lower()
    if declared.startswith("image/"):
        return declared
    guessed = mimetypes.guess_type(item.filename or "")[0] or ""
    if guessed.startswith("image/"):
        return guessed
    return next((mime for magic, mime in MAGIC.items() if data.startswith(magic)), None)


# --- the unified job ------------------------------------------------------------------------------------


def job_create(fields: dict[str, Any]) -> JobCreate:
    """The unified job a create asks for: no reference is text-to-video, one or two image-to-video."""
    unknown = next((name for name in fields if name not in FIELDS), None)
    if unknown is not None:
        raise InvalidRequestError(f"unknown parameter: {unknown!r}", field=unknown)
    prompt = _text(fields, "prompt")
    if not prompt or not prompt.strip():
        raise InvalidRequestError("prompt is required", field="prompt")
    refs = fields["input_reference"]
    if len(refs) > MAX_REFERENCES or not all(isinstance(ref, str) and ref for ref in refs):
        raise InvalidRequestError(
            "input_reference takes one image (first frame) or two (first and last frame)",
            field="input_reference",
        )
    job_input: dict[str, Any] = {"prompt": prompt, "size": _text(fields, "size") or veo.DEFAULT_SIZE}
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
        raise InvalidRequestError(f"{field}: {error['msg']}", field=field) from None


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None or isinstance(value, str):
        return value
    raise InvalidRequestError(f"{name} must be a string", field=name)
