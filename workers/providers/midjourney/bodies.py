"""What the `/mj/...` submits read, as the API document states it: each field's rule, checked when the
body is read; clients built on Go structs send unused fields as "" or null, and both mean "not sent".
Rules between fields (a video's first frame or the task it extends) are stated in the document and
checked where the request becomes a job."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt
from pydantic.config import JsonDict

from schemas.jobs import CALLBACK_URL_PATTERN, MAX_CALLBACK_URL_LENGTH
from workers.providers.midjourney.schemas import MAX_DATA_URL, MAX_PROMPT, AccountFilter, BotType

DATA_IMAGE = r"^data:image/[^,]*;base64,"
IMAGE_REF = r"^(https://|data:image/[^,]*;base64,)"
MAX_BATCH = 100


def _blank_is_unset(value: Any) -> Any:
    return None if value == "" else value


def _blank_allowed(schema: JsonDict) -> None:
    alternatives = schema["anyOf"]
    assert isinstance(alternatives, list)
    alternatives.append({"const": ""})


# What makes a field one that may be left out, null or "" alike.
BLANK_IS_UNSET, BLANK_ALLOWED = BeforeValidator(_blank_is_unset), Field(json_schema_extra=_blank_allowed)
Prompt = Annotated[str, Field(min_length=1, max_length=MAX_PROMPT)]
DataImage = Annotated[str, Field(min_length=24, max_length=MAX_DATA_URL, pattern=DATA_IMAGE)]
ImageRef = Annotated[str, Field(min_length=12, max_length=MAX_DATA_URL, pattern=IMAGE_REF)]
# An http(s) URL with a host and no credentials (whether the host resolves is known only on submit).
HOOK_URL = CALLBACK_URL_PATTERN
HookUrl = Annotated[str, Field(max_length=MAX_CALLBACK_URL_LENGTH, pattern=HOOK_URL)]


def _integral(value: Any) -> Any:
    """A JSON integer may be written `3.0`: a number without a fraction is taken as the integer it is."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# Where an integer is taken, a number without a fraction (`3.0`) is one, as JSON Schema's `integer` says.
INTEGRAL = BeforeValidator(_integral)
Reference = Annotated[str, Field(min_length=1)] | Annotated[StrictInt, INTEGRAL]

OptionalPrompt = Annotated[Prompt | None, BLANK_IS_UNSET, BLANK_ALLOWED]
OptionalDataImage = Annotated[DataImage | None, BLANK_IS_UNSET, BLANK_ALLOWED]
OptionalImageRef = Annotated[ImageRef | None, BLANK_IS_UNSET, BLANK_ALLOWED]
OptionalBot = Annotated[BotType | None, BLANK_IS_UNSET, BLANK_ALLOWED]
OptionalFilter = Annotated[AccountFilter | None, BLANK_IS_UNSET, BLANK_ALLOWED]
OptionalBool = Annotated[StrictBool | None, BLANK_IS_UNSET, BLANK_ALLOWED]
OptionalReference = Annotated[Reference | None, BLANK_IS_UNSET, BLANK_ALLOWED]
OptionalHook = Annotated[HookUrl | None, BLANK_IS_UNSET, BLANK_ALLOWED]
OptionalText = Annotated[str | None, BLANK_IS_UNSET, BLANK_ALLOWED]
OptionalDataImages = Annotated[list[DataImage] | None, BLANK_IS_UNSET, BLANK_ALLOWED]
OptionalImageRefs = Annotated[list[ImageRef] | None, BLANK_IS_UNSET, BLANK_ALLOWED]
Dimensions = Literal["PORTRAIT", "SQUARE", "LANDSCAPE"]


class Submission(BaseModel):
    """What every submit may carry besides the job's input; fields the proxy does not read are ignored."""

    model_config = ConfigDict(extra="allow")

    notifyHook: OptionalHook = Field(  # noqa: N815 - the wire's names
        default=None,
        description="Where the task object is POSTed as it changes; its host must resolve to a public "
        "address. Empty: no callback.",
    )
    state: str | None = Field(default=None, max_length=255, description="Echoed back in the task.")


class ImagineSubmission(Submission):
    prompt: Prompt = Field(
        description="Midjourney flags go inline (`--ar 16:9`); a version flag must name an offered "
        "model: `--v 7`, `--v 6.1`, `--niji 6`, or none."
    )
    botType: OptionalBot = None  # noqa: N815
    base64Array: OptionalDataImages = Field(default=None, max_length=5)  # noqa: N815
    accountFilter: OptionalFilter = None  # noqa: N815


class BlendSubmission(Submission):
    base64Array: list[DataImage] = Field(min_length=2, max_length=5)  # noqa: N815
    dimensions: Annotated[Dimensions | None, BLANK_IS_UNSET, BLANK_ALLOWED] = None
    botType: OptionalBot = None  # noqa: N815
    accountFilter: OptionalFilter = None  # noqa: N815


class DescribeSubmission(Submission):
    base64: DataImage
    botType: OptionalBot = None  # noqa: N815
    accountFilter: OptionalFilter = None  # noqa: N815


NOT_BLANK: dict[str, Any] = {"type": ["string", "integer"], "minLength": 1}
BLANK: dict[str, Any] = {"enum": [None, ""]}
EXTEND = "^[Ee][Xx][Tt][Ee][Nn][Dd]$"
VIDEO_RULES: dict[str, Any] = {
    "anyOf": [
        {  # a new video from its first frame
            "required": ["image"],
            "properties": {
                "image": {"type": "string", "minLength": 12},
                "action": {"not": {"type": "string", "pattern": EXTEND}},
                "taskId": BLANK,
                "task_id": BLANK,
            },
        },
        {  # an extension of one of the videos (index, from 0) of a video task of yours
            "required": ["index"],
            "properties": {
                "index": {
                    "anyOf": [
                        {"type": "integer", "maximum": 3},
                        {"type": "string", "pattern": "^0*[0-3]$"},
                    ]
                }
            },
            "anyOf": [
                {"required": ["taskId"], "properties": {"taskId": NOT_BLANK}},
                {"required": ["task_id"], "properties": {"task_id": NOT_BLANK}},
            ],
        },
    ]
}


def _index_number(value: Any) -> Any:
    """Peers send a video's index as a string of digits."""
    if value == "":
        return None
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()):
            raise ValueError("an extension names one of the parent's videos by its index, from 0")
        return int(value)
    return _integral(value)


def _index_allowed(schema: JsonDict) -> None:
    schema["anyOf"] = [
        {"type": "integer", "minimum": 0},
        {"type": "string", "pattern": "^[0-9]+$"},
        {"type": "null"},
        {"const": ""},
    ]


class VideoSubmission(Submission):
    """A new video (`image`), or (`taskId` or `task_id`, `index`; `action: "extend"`) an extension."""

    model_config = ConfigDict(json_schema_extra=VIDEO_RULES)

    motion: Literal["low", "high"]
    image: OptionalImageRef = Field(default=None, description="The first frame; ignored by an extension.")
    prompt: OptionalPrompt = None
    action: OptionalText = None
    taskId: OptionalReference = None  # noqa: N815
    task_id: OptionalReference = None
    index: Annotated[StrictInt | None, BeforeValidator(_index_number)] = Field(
        default=None, ge=0, json_schema_extra=_index_allowed
    )

    @property
    def parent(self) -> str | None:
        parent = self.taskId if self.taskId is not None else self.task_id
        return None if parent is None else str(parent)


EDITS_RULES: dict[str, Any] = {
    "anyOf": [
        {"required": ["image"], "properties": {"image": {"type": "string", "minLength": 12}}},
        {
            "required": ["base64Array"],
            "properties": {"base64Array": {"type": "array", "minItems": 1, "items": {"type": "string"}}},
        },
    ]
}


class EditsSubmission(Submission):
    """The editor's `prompt`, its image (`image`, or `base64Array` of one), a `maskBase64`, `remix`."""

    model_config = ConfigDict(json_schema_extra=EDITS_RULES)

    prompt: Prompt
    image: OptionalImageRef = None
    base64Array: OptionalImageRefs = Field(default=None, max_length=1)  # noqa: N815
    maskBase64: OptionalDataImage = None  # noqa: N815
    remix: OptionalBool = None


class ActionSubmission(Submission):
    """Body of `/mj/submit/action`: a button (`customId`) of one of this tenant's tasks (`taskId`)."""

    taskId: str = Field(min_length=1, max_length=64)  # noqa: N815
    customId: str = Field(min_length=1, max_length=256)  # noqa: N815
    enableRemix: StrictBool | None = None  # noqa: N815


MODAL_RULES: dict[str, Any] = {
    "anyOf": [
        {"required": ["prompt"], "properties": {"prompt": {"type": "string", "minLength": 1}}},
        {"required": ["maskBase64"], "properties": {"maskBase64": {"type": "string", "minLength": 24}}},
    ]
}


class ModalSubmission(BaseModel):
    """Body of `/mj/submit/modal`: what a task waiting in MODAL needs, a prompt and/or a mask."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=MODAL_RULES)

    taskId: str = Field(min_length=1, max_length=64)  # noqa: N815
    prompt: OptionalPrompt = None
    maskBase64: OptionalDataImage = None  # noqa: N815


class TaskCondition(BaseModel):
    """Body of `/mj/task/list-by-condition`."""

    model_config = ConfigDict(extra="ignore")

    ids: list[str] = Field(default_factory=list, max_length=MAX_BATCH)
