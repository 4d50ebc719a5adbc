"""Midjourney's wire format (midjourney-proxy as CometAPI serves it) and the unified job inputs for it:
imagine, blend, describe, button actions on a parent task, and the continuation of a MODAL pause."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

MAX_PROMPT = 6000
# ~10 MB of image as base64, the most a Discord attachment takes.
MAX_DATA_URL = 14_000_000
PNG_1X1 = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

BotType = Literal["MID_JOURNEY", "NIJI_JOURNEY"]
ActionKind = Literal[
    "upsample",  # U1-U4: one image of a grid
    "upscale",  # the 2x upscalers of an upsampled image
    "variation",  # V1-V4, Vary (Strong/Subtle)
    "reroll",
    "zoom",
    "custom_zoom",
    "pan",
    "inpaint",  # Vary (Region)
    "animate",
    "video_upscale",  # U1-U4 of a video task
    "imagine",  # an imagine from one of a describe's prompts
    "describe",  # a describe's retry
    "other",
]
# Substrings of a customId naming its kind, most specific first. customIds are not stable across
# Midjourney releases (providers.md §1.1), so anything unrecognised is "other" rather than refused.
ACTION_PATTERNS: tuple[tuple[str, ActionKind], ...] = (
    ("mj::customzoom::", "custom_zoom"),
    ("mj::inpaint::", "inpaint"),
    ("mj::outpaint::", "zoom"),
    ("mj::job::picreader::", "imagine"),
    ("mj::picread::retry", "describe"),
    ("::upsample::", "upsample"),
    ("::upsample_", "upscale"),
    ("::variation::", "variation"),
    ("_variation::", "variation"),
    ("::reroll::", "reroll"),
    ("::pan_", "pan"),
    ("::animate_", "animate"),
    ("::video_virtual_upscale::", "video_upscale"),
)
# Actions whose task stops in MODAL until `/mj/submit/modal` brings a prompt and/or a mask.
MODAL_ACTIONS: frozenset[str] = frozenset({"custom_zoom", "inpaint"})


def action_kind(custom_id: str) -> ActionKind:
    """The kind of button a customId belongs to, e.g. `MJ::JOB::upsample::1::<hash>` -> "upsample"."""
    lowered = custom_id.lower()
    return next((kind for pattern, kind in ACTION_PATTERNS if pattern in lowered), "other")


def _case_blind(text: str) -> str:
    """A regular expression matching `text` anywhere, in any letter case (JSON Schema has no flags)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in text)


def _action_rules() -> list[dict[str, Any]]:
    """`action_kind` as the document states it: for each kind, a custom_id holding its pattern and no
    earlier one takes no other `action`; one holding none of them is an "other" button."""
    patterns = [_case_blind(pattern) for pattern, _ in ACTION_PATTERNS]
    rules = []
    for at, (_, kind) in enumerate(ACTION_PATTERNS):
        earlier = [{"not": {"pattern": pattern}} for pattern in patterns[:at]]
        rules.append(_custom_id_means({"allOf": [{"pattern": patterns[at]}, *earlier]}, kind))
    return [*rules, _custom_id_means({"not": {"anyOf": [{"pattern": p} for p in patterns]}}, "other")]


def _custom_id_means(custom_id: dict[str, Any], kind: ActionKind) -> dict[str, Any]:
    return {
        "if": {"properties": {"custom_id": custom_id}, "required": ["custom_id"]},
        "then": {"properties": {"action": {"enum": [kind, None]}}},
    }


def _data_image(value: str) -> str:
    header, comma, _ = value.partition(",")
    if not (header.startswith("data:image/") and header.endswith(";base64") and comma):
        raise ValueError("must be a data URL: data:image/<type>;base64,<data>")
    return value


DATA_IMAGE_PATTERN = "^data:image/[^,]*;base64,"  # `_data_image`'s rule, for the document
DataImage = Annotated[
    str,
    Field(min_length=24, max_length=MAX_DATA_URL, json_schema_extra={"pattern": DATA_IMAGE_PATTERN}),
    AfterValidator(_data_image),
]


class AccountFilter(BaseModel):
    """Which upstream account/mode serves the task; proxies add their own keys, so others pass through."""

    model_config = ConfigDict(extra="allow")

    instanceId: str | None = None  # noqa: N815 - the wire's name
    modes: list[Literal["RELAX", "FAST", "TURBO"]] | None = None
    remix: StrictBool | None = None  # `true` or `false`, as the document says; not 0 or "yes"


class MidjourneyImagineInput(BaseModel):
    """`/mj/submit/imagine`. Midjourney flags (`--ar 16:9`, `--v 7`) go inline in the prompt; without a
    version flag the job's model adds its own."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"prompt": "a paper boat on a lake --ar 16:9"}]}
    )

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT)
    botType: BotType | None = None  # noqa: N815
    base64Array: list[DataImage] | None = Field(default=None, max_length=5)  # noqa: N815
    accountFilter: AccountFilter | None = None  # noqa: N815


class MidjourneyBlendInput(BaseModel):
    """`/mj/submit/blend`: two to five images blended into one grid."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"base64Array": [PNG_1X1, PNG_1X1], "dimensions": "SQUARE"}]},
    )

    base64Array: list[DataImage] = Field(min_length=2, max_length=5)  # noqa: N815
    dimensions: Literal["PORTRAIT", "SQUARE", "LANDSCAPE"] = "SQUARE"
    botType: BotType | None = None  # noqa: N815
    accountFilter: AccountFilter | None = None  # noqa: N815


class MidjourneyDescribeInput(BaseModel):
    """`/mj/submit/describe`: four prompts for one image, as text."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"base64": PNG_1X1}]})

    base64: DataImage
    botType: BotType | None = None  # noqa: N815
    accountFilter: AccountFilter | None = None  # noqa: N815


ACTION_SCHEMA: dict[str, Any] = {
    "examples": [
        {
            "parent_job_id": "0190f5c2-7d1e-7c3a-9b1e-2f4a6c8e0b13",
            "custom_id": "MJ::JOB::upsample::1::9b5c6b54-3f1e-4c2b-9d3e-1f2a3b4c5d6e",
        }
    ],
    "allOf": _action_rules(),
}


class MidjourneyActionInput(BaseModel):
    """`/mj/submit/action`: press one of a succeeded parent job's buttons. `action` is derived from
    `custom_id` (so that prices can differ per kind); a client may omit it or repeat it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=ACTION_SCHEMA)

    parent_job_id: str = Field(min_length=1, max_length=64, description="Our id of the parent job.")
    custom_id: str = Field(min_length=1, max_length=256, description="customId of one of its buttons.")
    enableRemix: bool | None = None  # noqa: N815
    action: ActionKind | None = Field(default=None, description="Derived from custom_id.")

    @model_validator(mode="after")
    def _derive_action(self) -> Self:
        derived = action_kind(self.custom_id)
        if self.action is not None and self.action != derived:
            raise ValueError(f"action {self.action!r} does not match custom_id, a {derived!r} button")
        self.action = derived
        return self


class MidjourneyModalInput(BaseModel):
    """What continues an action waiting in MODAL (`/mj/submit/modal`): Custom Zoom needs a prompt
    (e.g. `"... --zoom 2"`), Vary (Region) a PNG mask and usually a prompt. Not an operation: the
    orchestrator keeps it under the job's `input["modal"]` and submits the same job again."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"prompt": "a paper boat on a lake --zoom 2"}]},
    )

    prompt: str | None = Field(default=None, min_length=1, max_length=MAX_PROMPT)
    maskBase64: DataImage | None = None  # noqa: N815

    @model_validator(mode="after")
    def _something_to_send(self) -> Self:
        if self.prompt is None and self.maskBase64 is None:
            raise ValueError("send a prompt, a maskBase64, or both")
        return self


# --- Wire ------------------------------------------------------------------------------------------


class MidjourneyAnswer(BaseModel):
    """A submit answer `{code, description, result, properties}`: `code` is a business code (1 ok,
    21 exists, 22 queued, 23 queue full, 24 banned prompt, 3 not found, 4 invalid, 5/9 errors)."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    code: int
    description: str | None = None
    result: str | None = None
    properties: dict[str, Any] | None = None


class MidjourneyButton(BaseModel):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    customId: str  # noqa: N815
    label: str | None = None
    emoji: str | None = None
    type: int | None = None
    style: int | None = None


class MidjourneyTask(BaseModel):
    """The task object: a fetch answer, an item of list-by-condition, and a whole callback body."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    id: str = Field(min_length=1)
    status: str | None = None
    action: str | None = None
    customId: str | None = None  # noqa: N815
    state: str | None = None
    progress: str | None = None
    failReason: str | None = None  # noqa: N815
    prompt: str | None = None
    promptEn: str | None = None  # noqa: N815
    imageUrl: str | None = None  # noqa: N815
    videoUrl: str | None = None  # noqa: N815
    videoUrls: list[dict[str, Any] | str] | None = None  # noqa: N815
    buttons: list[MidjourneyButton] | None = None
    properties: dict[str, Any] | None = None
    submitTime: int | None = None  # noqa: N815
    startTime: int | None = None  # noqa: N815
    finishTime: int | None = None  # noqa: N815
