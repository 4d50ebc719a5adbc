"""Runway's official wire format (providers.md §3a, as CometAPI passes it through under `/runwayml`)
and the unified job input for it. Inputs use Runway's own camelCase names, so they go upstream as-is."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

RUNWAY_VERSION = "2024-11-06"
# Runway fetches prompt images itself: HTTPS only, a data URI (<= 5 MB decoded) or an upload URI.
IMAGE_URI_PREFIXES = ("https://", "data:image/", "runway://")
MAX_DATA_URI_CHARS = 7_000_000  # 5 MB as base64 plus the header
MAX_SEED = 4_294_967_295  # upstream's range; CometAPI documents 0..999999999, a subset
VideoRatio = Literal[
    "1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672", "1280:768", "768:1280"
]
VIDEO_RATIOS: tuple[str, ...] = get_args(VideoRatio)
# Image ratios differ per model (gen4_image: 1920:1080, 1024:1024, 1360:768...): any "W:H" is accepted.
IMAGE_RATIO_PATTERN = r"^[1-9][0-9]{1,4}:[1-9][0-9]{1,4}$"


def as_whole_number(value: Any) -> Any:
    """A JSON number without a fraction (`8.0`) or digits as a string (CometAPI's examples send "5") as
    the integer it is; a boolean stays what it is, and is refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return int(value) if isinstance(value, str) and value.isdigit() else value


def whole_float(value: Any) -> Any:
    return as_whole_number(value) if isinstance(value, float) else value


Seed = Annotated[int, Field(ge=0, le=MAX_SEED), BeforeValidator(whole_float)]


class _Wire(BaseModel):
    """A Runway input object: camelCase on the wire and in the stored job input; nothing unknown, and
    no value of another JSON type taken for one (`false` is no seed, `0` no flag), as Runway refuses them."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, serialize_by_alias=True, strict=True)


def _image_uri(value: str) -> str:
    if not value.startswith(IMAGE_URI_PREFIXES):
        raise ValueError("must be an https:// URL, a data:image/... URI or a runway:// upload URI")
    if len(value) > MAX_DATA_URI_CHARS:
        raise ValueError("is larger than Runway's 5 MB limit")
    return value


def uri_schema(prefixes: tuple[str, ...]) -> dict[str, Any]:
    """A URI's check as its schema states it: by prefix and size (the validator says it in its own words)."""
    alternatives = "|".join(prefix.replace(".", r"\.") for prefix in prefixes)
    return {"pattern": f"^({alternatives})", "maxLength": MAX_DATA_URI_CHARS}


def uri_rule(prefixes: tuple[str, ...]) -> Any:
    """`uri_schema` as a field's, for the document."""
    return Field(json_schema_extra=uri_schema(prefixes))


ImageUri = Annotated[str, AfterValidator(_image_uri), uri_rule(IMAGE_URI_PREFIXES)]


# One or two frames (at different positions, which only the validator can say).
ONE_OR_TWO: dict[str, Any] = {"minItems": 1, "maxItems": 2}


class PromptImage(_Wire):
    uri: ImageUri
    position: Literal["first", "last"] = "first"


class ContentModeration(_Wire):
    public_figure_threshold: Literal["auto", "low"] = "auto"


class RunwayImageToVideoInput(_Wire):
    """`POST /v1/image_to_video`. `model` comes from the job; the ratio defaults per model upstream."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "promptImage": "https://example.com/lighthouse.png",
                    "promptText": "waves roll in as the light turns",
                    "duration": 5,
                }
            ]
        }
    )

    prompt_image: ImageUri | Annotated[list[PromptImage], Field(json_schema_extra=ONE_OR_TWO)] = Field(
        description="An HTTPS URL or data URI, or 1-2 frames [{uri, position: first|last}]."
    )
    prompt_text: str | None = Field(default=None, min_length=1, max_length=1000)
    ratio: VideoRatio | None = None
    duration: Literal[5, 10] = 5
    seed: Seed | None = None
    watermark: bool | None = None
    content_moderation: ContentModeration | None = None

    @field_validator("prompt_image")
    @classmethod
    def _prompt_image(cls, value: str | list[PromptImage]) -> str | list[PromptImage]:
        if isinstance(value, str):
            return _image_uri(value)
        positions = [frame.position for frame in value]
        if not 1 <= len(positions) <= 2 or len(set(positions)) != len(positions):
            raise ValueError("takes one or two frames with different positions")
        return value

    @field_validator("duration", mode="before")
    @classmethod
    def _duration_as_int(cls, value: Any) -> Any:
        # Clients copying CometAPI examples send "5"; Runway wants the number.
        return as_whole_number(value)


class ReferenceImage(_Wire):
    uri: ImageUri
    tag: str | None = Field(default=None, min_length=1, max_length=32)


class RunwayTextToImageInput(_Wire):
    """`POST /v1/text_to_image`: one image per task."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"promptText": "a lighthouse at dusk, oil painting", "ratio": "1920:1080"}]
        }
    )

    prompt_text: str = Field(min_length=1, max_length=1000)
    ratio: str | None = Field(default=None, pattern=IMAGE_RATIO_PATTERN)
    reference_images: list[ReferenceImage] | None = Field(default=None, min_length=1, max_length=16)
    seed: Seed | None = None
    content_moderation: ContentModeration | None = None


class RunwayTask(BaseModel):
    """The task object (`GET /v1/tasks/{id}`): a union on `status`, read loosely."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    task_id: str = Field(alias="id")
    status: str
    created_at: str | None = Field(default=None, alias="createdAt")
    progress: float | str | None = None
    output: list[str] | None = None
    failure: str | None = None
    failure_code: str | None = Field(default=None, alias="failureCode")


class UnifiedTask(BaseModel):
    """`data` of CometAPI's new-api envelope: its own status words, the bare Runway task in `data`."""

    model_config = ConfigDict(extra="allow")

    task_id: str | None = None
    action: str | None = None
    status: str | None = None
    fail_reason: str | None = None
    progress: str | float | None = None
    data: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_inner_object(cls, raw: Any) -> Any:
        # new-api leaves `data` as null, {} or a JSON string before the first upstream answer.
        if isinstance(raw, dict) and not isinstance(raw.get("data"), dict | None):
            return {**raw, "data": None}
        return raw


class UnifiedEnvelope(BaseModel):
    """`{"code": "success", "message": "", "data": {...}}` as CometAPI answers task queries."""

    model_config = ConfigDict(extra="allow")

    code: str | int | None = None
    message: str | None = None
    data: UnifiedTask | None = None
