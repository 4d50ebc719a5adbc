"""The `/v1/videos` family built from what the providers declare: its routes, its projection (the
video object, whichever provider runs the job) and OpenAI's error envelope in the client's words."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from workers.providers.compat import (
    CREATE_ERRORS,
    CompatAnswer,
    CompatError,
    CompatFamily,
    CompatRoute,
    Handler,
)
from workers.providers.videos import document, routes
from workers.providers.videos.routes import Served
from workers.providers.videos.shape import VideoModels
from workers.providers.videos.uploads import MAX_IMAGE_BYTES, too_large

NAME = "videos"
MAX_REFERENCES = 4
MAX_BODY_BYTES = MAX_REFERENCES * MAX_IMAGE_BYTES  # images as base64 in JSON, plus the text fields
CODES = {
    "unauthenticated": "invalid_api_key",
    "insufficient_credits": "insufficient_quota",
    "key_budget_exceeded": "insufficient_quota",
    "job_not_found": "task_not_exist",
    "not_found": "task_not_exist",
}
TYPES = {401: "invalid_request_error", 402: "insufficient_quota", 403: "permission_error"}


def error_renderer(declared: Mapping[str, VideoModels]) -> Callable[[CompatError, str | None], CompatAnswer]:
    params: dict[str, str | None] = {"input": None}
    words: list[tuple[str, str]] = [("input.", "")]
    for models in declared.values():
        params.update(models.params)
        words.extend(pair for pair in models.words if pair not in words)

    def render_error(error: CompatError, request_id: str | None) -> CompatAnswer:
        """OpenAI's envelope, with the request id in the message as CometAPI puts it."""
        status = 400 if error.status == 422 else error.status  # OpenAI-style APIs say 400 for bad input
        kind = TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        param = params.get(error.field, error.field.removeprefix("input.")) if error.field else None
        message = error.message
        if error.field == "input":  # a check of the whole input: the field its message names
            fields = {ours.removeprefix("input."): theirs for ours, theirs in params.items() if "." in ours}
            param = next((theirs for ours, theirs in fields.items() if f"{ours}: " in message), None)
        for ours, theirs in words:
            message = message.replace(ours, theirs)
        message = f"{message} (request id: {request_id})" if request_id else message
        body = {"message": message, "type": kind, "param": param, "code": CODES.get(error.code, error.code)}
        return CompatAnswer(status, {"error": body})

    return render_error


def family(declared: Mapping[str, VideoModels]) -> CompatFamily | None:
    """The shared family over the providers' declared video models (None when none declares any)."""
    if not declared:
        return None
    served = Served(declared)
    models = ", ".join(f"`{model}`" for model in sorted(served.by_model))

    def bound(handler: routes.ServedHandler) -> Handler:
        return functools.partial(handler, served)

    create = CompatRoute(
        "POST",
        "",
        "Create a video (OpenAI-compatible; the model picks the provider)",
        bound(routes.create_video),
        form=True,
        description=(
            "`multipart/form-data` (as OpenAI's SDK sends it) or JSON with `prompt` (required), `model` "
            f"(default `{served.default}`; one of {models}), `seconds`, `size` and `input_reference` "
            "images (files, https URLs or `data:image/...;base64,` URIs; first frame, last frame). "
            "`callback_url` (genrelay's addition) gets signed webhooks carrying the video object."
        ),
        errors=CREATE_ERRORS,
        openapi_extra=document.create_extra(declared, served.default),
        max_body_bytes=MAX_BODY_BYTES,
        too_large=too_large(
            f"the request is larger than {MAX_BODY_BYTES} bytes; each input_reference may be "
            f"at most {MAX_IMAGE_BYTES} bytes (20 MB)"
        ),
        max_form_files=MAX_REFERENCES + 2,
        max_form_fields=16,
    )
    return CompatFamily(
        name=NAME,
        prefix="/v1/videos",
        routes=(
            create,
            # The list's query and the content's variant are read by the handlers and declared, with
            # their rules, in `openapi_extra`.
            CompatRoute(
                "GET",
                "",
                "Your videos, newest first",
                bound(routes.list_videos),
                errors=(422,),
                openapi_extra=document.list_extra(),
            ),
            CompatRoute(
                "GET",
                "/{video_id}",
                "A video object",
                bound(routes.get_video),
                openapi_extra=document.answer_extra("The video.", document.VIDEO),
            ),
            CompatRoute(
                "DELETE",
                "/{video_id}",
                "Delete a finished video's stored files",
                bound(routes.delete_video),
                errors=(409,),  # it has not finished
                openapi_extra=document.answer_extra("The video is deleted.", document.DELETED),
            ),
            CompatRoute(
                "GET",
                "/{video_id}/content",
                "The video's file (or its thumbnail or spritesheet), from genrelay's storage",
                bound(routes.get_video_content),
                errors=(422, 409),  # a variant the model has not (400); a video not completed (409)
                openapi_extra=document.content_extra(served.variants()),
            ),
            CompatRoute(
                "POST",
                "/{video_id}/remix",
                "Remix a video (Sora only)",
                bound(routes.remix_video),
                errors=CREATE_ERRORS,
                openapi_extra={
                    "requestBody": document.REMIX_BODY,
                    **document.answer_extra("The remix, queued.", document.VIDEO),
                },
            ),
        ),
        project=served.project,
        render_error=error_renderer(declared),
        tag="videos (OpenAI-compatible)",
        error_schema=document.OpenAIError,
    )
