"""What the API document says of the Replicate-compatible routes: the create bodies (the model's inputs,
the webhook fields, a known version), `Prefer: wait`, the page cursor, the prediction and the other
answers, RFC 7807 problems, and the links from a create to the routes that take its prediction id."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from schemas.jobs import HTTP_URL
from workers.providers.replicate.catalog import VERSIONS
from workers.providers.replicate.schemas import EVENTS, MAX_INPUT_BYTES, MAX_OUTPUTS

# `Prefer` may carry any preferences; a `wait=N` among them takes 1 to 60 seconds (`wait` alone: 60).
PREFER_PATTERN = r"^(?!(.*[,;])?\s*[wW][aA][iI][tT]=0*(0|6[1-9]|[7-9][0-9]|[1-9][0-9]{2,})\s*([,;]|$))"
UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# An http(s) URL as far as a pattern can say (its host must also resolve to public addresses only), or
# "" for none.
WEBHOOK = {
    "type": "string",
    "maxLength": 2048,
    "pattern": rf"^({HTTP_URL})?$",
}
STATUSES = ["starting", "processing", "succeeded", "failed", "canceled"]


class ReplicateProblem(BaseModel):
    """An RFC 7807 problem, as Replicate answers a refusal."""

    title: str
    status: int = Field(description="The HTTP status, repeated.")
    detail: str = Field(description="What was wrong, for a person; it names the field at fault.")


def create_body(*, by_version: bool) -> dict[str, Any]:
    """A create's body; unknown fields are ignored, as Replicate's own API ignores them."""
    props: dict[str, Any] = {
        "input": {
            "type": "object",
            "description": f"The model's inputs, as its Replicate page lists them (at most {MAX_INPUT_BYTES} "
            "bytes as JSON: files go by URL).",
            "properties": {
                "num_outputs": {
                    "enum": list(range(1, MAX_OUTPUTS + 1)),
                    "description": "The images to make (default 1).",
                }
            },
            "additionalProperties": True,  # every input is kept and sent on
        },
        "webhook": {
            "anyOf": [WEBHOOK, {"type": "null"}],
            "description": "Where genrelay sends the prediction's webhooks.",
        },
        "webhook_completed": {
            "anyOf": [WEBHOOK, {"type": "null"}],
            "description": "Legacy: a webhook for the `completed` event only.",
        },
        "webhook_events_filter": {
            "anyOf": [{"type": "array", "items": {"enum": list(EVENTS)}}, {"type": "null"}],
            "description": "Which webhooks to send (default: output, completed).",
        },
    }
    required = ["input"]
    if by_version:
        versions = list(VERSIONS) + [f"{model}:{v}" for v, model in VERSIONS.items()]
        props["version"] = {"type": "string", "enum": versions, "description": "A version genrelay runs."}
        required.append("version")
    return {"type": "object", "required": required, "properties": props}


def prefer_header() -> dict[str, Any]:
    return {
        "name": "Prefer",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": PREFER_PATTERN},
        "description": "`wait` or `wait=N` (1-60): answer when the prediction ends, or after N seconds.",
    }


PREDICTION = {
    "type": "object",
    "required": ["id", "model", "version", "input", "status", "created_at", "urls"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "model": {"type": "string"},
        "version": {"type": "string"},
        "input": {"type": "object"},
        "logs": {"type": "string"},
        "output": {
            "description": "A URL, a list of URLs, or the model's JSON output; null until it succeeds."
        },
        "data_removed": {"type": "boolean"},
        "error": {"type": ["string", "null"]},
        "source": {"type": "string"},
        "status": {"type": "string", "enum": STATUSES},
        "created_at": {"type": "string", "format": "date-time"},
        "started_at": {"type": ["string", "null"], "format": "date-time"},
        "completed_at": {"type": ["string", "null"], "format": "date-time"},
        "urls": {
            "type": "object",
            "required": ["get", "cancel"],
            "properties": {"get": {"type": "string"}, "cancel": {"type": "string"}},
        },
        "metrics": {"type": "object", "properties": {"predict_time": {"type": "number"}}},
    },
}
PAGE = {
    "type": "object",
    "required": ["next", "previous", "results"],
    "properties": {
        "next": {"type": ["string", "null"], "description": "The following page's URL."},
        "previous": {"type": "null"},
        "results": {"type": "array", "items": PREDICTION},
    },
}
VERSION = {
    "type": "object",
    "required": ["id", "created_at", "cog_version", "openapi_schema"],
    "properties": {
        "id": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "cog_version": {"type": "string"},
        "openapi_schema": {"type": "object"},
    },
}
SECRET = {"type": "object", "required": ["key"], "properties": {"key": {"type": "string"}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _pointer(path: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1")


def create_extra(prefix: str, *, by_version: bool) -> dict[str, Any]:
    """`openapi_extra` of a create: its body, its answer and the links to the prediction's routes."""
    one = f"{prefix}/predictions/{{prediction_id}}"
    by_id = {"prediction_id": "$response.body#/id"}
    links = {
        "GetPrediction": {"operationRef": f"{_pointer(one)}/get", "parameters": by_id},
        "CancelPrediction": {"operationRef": f"{_pointer(one + '/cancel')}/post", "parameters": by_id},
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": create_body(by_version=by_version)}},
        },
        "responses": {"201": {**_json("The prediction.", PREDICTION), "links": links}},
    }


def cursor_parameter() -> dict[str, Any]:
    return {
        "name": "cursor",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "pattern": f"^({UUID_PATTERN})?$"},
        "description": "Where the page starts: as the previous page's `next` gives it (empty: the newest).",
    }


def answer_extra(description: str, schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {"responses": {status: _json(description, schema)}}
