"""Result files of the local storage backend, behind HMAC-signed, expiring links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from orchestrator.api.context import Context
from orchestrator.api.errors import error_responses
from orchestrator.errors import AuthenticationError, NotFoundError
from orchestrator.storage import LocalStorage

router = APIRouter(tags=["files"])


@router.get(
    "/v1/files/{key:path}",
    summary="Download a stored result (local storage only)",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file, as its type says.",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        },
        **error_responses(
            401,
            404,
            422,
            described={401: "The link's signature is wrong, or the link has expired (`unauthenticated`)."},
        ),
    },
)
def download(
    key: str,
    context: Context,
    expires: Annotated[
        int, Query(description="When the link expires (Unix seconds); part of the signed link.")
    ] = 0,
    signature: Annotated[str, Query(description="The link's signature; part of the signed link.")] = "",
) -> FileResponse:
    storage = context.storage
    if not isinstance(storage, LocalStorage):
        raise NotFoundError("files are served from object storage; use the URL on the job")
    if not storage.verify(key, expires, signature):
        raise AuthenticationError(
            "this download link is invalid or has expired; fetch the job for a fresh one"
        )
    try:
        path = storage.path_for(key)
    except ValueError:
        raise NotFoundError("no such file") from None
    if not path.is_file():
        raise NotFoundError("no such file")
    return FileResponse(path, filename=path.name)
