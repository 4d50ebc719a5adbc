"""Reading a compatible form route's body: the route's own bounds on its size and its parts, and the
refusal it declares, raised afresh for every request."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.requests import Request
from starlette.types import Message

from orchestrator.api.compat.bodies import read_json_or_form
from workers.providers.compat import CompatAnswer, CompatError, CompatRequest, CompatRoute, Jobs


def handle(request: CompatRequest, jobs: Jobs) -> CompatAnswer:
    return CompatAnswer()


def request_of(body: bytes, content_type: str) -> Request:
    chunks = [body]

    async def receive() -> Message:
        return {"type": "http.request", "body": chunks.pop() if chunks else b"", "more_body": False}

    headers = [(b"content-type", content_type.encode())]
    # Starlette answers a bad form with an HTTP error only inside an application ("app" in the scope).
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "app": None}
    return Request(scope, receive)


def multipart(files: int) -> tuple[bytes, str]:
    parts = [("image", (f"{n}.png", b"\x89PNG", "image/png")) for n in range(files)]
    request = httpx.Request("POST", "http://genrelay.test/", data={"prompt": "x"}, files=parts)
    return request.read(), request.headers["content-type"]


def test_compat_mount_too_large_is_a_new_error_each_request() -> None:
    declared = CompatError(413, "file_too_large", "at most 4 bytes", "image")
    route = CompatRoute("POST", "", "create", handle, form=True, max_body_bytes=4, too_large=declared)
    refused = []
    for _ in range(3):
        with pytest.raises(CompatError) as caught:
            asyncio.run(read_json_or_form(request_of(b'{"prompt": "x"}', "application/json"), route))
        refused.append(caught.value)
    assert len({id(error) for error in refused}) == 3
    assert declared.__traceback__ is None  # nothing of the requests hangs on the declaration
    last = refused[-1]
    assert (last.status, last.code, last.message, last.field) == (
        413,
        "file_too_large",
        "at most 4 bytes",
        "image",
    )


def test_compat_mount_form_routes_may_bound_their_parts() -> None:
    body, content_type = multipart(files=3)
    open_route = CompatRoute("POST", "", "create", handle, form=True)
    _, form = asyncio.run(read_json_or_form(request_of(body, content_type), open_route))
    assert form is not None
    assert (len(form["image"]), form["prompt"]) == (3, ["x"])

    bounded = CompatRoute("POST", "", "create", handle, form=True, max_form_files=2, max_form_fields=4)
    with pytest.raises(CompatError) as caught:
        asyncio.run(read_json_or_form(request_of(body, content_type), bounded))
    assert (caught.value.status, caught.value.code) == (422, "invalid_request")
    assert caught.value.message == "unreadable multipart body: Too many files. Maximum number of files is 2."
