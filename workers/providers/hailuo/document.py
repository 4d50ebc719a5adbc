"""MiniMax's create body and answers as the API document states them: what each model offers (text or
a first frame, its resolutions and lengths, a last frame, fast pretreatment), one group a model, and
answers that are HTTP 200 whether they carry the result or a refusal in `base_resp`."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workers.providers.compat import CALLBACK_URL_SCHEMA
from workers.providers.hailuo.schemas import MODELS, ModelOffer

Schema = dict[str, Any]
PRICES = Path(__file__).with_name("prices.toml")
IMAGE_URL = r"^(https?://|data:image/)"
T2V, I2V = "text2video", "image2video"


class HailuoBaseResp(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status_code: int = Field(description="0: success; else MiniMax's code (1004, 1008, 1002, 2013, ...).")
    status_msg: str


class HailuoErrorBody(BaseModel):
    """A refusal: `base_resp` alone, its `status_code` not 0 (HTTP 200, as MiniMax answers)."""

    model_config = ConfigDict(extra="forbid")

    base_resp: HailuoBaseResp


def _object(properties: Schema, required: list[str]) -> Schema:
    return {"type": "object", "properties": properties, "required": required}


BASE_RESP = _object(
    {"status_code": {"type": "integer"}, "status_msg": {"type": "string"}}, ["status_code", "status_msg"]
)
OK = _object({"status_code": {"const": 0}, "status_msg": {"type": "string"}}, ["status_code", "status_msg"])
REFUSAL: Schema = {**_object({"base_resp": BASE_RESP}, ["base_resp"]), "additionalProperties": False}
STATUSES = ["Preparing", "Queueing", "Processing", "Success", "Fail"]
TASK = _object(
    {
        "task_id": {"type": "string"},
        "status": {"enum": STATUSES},
        "file_id": {"type": "string", "description": "On Success: what files/retrieve takes."},
        "video_width": {"type": "integer"},
        "video_height": {"type": "integer"},
        "base_resp": BASE_RESP,
    },
    ["task_id", "status", "base_resp"],
)
FILE = _object(
    {
        "file": _object(
            {
                "file_id": {"type": "string"},
                "bytes": {"type": "integer"},
                "created_at": {"type": "integer"},
                "filename": {"type": "string"},
                "purpose": {"type": "string"},
                "download_url": {"type": "string"},
            },
            ["file_id", "download_url"],
        ),
        "base_resp": OK,
    },
    ["file", "base_resp"],
)
CREATED = _object({"task_id": {"type": "string"}, "base_resp": OK}, ["task_id", "base_resp"])


def answer(success: Schema, what: str) -> Schema:
    """An answer of a MiniMax route: HTTP 200 with the result, or with a refusal in `base_resp`."""
    return {
        "description": f"{what}, or a refusal: `base_resp.status_code` not 0, as MiniMax answers (HTTP 200).",
        "content": {"application/json": {"schema": {"oneOf": [success, REFUSAL]}}},
    }


@cache
def priced() -> frozenset[tuple[str, str]]:
    """(operation, model) pairs the provider's price file prices."""
    with PRICES.open("rb") as prices:
        rules = tomllib.load(prices)["price"]
    return frozenset(
        (rule["operation"], model) for rule in rules for model in rule.get("models", [rule.get("model")])
    )


def _operation(operation: str, offer: ModelOffer) -> Schema:
    resolutions = sorted(offer.resolutions[operation])
    properties: Schema = {"resolution": {"enum": [*resolutions, None]}}
    if operation == T2V:
        properties["prompt"] = {"type": "string", "minLength": 1}
        shape: Schema = {
            "required": ["prompt"],
            "not": {"anyOf": [{"required": ["first_frame_image"]}, {"required": ["last_frame_image"]}]},
        }
    else:
        shape = {"required": ["first_frame_image"]}
        if not offer.last_frame:
            properties["last_frame_image"] = {"enum": [None]}
    return {**shape, "properties": properties}


def _model_group(name: str, offer: ModelOffer) -> Schema:
    durations = sorted(offer.durations)
    long_1080 = {
        "properties": {"duration": {"enum": [10, "10"]}, "resolution": {"const": "1080P"}},
        "required": ["duration", "resolution"],
    }
    properties: Schema = {
        "model": {"const": name},
        "duration": {"enum": [*durations, *(str(d) for d in durations)]},
    }
    if not offer.fast_pretreatment:
        properties["fast_pretreatment"] = {"enum": [False, None]}
    return {
        "properties": properties,
        "anyOf": [_operation(op, offer) for op in sorted(offer.resolutions) if (op, name) in priced()],
        "not": long_1080,
    }


def create_body() -> Schema:
    """MiniMax's create body, every priced model's offer in it."""
    image = {"type": "string", "minLength": 1, "pattern": IMAGE_URL, "description": "URL or data URL."}
    return {
        "type": "object",
        "properties": {
            "model": {"type": "string", "description": "A MiniMax video model."},
            "prompt": {
                "anyOf": [{"type": "string", "maxLength": 2000}, {"type": "null"}],
                "description": "Camera moves inline, e.g. [Pan left]; required without an image.",
            },
            "prompt_optimizer": {"type": ["boolean", "null"]},
            "fast_pretreatment": {"type": ["boolean", "null"], "description": "MiniMax-Hailuo-02 only."},
            "duration": {"description": "Seconds: 6 or 10 (not at 1080P; 6 only on the 01 series)."},
            "resolution": {"description": "The model's and the mode's own: 512P, 720P, 768P or 1080P."},
            "first_frame_image": {**image, "description": "Makes it image-to-video."},
            "last_frame_image": {
                "anyOf": [image, {"type": "null"}],
                "description": "MiniMax-Hailuo-02 only.",
            },
            "callback_url": {
                "anyOf": [dict(CALLBACK_URL_SCHEMA), {"enum": [None, ""]}],
                "description": "An http(s) URL of a public host.",
            },
        },
        "required": ["model"],
        "additionalProperties": False,
        # One group a model (their `model` consts are apart).
        "anyOf": [
            _model_group(name, offer)
            for name, offer in MODELS.items()
            if any((op, name) in priced() for op in offer.resolutions)
        ],
    }
