"""Veo's two wire formats (CometAPI's `/v1/videos` video object and Gemini's predictLongRunning
operation) and the unified job input for text-to-video and image-to-video."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

# CometAPI alias -> Gemini model id. The adapter translates a job's model into the channel's
# vocabulary; a name in neither column is sent as it is.
COMETAPI_TO_GEMINI = {
    "veo3": "veo-3.0-generate-001",
    "veo3-fast": "veo-3.0-fast-generate-001",
    "veo3.1": "veo-3.1-generate-preview",
    "veo3.1-fast": "veo-3.1-fast-generate-preview",
}
GEMINI_MODELS = (*COMETAPI_TO_GEMINI.values(), "veo-2.0-generate-001")
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # Gemini's inline request limit
DATA_URI = re.compile(r"^data:(image/[A-Za-z0-9.+-]+);base64,(.*)$", re.DOTALL)
# A 1x1 PNG: examples must run without reaching the internet.
EXAMPLE_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def decode_data_uri(value: str) -> tuple[str, bytes]:
    """(mime type, bytes) of a `data:image/...;base64,...` URI; ValueError when it is not one."""
    match = DATA_URI.match(value)
    if match is None:
        raise ValueError("not a data:image/...;base64,... URI")
    try:
        data = base64.b64decode("".join(match.group(2).split()), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64 in data URI: {exc}") from exc
    if not data:
        raise ValueError("the data URI holds no image")
    return match.group(1).lower(), data


def _image_reference(value: str) -> str:
    if value.startswith("data:"):
        _, data = decode_data_uri(value)
        if len(data) > MAX_IMAGE_BYTES:
            raise ValueError(f"image is larger than {MAX_IMAGE_BYTES} bytes")
        return value
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError("give an https URL or a data:image/...;base64,... URI")
    return value


_BASE64 = r"([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)"
# `_image_reference`'s rule as the document states it (a data URI's size aside).
IMAGE_PATTERN = rf"^(https://[^/?#\[\]\s]+([/?#][\s\S]*)?|data:image/[A-Za-z0-9.+-]+;base64,{_BASE64})$"
ImageRef = Annotated[
    str, AfterValidator(_image_reference), WithJsonSchema({"type": "string", "pattern": IMAGE_PATTERN})
]


class VeoVideoInput(BaseModel):
    """Fields of both operations. `size` is CometAPI's orientation hint (`16:9` is accepted and
    normalised); `resolution` and `personGeneration` are passed through in Gemini mode only."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=4000)
    size: Literal["16x9", "9x16"] = Field(
        default="16x9", validation_alias=AliasChoices("size", "aspectRatio", "aspect_ratio")
    )
    durationSeconds: Literal[4, 6, 8] = 8  # noqa: N815 - Gemini's own parameter name
    negativePrompt: str | None = Field(default=None, max_length=4000)  # noqa: N815
    resolution: Literal["720p", "1080p"] | None = None
    personGeneration: Literal["allow_all", "allow_adult"] | None = None  # noqa: N815

    @field_validator("size", mode="before")
    @classmethod
    def _size_as_cometapi_writes_it(cls, value: Any) -> Any:
        return value.strip().lower().replace(":", "x") if isinstance(value, str) else value

    @field_validator("durationSeconds", mode="before")
    @classmethod
    def _duration_as_int(cls, value: Any) -> Any:
        # Clients send "8" as readily as 8; Gemini wants the number.
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value


class VeoTextToVideoInput(VeoVideoInput):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"prompt": "a paper boat drifting on a calm lake at dawn", "durationSeconds": 8}]
        },
    )


class VeoImageToVideoInput(VeoVideoInput):
    """`image` is the first frame; `lastFrame` makes it a first/last-frame clip (8 seconds)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"prompt": "the boat drifts away", "image": EXAMPLE_PNG}],
            # A first/last-frame clip lasts 8 seconds.
            "if": {"required": ["lastFrame"], "properties": {"lastFrame": {"type": "string"}}},
            "then": {"properties": {"durationSeconds": {"const": 8}}},
        },
    )

    image: ImageRef = Field(description="First frame: an https URL or a data:image/...;base64,... URI.")
    lastFrame: ImageRef | None = Field(  # noqa: N815
        default=None, validation_alias=AliasChoices("lastFrame", "last_frame")
    )

    @model_validator(mode="after")
    def _last_frame_clips_last_eight_seconds(self) -> VeoImageToVideoInput:
        if self.lastFrame is not None and self.durationSeconds != 8:
            raise ValueError("a first/last-frame clip lasts 8 seconds: set durationSeconds to 8")
        return self


# --- CometAPI: the OpenAI-style video object (new-api `OpenAIVideo`) ----------------------------


class CometVideoError(BaseModel):
    model_config = ConfigDict(extra="allow")

    message: str | None = None
    code: str | int | None = None


class CometVideo(BaseModel):
    """The answer to `POST /v1/videos` and `GET /v1/videos/{id}`."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    object: str | None = None
    model: str | None = None
    status: str = "unknown"
    progress: int | float | str | None = None
    seconds: str | int | None = None
    size: str | None = None
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    error: CometVideoError | None = None
    metadata: dict[str, Any] | None = None
    video_url: str | None = None


# --- Gemini: the long-running operation ----------------------------------------------------------


class GoogleStatus(BaseModel):
    """google.rpc.Status, the `error` of an operation and the body of an HTTP error."""

    model_config = ConfigDict(extra="allow")

    code: int | None = None
    message: str = ""
    status: str | None = None


class GeneratedVideo(BaseModel):
    """Gemini's `{uri}`; Vertex's `{gcsUri | bytesBase64Encoded, mimeType}`."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    uri: str | None = None
    gcs_uri: str | None = Field(default=None, alias="gcsUri")
    bytes_base64: str | None = Field(default=None, alias="bytesBase64Encoded")
    mime_type: str | None = Field(default=None, alias="mimeType")


class GeneratedSample(BaseModel):
    model_config = ConfigDict(extra="allow")

    video: GeneratedVideo | None = None


class GenerateVideoResponse(BaseModel):
    """`response.generateVideoResponse`, or `response` itself where a proxy drops the wrapper."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    samples: list[GeneratedSample] = Field(
        default_factory=list, validation_alias=AliasChoices("generatedSamples", "generated_samples")
    )
    videos: list[GeneratedVideo] = Field(default_factory=list)  # Vertex
    filtered_count: int = Field(
        default=0, validation_alias=AliasChoices("raiMediaFilteredCount", "rai_media_filtered_count")
    )
    filtered_reasons: list[str] = Field(
        default_factory=list,
        validation_alias=AliasChoices("raiMediaFilteredReasons", "rai_media_filtered_reasons"),
    )


class GeminiOperation(BaseModel):
    """`{name, done?, error?, response?, metadata?}`; `done` absent means still running."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    done: bool = False
    error: GoogleStatus | None = None
    response: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
