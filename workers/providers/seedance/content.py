"""Ark's create body and the unified job input, each way: `content[]` (the text, then images with their
roles) and the output parameters as top-level fields, or as `--flag value` after the prompt, the older
way Ark's own clients still write them (providers-more.md §2.1)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from workers.providers.seedance.offers import I2V, R2V, T2V
from workers.providers.seedance.schemas import PARAMS

# Flags (long and short) by the field they stand for; `framepersecond` has no field: 24 is all there is.
FLAG_FIELDS = {
    "resolution": "resolution",
    "rs": "resolution",
    "ratio": "ratio",
    "rt": "ratio",
    "duration": "duration",
    "dur": "duration",
    "framepersecond": "framespersecond",
    "fps": "framespersecond",
    "watermark": "watermark",
    "wm": "watermark",
    "seed": "seed",
    "camerafixed": "camera_fixed",
    "cf": "camera_fixed",
}
FLAG = re.compile(rf"\s*--({'|'.join(FLAG_FIELDS)})\s+(\S+)")
BOOLEAN, NUMBER = {"watermark", "camera_fixed"}, {"duration", "seed"}
ROLES = {"first_frame": "first_frame_image", "last_frame": "last_frame_image"}
BODY_FIELDS = frozenset({"model", "content", "callback_url", *PARAMS})


class BodyError(ValueError):
    """What is wrong with an Ark create body, and the field at fault."""

    def __init__(self, message: str, field: str | None = None, *, missing: bool = False) -> None:
        super().__init__(message)
        self.message, self.field, self.missing = message, field, missing


def content_items(job_input: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The input's `content[]`: its prompt first, then its images with their roles."""
    items: list[dict[str, Any]] = []
    if job_input.get("prompt"):
        items.append({"type": "text", "text": job_input["prompt"]})
    images = [(job_input.get(field), role) for role, field in ROLES.items()]
    images += [(url, "reference_image") for url in job_input.get("reference_images") or ()]
    items += [{"type": "image_url", "image_url": {"url": url}, "role": role} for url, role in images if url]
    return items


def split_flags(text: str) -> tuple[str, dict[str, Any]]:
    """The prompt without its `--flag value` parameters, and those parameters by field."""
    fields: dict[str, Any] = {}
    for name, value in FLAG.findall(text):
        field = FLAG_FIELDS[name]
        if field in BOOLEAN:
            if value.lower() not in {"true", "false"}:
                raise BodyError(f"--{name} takes true or false, not {value!r}", field)
            fields[field] = value.lower() == "true"
        elif field in NUMBER:
            if not value.lstrip("-").isdigit():
                raise BodyError(f"--{name} takes a whole number, not {value!r}", field)
            fields[field] = int(value)
        else:
            fields[field] = value
    if fields.pop("framespersecond", "24") != "24":
        raise BodyError("--framepersecond: Seedance renders 24 frames per second only", "framespersecond")
    return FLAG.sub("", text).strip(), fields


def read_body(body: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(model, operation, unified input) of an Ark create body; raises BodyError."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BodyError("model is required", "model", missing=True)
    unknown = sorted(set(body) - BODY_FIELDS)
    if unknown:
        raise BodyError(f"{unknown[0]} is not offered here", unknown[0])
    content = body.get("content")
    if not isinstance(content, list) or not content:
        raise BodyError("content is required: a list of items, the text first", "content", missing=True)
    texts, images = _items(content)
    if len(texts) > 1:
        raise BodyError("content: give one text item", "content")
    prompt, flags = split_flags(texts[0]) if texts else ("", {})
    fields: dict[str, Any] = {"prompt": prompt} if prompt else {}
    for name, value in flags.items():
        if name in body and body[name] != value:
            raise BodyError(f"{name}: given both as a --flag in the text and as a field", name)
        fields[name] = value
    fields |= {name: body[name] for name in PARAMS if name in body}
    operation, image_fields = _images(images)
    return model, operation, fields | image_fields


def _items(content: list[Any]) -> tuple[list[str], list[tuple[str, str | None]]]:
    texts: list[str] = []
    images: list[tuple[str, str | None]] = []
    for index, item in enumerate(content):
        kind = item.get("type") if isinstance(item, dict) else None
        where = f"content[{index}]"
        if kind == "text" and isinstance(item.get("text"), str):
            if not re.search(r"\S", item["text"]):
                blank = f"{where}.text is blank: leave the text item out for no prompt"
                raise BodyError(blank, f"{where}.text")
            texts.append(item["text"])
        elif kind == "image_url":
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise BodyError(f"{where}.image_url.url is required", f"{where}.image_url.url", missing=True)
            role = item.get("role")
            if role is not None and not isinstance(role, str):
                raise BodyError(f"{where}.role must be a string such as first_frame", f"{where}.role")
            images.append((url, role))
        else:
            raise BodyError(f"{where}: a {kind or 'typeless'} item is not offered here", where)
    return texts, images


def _images(images: list[tuple[str, str | None]]) -> tuple[str, dict[str, Any]]:
    """The operation the images make, and its image fields: reference images, or a first (and last)
    frame, an image without a role being the first frame, then the last."""
    references = [url for url, role in images if role == "reference_image"]
    frames = [(url, role) for url, role in images if role != "reference_image"]
    if references and frames:
        raise BodyError("content: reference images do not mix with first or last frames", "content")
    if references:
        return R2V, {"reference_images": references}
    fields: dict[str, Any] = {}
    for url, role in frames:
        unplaced = next((f for f in ROLES.values() if f not in fields), None)
        field = unplaced if role is None else ROLES.get(role)
        if field is None or field in fields:
            raise BodyError(f"content: an image with role {role!r} is not offered here", "content")
        fields[field] = url
    if fields and "first_frame_image" not in fields:
        raise BodyError("content: a last frame needs a first frame", "content")
    return (I2V if fields else T2V), fields
