"""What the simulated Kling accepts in a create body, per operation, and why it refuses one (code
1201). Kling's bodies are read back into our input models (a nested `input` flattened, `video_id` in
place of a parent job), so its rules and ours are one set; Kling's own names come back in messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from workers.providers.kling.operations import INPUTS

# Request fields about the task rather than the generation; the input models leave them out.
TASK_FIELDS = ("model_name", "model", "callback_url", "external_task_id")
# The scenes this simulated Kling offers today; like CometAPI it refuses others.
EFFECT_SCENES = frozenset(
    {"hug", "kiss", "heart_gesture", "bloombloom", "dizzydizzy", "fuzzyfuzzy", "squish", "expansion"}
)
# Operations whose body nests the generation's fields under `input`.
NESTED = frozenset({"lip_sync", "video_effects"})


def params(operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The generation's fields of a create body (what the task keeps), `input` flattened."""
    fields = {key: value for key, value in body.items() if key not in TASK_FIELDS}
    inner = fields.pop("input", None) if operation in NESTED else None
    if isinstance(inner, Mapping):
        fields.update({key: value for key, value in inner.items() if key not in TASK_FIELDS})
    return fields


def video_id(params: Mapping[str, Any]) -> str | None:
    """The earlier Kling video a follow-up names, if it names one."""
    value = params.get("video_id")
    return str(value) if value is not None else None


def invalid(operation: str, body: Mapping[str, Any]) -> str | None:
    """Why Kling would refuse this body (code 1201), or None."""
    for name in TASK_FIELDS:
        if body.get(name) is not None and not isinstance(body[name], str):
            return f"{name} must be a string"
    if operation in NESTED and not isinstance(body.get("input"), Mapping):
        return "input is required"
    fields = params(operation, body)
    problem = _scene_problem(operation, fields)
    if problem is not None:
        return problem
    if "video_id" in fields:  # ours is a parent job; Kling's the video's id
        fields["parent_job_id"] = str(fields.pop("video_id"))
    try:
        INPUTS[operation].model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"]) or "body"
        message = f"{name} is required" if error["type"] == "missing" else f"{name}: {error['msg']}"
        # Our rules name the parent job; Kling's body named the video.
        message = message.replace("parent_job_id (a Kling video job)", "video_id")
        return message.replace("parent_job_id", "video_id")
    return None


def _scene_problem(operation: str, fields: Mapping[str, Any]) -> str | None:
    scene = fields.get("effect_scene")
    if operation == "video_effects" and isinstance(scene, str) and scene not in EFFECT_SCENES:
        return f"effect_scene {scene!r} is not supported"
    return None
