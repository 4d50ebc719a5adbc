"""What the API document says of the `/v1/videos` routes: the create body per provider (its models, and
the `seconds`, `size` and own fields it declares), the list's query rules, the video object and the
other answers, OpenAI's error envelope, and the links from a create to the routes that take its id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from schemas.jobs import HTTP_URL, URL_REST
from workers.providers.videos.shape import VideoModels

UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
CALLBACK_URL = {
    "type": "string",
    "pattern": rf"^({HTTP_URL})?$",
    "maxLength": 2048,
    "description": "genrelay's addition: where signed webhooks carrying the video object go (its host "
    "must resolve to public addresses).",
}
PROMPT = {"type": "string", "minLength": 1, "pattern": r"\S", "description": "What the video shows."}
# An image the provider fetches: an https URL (a `data:image/...;base64,` URI is taken too).
IMAGE_URL = {"type": "string", "pattern": rf"^https://[A-Za-z0-9.-]+([/?#]{URL_REST})?$"}
LOOSE = {"type": "string", "description": "As the model's provider takes it."}
EMPTY = {"type": "string", "maxLength": 0, "description": "Not sent."}


class OpenAIErrorDetail(BaseModel):
    message: str = Field(description="What was wrong, for a person, with the request id.")
    type: str = Field(description="`invalid_request_error`, `insufficient_quota`, ...")
    param: str | None = Field(description="The field at fault, in the client's words.")
    code: str | None = Field(description="A stable code: `invalid_api_key`, `task_not_exist`, ...")


class OpenAIError(BaseModel):
    """OpenAI's error envelope."""

    error: OpenAIErrorDetail


def _field(models: VideoModels, name: str, *, form: bool) -> dict[str, Any]:
    declared = dict(models.fields.get(name, LOOSE))
    if declared == LOOSE:
        return declared
    if form:
        # An empty form field counts as not sent.
        return _either(dict(models.form_fields.get(name, declared)), EMPTY)
    if name == "seconds" and "enum" in declared:
        # JSON clients send 8 as readily as "8".
        numbers = [int(value) for value in declared["enum"] if str(value).isdigit()]
        declared = _either(declared, {"type": "integer", "enum": numbers})
    # OpenAI's own fields, empty, count as not sent in JSON too.
    return _either(declared, EMPTY) if name in ("seconds", "size") else declared


def _either(schema: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """`schema` or `other`, described as `schema` is."""
    described = {"description": schema["description"]} if "description" in schema else {}
    options = schema["anyOf"] if set(schema) <= {"anyOf", "description"} else [schema]
    return {"anyOf": [*options, other], **described}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return _either(schema, {"type": "null"})


def _variant(models: VideoModels, served: list[str], *, default: bool, form: bool) -> dict[str, Any]:
    references: dict[str, Any] = {
        "type": "array",
        "maxItems": models.max_references,
        "items": IMAGE_URL,
        "description": "First frame, then last frame (or the provider's reference images): https URLs, "
        + ("or image files (PNG, JPEG, WebP, GIF)." if form else "or `data:image/...;base64,` URIs."),
    }
    props: dict[str, Any] = {
        "prompt": models.fields.get("prompt", PROMPT),
        "model": {"type": "string", "enum": served},
        "seconds": _field(models, "seconds", form=form),
        "size": _field(models, "size", form=form),
        "input_reference": references,
        "callback_url": CALLBACK_URL,
        **{name: _field(models, name, form=form) for name in models.extra_fields},
    }
    required = ["prompt"] if default else ["prompt", "model"]
    if not form:  # JSON's null is a field not sent
        props = {name: prop if name in required else _nullable(prop) for name, prop in props.items()}
    variant = {"type": "object", "required": required, "properties": props, "additionalProperties": False}
    return {**variant, **models.rules}


def request_body(declared: Mapping[str, VideoModels], default: str) -> dict[str, Any]:
    """A create's body, one variant per provider served by default (a provider served only by an
    operator's channel of its own, Sora, is left out: without that channel its models are refused)."""
    served = {name: models for name, models in declared.items() if models.unserved is None}

    def body(form: bool) -> dict[str, Any]:
        variants = [
            _variant(models, list(models.models), default=default in models.models, form=form)
            for models in served.values()
        ]
        return {"anyOf": variants}

    return {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": body(True)},
            "application/json": {"schema": body(False)},
        },
    }


VIDEO = {
    "type": "object",
    "required": ["id", "object", "model", "status", "progress", "seconds", "size", "created_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "task_id": {"type": "string"},
        "object": {"const": "video"},
        "model": {"type": "string"},
        "status": {"enum": ["queued", "in_progress", "completed", "failed"]},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "seconds": {"type": "string"},
        "size": {"type": "string"},
        "created_at": {"type": "integer"},
        "completed_at": {"type": ["integer", "null"]},
        "remixed_from_video_id": {"type": "string"},
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
        "metadata": {"type": "object"},
    },
}
PAGE = {
    "type": "object",
    "required": ["object", "data", "first_id", "last_id", "has_more"],
    "properties": {
        "object": {"const": "list"},
        "data": {"type": "array", "items": VIDEO},
        "first_id": {"type": ["string", "null"]},
        "last_id": {"type": ["string", "null"]},
        "has_more": {"type": "boolean"},
    },
}
DELETED = {
    "type": "object",
    "required": ["id", "object", "deleted"],
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "video.deleted"},
        "deleted": {"const": True},
    },
}
ONE = "#/paths/~1v1~1videos~1{video_id}"
BY_ID = {"video_id": "$response.body#/id"}
LINKS = {
    "GetVideo": {"operationRef": f"{ONE}/get", "parameters": BY_ID},
    "DeleteVideo": {"operationRef": f"{ONE}/delete", "parameters": BY_ID},
    "GetVideoContent": {"operationRef": f"{ONE}~1content/get", "parameters": BY_ID},
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def create_extra(declared: Mapping[str, VideoModels], default: str) -> dict[str, Any]:
    return {
        "requestBody": request_body(declared, default),
        "responses": {"200": {**_json("The video, queued.", VIDEO), "links": LINKS}},
    }


def list_extra() -> dict[str, Any]:
    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    return {
        "parameters": [
            query("after", {"type": "string", "pattern": f"^({UUID_PATTERN})?$"}, "The id the page follows."),
            query("limit", {"type": "string", "pattern": r"^(|0*([1-9]|[1-9][0-9]|100))$"}, "1 to 100 (20)."),
            query("order", {"enum": ["", "asc", "desc"]}, "By creation time (default `desc`)."),
        ],
        "responses": {"200": _json("A page of your videos.", PAGE)},
    }


def content_extra(variants: list[str]) -> dict[str, Any]:
    files = {"schema": {"type": "string", "format": "binary"}}
    return {
        "parameters": [
            {
                "name": "variant",
                "in": "query",
                "required": False,
                "schema": {"enum": ["", *variants]},
                "description": "`video` (default); a model may also offer its thumbnail or spritesheet.",
            }
        ],
        "responses": {
            "200": {
                "description": "The stored file.",
                "content": {"video/mp4": files, "image/webp": files, "image/jpeg": files, "image/png": files},
            },
            "307": {"description": "Object storage's presigned link to the file (`Location`)."},
        },
    }


def answer_extra(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"responses": {"200": _json(description, schema)}}


REMIX_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["prompt"],
                "properties": {"prompt": PROMPT, "callback_url": CALLBACK_URL},
                "additionalProperties": False,
            }
        }
    },
}
