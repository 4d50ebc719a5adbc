"""The create bodies a Kling client sends to the compatible routes, as JSON Schema for the API document:
each operation's input (`operations.INPUTS`) in Kling's shape — a parent as its `video_id`, lip-sync's
and effects' fields under `input`, `model_name` one the price file offers — with the rules its
validators enforce (exactly one of two fields, a mode's own fields) written as JSON Schema too."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from schemas.jobs import CALLBACK_URL_PATTERN, MAX_CALLBACK_URL_LENGTH
from workers.providers.compat import MAX_CLIENT_REFERENCE
from workers.providers.kling.intake import FIXED_MODELS, NESTED
from workers.providers.kling.operations import INPUTS
from workers.providers.kling.schemas_video import AUDIO_FIELDS, TEXT_FIELDS, TWO_PERSON_SCENES

Schema = dict[str, Any]
PRICES = Path(__file__).with_name("prices.toml")
# A client may send a field it does not use as null or "": it counts as not sent (`intake._sent`).
UNSENT: Schema = {"enum": [None, ""]}
META = ("title", "description", "default")
TOP_LEVEL = {"video_effects": ("effect_scene",)}  # fields of a nested body that stay outside `input`
# An http(s) URL with a host and no credentials (`orchestrator.egress` also resolves the host).
CALLBACK_URL = CALLBACK_URL_PATTERN
MAX_REFERENCE = MAX_CLIENT_REFERENCE  # external_task_id: the job's client_reference


@cache
def offered_models(operation: str) -> tuple[str, ...]:
    """The models the provider's price file prices `operation` at, whatever the input."""
    with PRICES.open("rb") as prices:
        rules = tomllib.load(prices)["price"]
    found = {
        m for rule in rules if rule["operation"] == operation and not rule.get("when") for m in rule["models"]
    }
    return tuple(sorted(found))


def present(name: str) -> Schema:
    return {"required": [name], "properties": {name: {"not": UNSENT}}}


def absent(name: str) -> Schema:
    return {"anyOf": [{"not": {"required": [name]}}, {"properties": {name: UNSENT}}]}


def one_of(first: str, second: str) -> Schema:
    """Exactly one of two fields sent."""
    return {
        "oneOf": [{"allOf": [present(first), absent(second)]}, {"allOf": [present(second), absent(first)]}]
    }


def inlined(schema: Any, defs: Mapping[str, Any] | None = None) -> Any:
    """The schema with its `$defs` references written in place (none of Kling's models is recursive)."""
    if defs is None and isinstance(schema, dict):
        defs = schema.get("$defs", {})
    defs = defs or {}
    if isinstance(schema, dict):
        if "$ref" in schema:
            return inlined(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {key: inlined(value, defs) for key, value in schema.items() if key != "$defs"}
    if isinstance(schema, list):
        return [inlined(item, defs) for item in schema]
    return schema


def _optional(schema: Schema) -> Schema:
    """A field that may be left out, or sent as null or ""."""
    kept = {key: schema[key] for key in META if key in schema}
    choices = [c for c in schema.get("anyOf", [schema]) if c.get("type") != "null"]
    return {**kept, "anyOf": [*({k: v for k, v in c.items() if k not in META} for c in choices), UNSENT]}


def _lip_sync_modes() -> Schema:
    by_audio: list[Schema] = [*map(absent, TEXT_FIELDS), one_of("audio_url", "audio_file")]
    typed = [
        {"allOf": [present(f"audio_{kind}"), {"properties": {"audio_type": {"enum": [None, "", kind]}}}]}
        for kind in ("url", "file")
    ]
    return {
        "oneOf": [
            {
                "properties": {"mode": {"const": "text2video"}},
                "allOf": [present("text"), present("voice_id"), *map(absent, AUDIO_FIELDS)],
            },
            {"properties": {"mode": {"const": "audio2video"}}, "allOf": [*by_audio, {"anyOf": typed}]},
        ]
    }


def _rules(operation: str) -> list[Schema]:
    """What the operation's validators require beyond each field's own type, as JSON Schema."""
    if operation == "avatar":
        return [one_of("audio_id", "sound_file")]
    if operation == "video_effects":
        return [one_of("image", "images")]
    if operation == "video_to_audio":
        return [one_of("video_id", "video_url")]
    if operation == "lip_sync":
        return [one_of("video_id", "video_url"), _lip_sync_modes()]
    return []


def _duration(schema: Schema) -> Schema:
    # Kling wants the string "5"; the number 5 is taken too.
    strings = schema.get("enum")
    if not strings or not all(isinstance(s, str) and s.isdigit() for s in strings):
        return schema
    return {**{k: schema[k] for k in META if k in schema}, "enum": [*strings, *(int(s) for s in strings)]}


def _fields(operation: str) -> tuple[dict[str, Schema], list[str]]:
    """The operation's input fields in Kling's names, and those required."""
    model = INPUTS[operation].model_json_schema()
    flat = inlined(model)
    required = ["video_id" if name == "parent_job_id" else name for name in flat.get("required", [])]
    fields: dict[str, Schema] = {}
    for name, own in flat["properties"].items():
        wire = "video_id" if name == "parent_job_id" else name
        schema = _duration(own) if name == "duration" else own
        if name == "parent_job_id":
            schema = {
                **schema,
                "description": "A Kling video of yours: the `id` of a video in a task's result.",
            }
        fields[wire] = schema if wire in required else _optional(schema)
    if operation not in FIXED_MODELS and operation != "video_extend":
        models = {"type": "string", "enum": list(offered_models(operation))}
        fields["model_name"] = _optional(models)
    return fields, required


def create_body(operation: str) -> Schema:
    """The JSON Schema of the create body a Kling client sends for `operation`."""
    fields, required = _fields(operation)
    task = {
        "callback_url": _optional(
            {
                "type": "string",
                "maxLength": MAX_CALLBACK_URL_LENGTH,
                "pattern": CALLBACK_URL,
                "description": "An http(s) URL whose host resolves to public addresses only: genrelay's "
                "signed webhooks carry the task object.",
            }
        ),
        "external_task_id": _optional(
            {
                "type": "string",
                "maxLength": MAX_REFERENCE,
                "pattern": "^[^\\x00]*$",
                "description": "Your own id; the task answers to it.",
            }
        ),
    }
    rules = _rules(operation)
    if operation not in NESTED:
        return {
            "type": "object",
            "properties": {**fields, **task},
            "required": required,
            "additionalProperties": False,
            **({"allOf": rules} if rules else {}),
        }
    outside = TOP_LEVEL.get(operation, ())
    inner: Schema = {
        "type": "object",
        "properties": {name: schema for name, schema in fields.items() if name not in outside},
        "required": [name for name in required if name not in outside],
        "additionalProperties": False,
        **({"allOf": rules} if rules else {}),
    }
    top = {name: fields[name] for name in outside}
    body: Schema = {
        "type": "object",
        "properties": {**top, "input": inner, **task},
        "required": [*(name for name in required if name in outside), "input"],
        "additionalProperties": False,
    }
    if operation == "video_effects":
        two = {
            "properties": {"effect_scene": {"enum": sorted(TWO_PERSON_SCENES)}},
            "required": ["effect_scene"],
        }
        body["anyOf"] = [{"not": two}, {"properties": {"input": present("images")}}]
    return body
