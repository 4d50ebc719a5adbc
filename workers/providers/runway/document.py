"""What the API document says of the Runway-compatible routes: each create's body as Runway takes it
(the job input's own rules, the priced models, our `callback_url` and `parentTaskId`), the task
object, the `{"error": ...}` body and the links from a create to the routes that take its task id."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from schemas.jobs import CALLBACK_URL_PATTERN
from workers.providers.runway.schemas import (
    IMAGE_URI_PREFIXES,
    RUNWAY_VERSION,
    RunwayImageToVideoInput,
    RunwayTextToImageInput,
    uri_schema,
)
from workers.providers.runway.schemas_video import (
    PARENT_FIELD,
    VIDEO_URI_PREFIXES,
    RunwayCharacterPerformanceInput,
    RunwayTextToVideoInput,
    RunwayVideoToVideoInput,
    RunwayVideoUpscaleInput,
)

PARENT_TASK = "parentTaskId"
VERSION_HEADER = "X-Runway-Version"
# Where a create body names the earlier task it takes its video (or character) from, in Runway's word.
PARENT_ALTERNATIVE = {
    "video_to_video": "videoUri",
    "video_upscale": "videoUri",
    "character_performance": "character",
}
INPUTS: Mapping[str, type[BaseModel]] = {
    "image_to_video": RunwayImageToVideoInput,
    "text_to_image": RunwayTextToImageInput,
    "text_to_video": RunwayTextToVideoInput,
    "video_to_video": RunwayVideoToVideoInput,
    "video_upscale": RunwayVideoUpscaleInput,
    "character_performance": RunwayCharacterPerformanceInput,
}
# An http(s) URL as far as a pattern can say; its host must also resolve to public addresses only. Like
# the body's other optional fields it may be null (a typed client's unset field): no webhooks then.
CALLBACK_URL = {
    "anyOf": [
        {"type": "string", "maxLength": 2048, "pattern": CALLBACK_URL_PATTERN},
        {"type": "null"},
    ],
    "description": "genrelay's extension: where signed webhooks about the task go (its host must resolve "
    "to public addresses).",
}
# The task object's status words and the frames of an image_to_video `promptImage` list.
TASK_STATUSES = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
LAST_FRAME = {"type": "object", "required": ["position"], "properties": {"position": {"const": "last"}}}


class RunwayIssue(BaseModel):
    path: list[str] = Field(description="The field at fault, as the client named it.")
    message: str


class RunwayError(BaseModel):
    """Runway's error body: `error` for a person, our stable `code`, `issues` naming the field at fault."""

    error: str
    code: str = Field(description="genrelay's stable error code, e.g. `insufficient_credits`.")
    issues: list[RunwayIssue] | None = Field(default=None, description="Present when a field is at fault.")


def priced_models(price_file: Path) -> dict[str, list[str]]:
    """The models each operation has a price for, in the order the price file lists them."""
    with price_file.open("rb") as file:
        rules = tomllib.load(file)["price"]
    models: dict[str, list[str]] = {}
    for rule in rules:
        names = rule.get("models") or [rule["model"]]
        known = models.setdefault(rule["operation"], [])
        known.extend(name for name in names if name not in known)
    return models


def inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its `$defs` put in place and what the API document has no use for
    (titles, examples in the job's own words, discriminator maps into `$defs`) left out."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return walk(defs[node["$ref"].rsplit("/", 1)[-1]])
        skipped = {"$defs", "title", "examples", "discriminator"}
        return {key: walk(value) for key, value in node.items() if key not in skipped}

    inlined: dict[str, Any] = walk(copy.deepcopy(schema))
    return inlined


def _uri_rules(node: Any) -> None:
    """Runway's URI checks (an AfterValidator each) as the document states them: by prefix and size."""
    if isinstance(node, list):
        for item in node:
            _uri_rules(item)
        return
    if not isinstance(node, dict):
        return
    for name, prop in node.get("properties", {}).items():
        prefixes = {"uri": IMAGE_URI_PREFIXES, "promptImage": IMAGE_URI_PREFIXES}.get(name)
        if name in {"videoUri"} or (name == "uri" and node.get("_video")):
            prefixes = VIDEO_URI_PREFIXES
        if prefixes is not None:
            _constrain_strings(prop, prefixes)
    for value in node.values():
        _uri_rules(value)


def _constrain_strings(prop: dict[str, Any], prefixes: tuple[str, ...]) -> None:
    targets = prop.get("anyOf", [prop])
    for target in targets:
        if target.get("type") == "string":
            target.update(uri_schema(prefixes))


def _whole_numbers(prop: dict[str, Any]) -> dict[str, Any]:
    """An integer enum that also takes its values as digit strings (CometAPI's examples send "5")."""
    values = prop["enum"]
    return {
        "anyOf": [{"type": "integer", "enum": values}, {"type": "string", "enum": [str(v) for v in values]}]
    }


def body_schema(operation: str, models: list[str]) -> dict[str, Any]:
    """A create's body: the job input's rules in Runway's names, `model`, `callback_url`, and on a
    follow-up `parentTaskId` in place of its video (or character)."""
    schema = inline(INPUTS[operation].model_json_schema(by_alias=True))
    schema.pop("description", None)
    props = schema["properties"]
    _mark_videos(operation, props)
    _uri_rules(schema)
    _strip_marks(schema)
    if "duration" in props:
        props["duration"] = {**_whole_numbers(props["duration"]), "default": props["duration"]["default"]}
    model = {"type": "string", "enum": models, "description": "The Runway model."}
    props["model"] = model
    props["callback_url"] = CALLBACK_URL
    required = [name for name in schema.get("required", []) if name != PARENT_FIELD]
    if operation == "image_to_video":
        # CometAPI's default model for image_to_video: a body may name none (or null).
        props["model"] = {"anyOf": [model, {"type": "null"}], "description": "Default: gen3a_turbo."}
        props["promptImage"] = _prompt_image(props["promptImage"])
    else:
        required.append("model")
    if PARENT_FIELD in props:
        del props[PARENT_FIELD]
        alternative = PARENT_ALTERNATIVE[operation]
        props[PARENT_TASK] = {
            "type": "string",
            "minLength": 1,
            "description": f"genrelay's extension: the id of one of your earlier, succeeded Runway tasks, "
            f"whose output is taken in place of `{alternative}`.",
        }
        given = {key: value for key, value in props[alternative].items() if key != "default"}
        given["anyOf"] = [option for option in given["anyOf"] if option != {"type": "null"}]
        schema["oneOf"] = [
            {"required": [PARENT_TASK]},
            {"required": [alternative], "properties": {alternative: given}},
        ]
    if operation == "text_to_video":
        schema = _veo3_lasts_8_seconds(schema, models)
    schema["required"] = required
    return schema


def _mark_videos(operation: str, props: dict[str, Any]) -> None:
    """Mark the objects whose `uri` is a video (a performance, a character's video)."""
    for name in ("reference",):
        if name in props:
            props[name]["_video"] = True
    character = props.get("character")
    if character is not None:
        for option in character["anyOf"]:
            for variant in option.get("oneOf", []):
                if variant["properties"]["type"].get("const") == "video":
                    variant["_video"] = True


def _strip_marks(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("_video", None)
        for value in node.values():
            _strip_marks(value)
    elif isinstance(node, list):
        for item in node:
            _strip_marks(item)


def _prompt_image(prop: dict[str, Any]) -> dict[str, Any]:
    """One image, or one or two frames at different positions (a frame without one is the first)."""
    single, frames = prop["anyOf"]
    frames = {**frames, "minItems": 1, "maxItems": 2}
    return {
        "description": prop.get("description", ""),
        "anyOf": [
            single,
            {**frames, "maxItems": 1},
            {**frames, "minItems": 2, "contains": LAST_FRAME, "not": {"items": LAST_FRAME}},
        ],
    }


def _veo3_lasts_8_seconds(schema: dict[str, Any], models: list[str]) -> dict[str, Any]:
    """veo3 has a price for 8-second videos only; the other Veo models for every duration."""
    others = [model for model in models if model != "veo3"]
    eight = _whole_numbers({"enum": [8]})
    variants = [
        {**schema, "properties": {**schema["properties"], "model": {"type": "string", "enum": others}}},
        {
            **schema,
            "properties": {
                **schema["properties"],
                "model": {"type": "string", "const": "veo3"},
                "duration": {**eight, "default": 8},
            },
        },
    ]
    return {"type": "object", "anyOf": variants} if "veo3" in models else variants[0]


def version_header(*, required: bool) -> dict[str, Any]:
    return {
        "name": VERSION_HEADER,
        "in": "header",
        "required": required,
        "schema": {"type": "string", "enum": [RUNWAY_VERSION]},
        "description": "The Runway API version; the only one spoken is " + RUNWAY_VERSION + ".",
    }


COST = {
    "type": "object",
    "required": ["credits"],
    "properties": {"credits": {"type": "integer", "minimum": 0, "description": "In micro-credits."}},
}
CREATED = {
    "type": "object",
    "required": ["id", "estimatedCost"],
    "properties": {"id": {"type": "string", "format": "uuid"}, "estimatedCost": COST},
}
TASK = {
    "type": "object",
    "required": ["id", "createdAt", "status"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "createdAt": {"type": "string", "format": "date-time"},
        "status": {"type": "string", "enum": TASK_STATUSES},
        "estimatedCost": COST,
        "cost": COST,
        "progress": {"type": "number", "minimum": 0, "maximum": 1},
        "output": {"type": "array", "items": {"type": "string"}},
        "failure": {"type": "string"},
        "failureCode": {"type": "string"},
    },
}
TASK_PATH = "#/paths/~1runwayml~1v1~1tasks~1{task_id}"
LINKS = {
    "GetTask": {"operationRef": f"{TASK_PATH}/get", "parameters": {"task_id": "$response.body#/id"}},
    "DeleteTask": {"operationRef": f"{TASK_PATH}/delete", "parameters": {"task_id": "$response.body#/id"}},
}


def create_extra(operation: str, models: list[str]) -> dict[str, Any]:
    """`openapi_extra` of a create route."""
    return {
        "parameters": [version_header(required=True)],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": body_schema(operation, models)}},
        },
        "responses": {
            "200": {
                "description": "The task is created.",
                "content": {"application/json": {"schema": CREATED}},
                "links": LINKS,
            }
        },
    }


def task_extra(*, deletes: bool) -> dict[str, Any]:
    """`openapi_extra` of the task routes."""
    if deletes:
        return {"parameters": [version_header(required=False)]}
    return {
        "parameters": [version_header(required=False)],
        "responses": {"200": {"description": "The task.", "content": {"application/json": {"schema": TASK}}}},
    }
