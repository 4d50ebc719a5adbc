"""Reading a compatible route's body within its bounds: a JSON object, or the fields of a multipart or
urlencoded form (each a list of values, files as `Upload`s), refused past the route's size and part
limits before it is all read."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import Message, Receive

from workers.providers.compat import CompatError, CompatRoute, Upload, invalid

FORM_TYPES = {"multipart/form-data", "application/x-www-form-urlencoded"}
MAX_FORM_FILES, MAX_FORM_FIELDS = 8, 32


async def read_json_or_form(
    request: Request, route: CompatRoute
) -> tuple[Any, dict[str, list[str | Upload]] | None]:
    """A form route's body: (the JSON object, None) or (None, the form's fields, each a list)."""
    body = await _read_body(request, route)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        return None, await _form_fields(request, body, route)
    if content_type == "application/json" or not content_type:
        try:
            fields = json.loads(body) if body else {}
        except ValueError:
            raise invalid("the request body is not valid JSON") from None
        if not isinstance(fields, dict):
            raise invalid("the request body must be a JSON object")
        return fields, None
    raise invalid(f"send multipart/form-data or application/json, not {content_type}")


async def _read_body(request: Request, route: CompatRoute) -> bytes:
    """The body, refused past the route's bound before it is all read (Content-Length or not)."""
    limit = route.max_body_bytes
    # A new exception for each request: the route's own, raised again and again, would keep every
    # earlier request's frames (and the chunks they read) alive through its growing traceback.
    model = route.too_large or CompatError(
        413, "request_too_large", f"the request is larger than {limit} bytes"
    )
    too_large = CompatError(model.status, model.code, model.message, model.field, model.headers)
    declared = request.headers.get("content-length", "")
    if limit is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if limit is not None and size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _form_fields(request: Request, body: bytes, route: CompatRoute) -> dict[str, list[str | Upload]]:
    parsed = Request(request.scope, receive=_receiver(body))
    max_files = route.max_form_files if route.max_form_files is not None else MAX_FORM_FILES
    max_fields = route.max_form_fields if route.max_form_fields is not None else MAX_FORM_FIELDS
    try:
        form = await parsed.form(max_files=max_files, max_fields=max_fields)
    except StarletteHTTPException as exc:  # starlette's word on a malformed or oversized form
        raise invalid(f"unreadable multipart body: {exc.detail}") from None
    fields: dict[str, list[str | Upload]] = {}
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                fields.setdefault(name, []).append(
                    Upload(value.filename, value.content_type, await value.read())
                )
            else:
                fields.setdefault(name, []).append(value)
    finally:
        await form.close()
    return fields


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
