"""ByteDance Seedance's unified job inputs (refused when the job's model does not offer them, see `offers`)
and the wire's models: Ark's task object and its `{"error": {code, message, type}}` envelope."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.config import JsonDict

from workers.providers.seedance.offers import I2V, R2V, T2V, input_rules, model_problem

IMAGE_PREFIXES = ("https://", "http://", "data:image/")
# The output parameters Ark takes as top-level fields of a create (never also as `--flags`).
PARAMS = (
    "resolution",
    "ratio",
    "duration",
    "seed",
    "camera_fixed",
    "watermark",
    "generate_audio",
    "return_last_frame",
    "service_tier",
    "execution_expires_after",
)
DEFAULT_RESOLUTION = "720p"  # sent when a job names none: what it was priced at
FLAGS = "resolution|rs|ratio|rt|duration|dur|framepersecond|fps|watermark|wm|seed|camerafixed|cf"
# Spelled alike in Python's and in JSON schema's (ECMA) regular expressions: their `\s` and `\b` differ.
FLAG_IN_PROMPT = re.compile(rf"(^|[ \t\n\r\f\v])--({FLAGS})(?![A-Za-z0-9_])")
# The documents' words for both rules of a prompt: it has text, and no output parameters as flags.
NO_FLAGS: JsonDict = {"not": {"type": "string", "pattern": FLAG_IN_PROMPT.pattern}}  # null is none
IMAGE_REFERENCE: JsonDict = {"pattern": "^(https?://|data:image/)"}


def _image(value: str) -> str:
    if not value.startswith(IMAGE_PREFIXES):
        raise ValueError("give an http(s) URL or a data:image/... URL")
    return value


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


class SeedanceVideoInput(BaseModel):
    """Fields of every operation. `model` and `callback_url` are genrelay's to send; a resolution left
    out is 720p, a duration 5 s (and sent as such, so the clip is the one priced). Strict: no value
    of another JSON type is taken for one (`0` is no `generate_audio`, `"7"` no seed); an integer is a
    JSON one (`7.0` is 7), a duration also its digits (`"5"`)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    operation: ClassVar[str]

    prompt: str | None = Field(
        default=None,
        min_length=1,
        description="Output parameters go in their fields.",
        json_schema_extra=NO_FLAGS,
    )
    resolution: Literal["480p", "720p", "1080p"] | None = Field(default=None, description="Default 720p.")
    ratio: Literal["16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive"] | None = Field(
        default=None, description="`adaptive` follows the image."
    )
    duration: int = Field(
        default=5, ge=2, le=15, description="Seconds: 2-12 on 1.0, 4-12 on 1.5, 4-15 on 2.0."
    )
    seed: int | None = Field(default=None, ge=-1, le=2**32 - 1)
    camera_fixed: bool | None = None
    watermark: bool | None = None
    generate_audio: bool | None = Field(default=None, description="Sound, on seedance-1-5-pro and 2.0.")
    return_last_frame: bool | None = Field(default=None, description="The last frame as a second output.")
    service_tier: Literal["default", "flex"] | None = Field(
        default=None, description="`flex`: offline, slower; needs a deadline to match."
    )
    execution_expires_after: int | None = Field(
        default=None, ge=3600, le=259200, description="Seconds; capped at the job's deadline."
    )

    @field_validator("duration", mode="before")
    @classmethod
    def _duration_as_number(cls, value: Any) -> Any:
        return int(value) if isinstance(value, str) and value.isdigit() else _whole(value)

    @field_validator("seed", "execution_expires_after", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        return _whole(value)

    @field_validator("prompt")
    @classmethod
    def _no_flags(cls, value: str | None) -> str | None:
        if value is not None and FLAG_IN_PROMPT.search(value):
            raise ValueError(
                "put output parameters in their fields (resolution, duration, ...), not as --flags"
            )
        return value

    @classmethod
    def model_rules(cls) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
        """What the input must be for each group of models (see `offers.model_problem`)."""
        return input_rules()

    @model_validator(mode="after")
    def _offered_by_the_model(self, info: ValidationInfo) -> SeedanceVideoInput:
        model = (info.context or {}).get("model")
        problem = model_problem(model, self.operation, self.model_dump(exclude_none=True)) if model else None
        if problem is not None:
            raise ValueError(problem)
        return self


class SeedanceText2VideoInput(SeedanceVideoInput):
    operation = T2V
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"prompt": "a paper boat drifts on a lake at dawn", "duration": 5}]},
    )

    prompt: str = Field(
        min_length=1, description="Output parameters go in their fields.", json_schema_extra=NO_FLAGS
    )


class SeedanceImage2VideoInput(SeedanceVideoInput):
    """The first frame animated; with `last_frame_image`, the clip ends on that frame."""

    operation = I2V
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"first_frame_image": "https://example.com/boat.png", "prompt": "the boat drifts"}]
        },
    )

    first_frame_image: str = Field(
        min_length=1, description="Image URL or data URL.", json_schema_extra=IMAGE_REFERENCE
    )
    last_frame_image: str | None = Field(default=None, min_length=1, json_schema_extra=IMAGE_REFERENCE)

    @field_validator("first_frame_image", "last_frame_image")
    @classmethod
    def _images(cls, value: str | None) -> str | None:
        return None if value is None else _image(value)


class SeedanceReference2VideoInput(SeedanceVideoInput):
    """A clip whose subjects follow 1-4 reference images (seedance-1-0-lite-i2v and the 2.0 models)."""

    operation = R2V
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "reference_images": ["https://example.com/boat.png"],
                    "prompt": "the paper boat from the picture sails through a storm",
                }
            ]
        },
    )

    reference_images: list[str] = Field(
        min_length=1,
        max_length=4,
        description="Image URLs or data URLs.",
        json_schema_extra={"items": {"type": "string", **IMAGE_REFERENCE}},
    )

    @field_validator("reference_images")
    @classmethod
    def _references(cls, value: list[str]) -> list[str]:
        return [_image(item) for item in value]


class ArkError(BaseModel):
    """Ark's error object, in an error answer and in a failed task (`type` only in the former)."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    code: str = ""
    message: str = ""
    type: str = ""


class SeedanceContent(BaseModel):
    model_config = ConfigDict(extra="allow")

    video_url: str | None = None
    last_frame_url: str | None = None  # with return_last_frame [P]


class SeedanceTask(BaseModel):
    """Ark's task object: the query answer, and the body of a callback (timestamps in seconds)."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    id: str = ""
    model: str = ""
    status: str
    error: ArkError | None = None
    content: SeedanceContent | None = None
    usage: dict[str, Any] | None = None
    created_at: int | None = None
    updated_at: int | None = None

    @field_validator("error", mode="before")
    @classmethod
    def _error_as_text(cls, value: Any) -> Any:
        # A gateway may flatten the error into its message [I].
        return {"message": value} if isinstance(value, str) else value
