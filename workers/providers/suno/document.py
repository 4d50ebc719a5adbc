"""How the `/suno/...` routes read in the API document: the `{code, message, data}` envelope of their
answers and refusals, the bodies of the simple submits, and the links from a submit to its fetch."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from schemas.jobs import CALLBACK_URL_PATTERN, MAX_CALLBACK_URL_LENGTH

FETCH = "suno_get_fetch_task_id_suno_fetch__task_id__get"
FETCH_MANY = "suno_post_fetch_suno_fetch_post"
# Unused fields may come as "" or null (clients built on Go structs send every field): not sent.
BLANK: list[dict[str, Any]] = [{"type": "null"}, {"const": ""}]
HOOK = {
    "anyOf": [
        {"type": "string", "maxLength": MAX_CALLBACK_URL_LENGTH, "pattern": CALLBACK_URL_PATTERN},
        *BLANK,
    ],
    "description": "Where the task is POSTed as it changes; its host must resolve to a public address.",
}


def body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """A JSON request body of these fields and no others."""
    schema = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


LYRICS_BODY = body(
    {
        "prompt": {"type": "string", "minLength": 1, "maxLength": 3000, "pattern": r"\S"},
        "mv": {"description": "Ignored: lyrics have no model to choose."},
        "notify_hook": HOOK,
    },
    ["prompt"],
)
UPLOAD_BODY = body(
    {
        "url": {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 2083},
        "notify_hook": HOOK,
    },
    ["url"],
)
CREATED_LINKS = {
    "FetchTask": {"operationId": FETCH, "parameters": {"task_id": "$response.body#/data"}},
    "FetchTasks": {"operationId": FETCH_MANY, "requestBody": {"ids": ["$response.body#/data"]}},
}


def created_links() -> dict[str, Any]:
    return {"responses": {"200": {"links": CREATED_LINKS}}}


class SunoError(BaseModel):
    """A refusal: new-api's string code (`invalid_request`, `task_not_exist`, `unauthorized`,
    `quota_not_enough`, ...) and a message naming the field to fix."""

    code: str
    message: str
    data: None


class SunoCreated(BaseModel):
    """A submit's answer: `data` is the task id to fetch."""

    code: Literal["success"]
    message: str
    data: str


class SunoFetched(BaseModel):
    """A fetch's answer: `data` is the TaskDto (or a list of them)."""

    code: Literal["success"]
    message: str
    data: dict[str, Any] | list[dict[str, Any]]
