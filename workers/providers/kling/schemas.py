"""Kling's wire format (CometAPI pass-through of the vendor API) and the unified job input for it."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

KLING_MODELS = (
    "kling-v1",
    "kling-v1-5",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v2-6",
)


DATA_URI_PREFIX = re.compile(r"^data:[^,]*;base64,")


def raw_base64(value: str) -> str:
    """Kling takes an image as a URL or as raw base64; a data URI's `data:...;base64,` prefix, which
    Kling refuses, is removed."""
    return DATA_URI_PREFIX.sub("", value, count=1)


def _whole_number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# The input models are strict: no value of another JSON type is taken for one (`false` is no
# `cfg_scale`, `0` no `enabled`, `"0.5"` no number), as the document's types say. An integer is a JSON
# one: `2.0` is 2.
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]

# An image as Kling's newer operations take it: URL or base64 (JPG/PNG, <= 10 MB, >= 300 px).
ImageRef = Annotated[str, Field(min_length=1), AfterValidator(raw_base64)]


class CameraConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    horizontal: float | None = Field(default=None, ge=-10, le=10)
    vertical: float | None = Field(default=None, ge=-10, le=10)
    pan: float | None = Field(default=None, ge=-10, le=10)
    tilt: float | None = Field(default=None, ge=-10, le=10)
    roll: float | None = Field(default=None, ge=-10, le=10)
    zoom: float | None = Field(default=None, ge=-10, le=10)


class CameraControl(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal["simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward"]
    config: CameraConfig | None = None


class WatermarkInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool


class KlingVideoInput(BaseModel):
    """Fields shared by text2video and image2video. `model_name`, `callback_url` and
    `external_task_id` are genrelay's to set, so a tenant does not send them here."""

    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str = Field(default="", max_length=2500)
    negative_prompt: str | None = Field(default=None, max_length=2500)
    cfg_scale: float | None = Field(default=None, ge=0, le=1)
    mode: Literal["std", "pro"] = "std"
    aspect_ratio: Literal["16:9", "9:16", "1:1"] = "16:9"
    duration: Literal["5", "10"] = "5"
    sound: Literal["on", "off"] | None = None
    camera_control: CameraControl | None = None
    watermark_info: WatermarkInfo | None = None

    @field_validator("duration", mode="before")
    @classmethod
    def _duration_as_string(cls, value: Any) -> Any:
        # Kling wants the string "5"; clients naturally send the number 5.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class KlingText2VideoInput(KlingVideoInput):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"prompt": "a paper boat on a lake", "duration": "5"}]},
    )

    prompt: str = Field(min_length=1, max_length=2500)


class DynamicMask(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    mask: str = Field(min_length=1)
    trajectories: list[dict[str, WholeNumber]] = Field(min_length=2, max_length=77)


class KlingImage2VideoInput(KlingVideoInput):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"image": "https://example.com/boat.png", "prompt": "the boat drifts"}]
        },
    )

    image: str = Field(min_length=1, description="Image URL or base64 (JPG/PNG, <= 10 MB).")
    image_tail: str | None = None
    static_mask: str | None = None
    dynamic_masks: list[DynamicMask] | None = Field(default=None, max_length=6)


class KlingVideo(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = None
    url: str
    duration: str | None = None


class KlingImage(BaseModel):
    model_config = ConfigDict(extra="allow")

    index: int | None = None
    url: str


class KlingAudio(BaseModel):
    """An audio result (text-to-audio, video-to-audio). Its shape is not documented [M]: Kling's
    `url_mp3`/`url_wav` with their durations, read tolerantly (`mp3_url`, a bare `url`)."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    url_mp3: str | None = Field(default=None, validation_alias=AliasChoices("url_mp3", "mp3_url"))
    url_wav: str | None = Field(default=None, validation_alias=AliasChoices("url_wav", "wav_url"))
    url: str | None = None
    duration_mp3: str | int | float | None = None
    duration_wav: str | int | float | None = None
    duration: str | int | float | None = None


class KlingTaskResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    videos: list[KlingVideo] = Field(default_factory=list)
    images: list[KlingImage] = Field(default_factory=list)
    audios: list[KlingAudio] = Field(default_factory=list)


class KlingTaskInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    external_task_id: str | None = None
    parent_video: dict[str, Any] | None = None  # what a video extension extended [V], read as it comes


class KlingTask(BaseModel):
    """The task object: `data` of a query answer, and the whole body of a callback."""

    model_config = ConfigDict(extra="allow")

    task_id: str
    task_status: str
    task_status_msg: str | None = None
    task_info: KlingTaskInfo | None = None
    task_result: KlingTaskResult | None = None
    created_at: int | None = None
    updated_at: int | None = None


class KlingEnvelope(BaseModel):
    """`{code, message, request_id, data}`; `code` 0 means accepted."""

    model_config = ConfigDict(extra="allow")

    code: int
    message: str = ""
    request_id: str | None = None
    data: dict[str, Any] | None = None


class KlingImageInput(BaseModel):
    """Kling image generation (`/v1/images/generations`): 1 to 9 images per task."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [{"prompt": "a lighthouse at dusk"}]}
    )

    prompt: str = Field(min_length=1, max_length=2500)
    negative_prompt: str | None = Field(default=None, max_length=2500)
    image: str | None = Field(default=None, description="Reference image URL or base64.")
    image_reference: Literal["subject", "face"] | None = None
    image_fidelity: float | None = Field(default=None, ge=0, le=1)
    human_fidelity: float | None = Field(default=None, ge=0, le=1)
    n: WholeNumber = Field(default=1, ge=1, le=9)
    aspect_ratio: Literal["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9"] = "1:1"


class KlingVirtualTryOnInput(BaseModel):
    """Kolors virtual try-on (`/v1/images/kolors-virtual-try-on`): a person wearing a garment. The
    model (`kolors-virtual-try-on-v1` or `-v1-5`, which also takes a top and bottom together) is the
    job's model."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "human_image": "https://example.com/person.jpg",
                    "cloth_image": "https://example.com/shirt.png",
                }
            ]
        },
    )

    human_image: ImageRef = Field(description="The person: URL or raw base64 (JPG/PNG, <= 10 MB, >= 300 px).")
    cloth_image: ImageRef = Field(description="The garment: URL or raw base64 (JPG/PNG, <= 10 MB).")
