"""Ark's create body, task object and error envelope as the API document states them: the body's
`content[]` in the shapes each operation takes (a text; a first frame, and a last; 1-4 reference
images), and what each model offers (operations, resolutions, clip lengths, sound), one group a model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from workers.providers.compat import CALLBACK_URL_SCHEMA
from workers.providers.seedance.offers import CN_PREFIX, I2V, MODELS, T2V, ModelOffer
from workers.providers.seedance.schemas import PARAMS, SeedanceText2VideoInput

Schema = dict[str, Any]
IMAGE_URL = r"^(https?://|data:image/)"
# An http(s) URL with a host and no credentials (`orchestrator.egress` also resolves the host).
TEXT: Schema = {
    "type": "string",
    "pattern": r"\S",
    "description": "The prompt, then output parameters as `--flag value` (not also as fields).",
}


class ArkErrorObject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    message: str
    type: str


class ArkErrorBody(BaseModel):
    """Ark's error envelope; the message ends with the request id (`Request ID: …`)."""

    model_config = ConfigDict(extra="forbid")

    error: ArkErrorObject


class ArkFailure(BaseModel):
    code: str
    message: str


class ArkTaskContent(BaseModel):
    video_url: str
    last_frame_url: str | None = None


class ArkTask(BaseModel):
    """A task as the query answers it: the output parameters it was made with follow its fields."""

    model_config = ConfigDict(extra="allow")

    id: str
    model: str
    status: Literal["queued", "running", "cancelled", "succeeded", "failed", "expired"]
    error: ArkFailure | None
    created_at: int
    updated_at: int
    content: ArkTaskContent | None = None


class ArkCreated(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str


def inlined(model: type[BaseModel]) -> Schema:
    """A model's JSON Schema with its `$defs` written in place, for an answer in the document."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def place(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return place(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: place(value) for key, value in node.items()}
        return [place(item) for item in node] if isinstance(node, list) else node

    return dict(place(schema))


# A content item's other fields are read by no one, but the whole body is still text the API refuses a
# NUL in: the document's finishing names them storable values.
ITEM_EXTRAS = True


def _image(roles: list[str | None]) -> Schema:
    role: Schema = {"enum": roles} if None not in roles else {"enum": [r for r in roles if r] + [None]}
    return {
        "type": "object",
        "properties": {
            "type": {"const": "image_url"},
            "image_url": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {"url": {"type": "string", "pattern": IMAGE_URL}},
                        "required": ["url"],
                        "additionalProperties": ITEM_EXTRAS,
                    },
                    {"type": "string", "pattern": IMAGE_URL},
                ]
            },
            "role": role,
        },
        "required": ["type", "image_url"] + ([] if None in roles else ["role"]),
        "additionalProperties": ITEM_EXTRAS,
    }


TEXT_ITEM: Schema = {
    "type": "object",
    "properties": {"type": {"const": "text"}, "text": TEXT},
    "required": ["type", "text"],
    "additionalProperties": ITEM_EXTRAS,
}


def _shapes(operation: str) -> list[Schema]:
    """The `content[]` arrays an operation is made from: the text first, then the images in order."""
    if operation == T2V:
        return [{"prefixItems": [TEXT_ITEM], "minItems": 1, "maxItems": 1}]
    if operation == I2V:
        first, last = _image(["first_frame", None]), _image(["last_frame", None])
        return [
            {"prefixItems": [*lead, first, *tail], "minItems": n, "maxItems": n}
            for lead in ([], [TEXT_ITEM])
            for tail in ([], [last])
            for n in [len(lead) + 1 + len(tail)]
        ]
    reference = _image(["reference_image"])
    return [
        {"prefixItems": [TEXT_ITEM], "items": reference, "minItems": 2, "maxItems": 5},
        {"items": reference, "minItems": 1, "maxItems": 4},
    ]


def _model_group(names: list[str], offer: ModelOffer) -> Schema:
    low, high = offer.durations
    properties: Schema = {
        "model": {"enum": names},
        "content": {"type": "array", "anyOf": [s for op in sorted(offer.operations) for s in _shapes(op)]},
        "resolution": {"enum": [*sorted(offer.resolutions), None]},
        "duration": {
            "anyOf": [
                {"type": "integer", "minimum": low, "maximum": high},
                {"enum": [str(n) for n in range(low, high + 1)]},
            ]
        },
    }
    if not offer.audio:
        properties["generate_audio"] = {"enum": [False, None]}
    return {"properties": properties}


def create_body() -> Schema:
    """Ark's create body, every model's offer in it."""
    fields = SeedanceText2VideoInput.model_json_schema()["properties"]
    params = {
        name: fields[name]
        for name in PARAMS
        if name != "duration"  # documented below, with each model's clip lengths
    }
    groups = [_model_group([f"{CN_PREFIX}{name}", name], offer) for name, offer in MODELS.items()]
    return {
        "type": "object",
        "properties": {
            "model": {
                "type": "string",
                "description": "A Seedance model id, as Volcengine (`doubao-…`) or BytePlus names it.",
            },
            "content": {"type": "array", "minItems": 1, "description": "The text first, then the images."},
            **params,
            "duration": {"description": fields["duration"]["description"]},
            "callback_url": {
                "anyOf": [dict(CALLBACK_URL_SCHEMA), {"enum": [None, ""]}],
                "description": "An http(s) URL of a public host.",
            },
        },
        "required": ["model", "content"],
        "additionalProperties": False,
        "anyOf": groups,  # one group a model: their `model` enums are apart
    }
