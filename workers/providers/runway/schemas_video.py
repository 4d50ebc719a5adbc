"""Runway's video operations beyond image_to_video (providers-more.md §5c): text_to_video (Veo),
video_to_video (Aleph), video_upscale and character_performance (Act-Two). Each has its wire body (what
Runway takes, and what the simulator checks) and, where it reads a video, a unified job input that may
name an earlier Runway job (`parent_job_id`) instead, whose output the adapter puts in its place."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from workers.providers.rules import exactly_one
from workers.providers.runway.schemas import (
    IMAGE_RATIO_PATTERN,
    MAX_DATA_URI_CHARS,
    ContentModeration,
    ImageUri,
    Seed,
    _Wire,
    as_whole_number,
    uri_rule,
    whole_float,
)

# Runway fetches videos itself, as it does images: HTTPS, a data URI (<= 5 MB decoded), an upload URI.
VIDEO_URI_PREFIXES = ("https://", "data:video/", "runway://")
PARENT_FIELD = "parent_job_id"
VeoRatio = Literal["1280:720", "720:1280", "1080:1920", "1920:1080"]
ActTwoRatio = Literal["1280:720", "720:1280", "960:960", "1104:832", "832:1104", "1584:672"]
PARENT_DESCRIPTION = "Our id of an earlier, succeeded Runway job whose output this job takes."


def _video_uri(value: str) -> str:
    if not value.startswith(VIDEO_URI_PREFIXES):
        raise ValueError("must be an https:// URL, a data:video/... URI or a runway:// upload URI")
    if len(value) > MAX_DATA_URI_CHARS:
        raise ValueError("is larger than Runway's 5 MB limit")
    return value


VideoUri = Annotated[str, AfterValidator(_video_uri), uri_rule(VIDEO_URI_PREFIXES)]


def _parent_field() -> Any:
    return Field(
        default=None, alias=PARENT_FIELD, min_length=1, max_length=64, description=PARENT_DESCRIPTION
    )


def _exactly_one(model: _Wire, field: str, wire_name: str) -> None:
    given = [getattr(model, field) is not None, getattr(model, PARENT_FIELD) is not None]
    if given.count(True) != 1:
        raise ValueError(f"give exactly one of {wire_name} and {PARENT_FIELD}")


class RunwayTextToVideoInput(_Wire):
    """`POST /v1/text_to_video` (Veo through Runway). veo3 makes 8-second videos only: its price list
    has no other duration, so a shorter one is refused when the job is created."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"promptText": "a paper boat drifting on a lake at dawn", "ratio": "1280:720"}]
        }
    )

    prompt_text: str = Field(min_length=1, max_length=1000)
    ratio: VeoRatio | None = None
    duration: Literal[4, 6, 8] = 8
    audio: bool = True  # sent every time: it decides the price

    @field_validator("duration", mode="before")
    @classmethod
    def _duration_as_int(cls, value: Any) -> Any:
        return as_whole_number(value)

    @classmethod
    def model_rules(cls) -> list[tuple[list[str], dict[str, Any]]]:
        """veo3's one length, for the document of a unified job."""
        return [(["veo3"], {"properties": {"duration": {"const": 8}}})]


class ReferenceImage(_Wire):
    type: Literal["image"] = "image"
    uri: ImageUri


class RunwayVideoToVideoWire(_Wire):
    """`POST /v1/video_to_video` (gen4_aleph) as Runway takes it."""

    video_uri: VideoUri
    prompt_text: str = Field(min_length=1, max_length=1000)
    # Aleph's ratios are not all documented for CometAPI: any "W:H" goes, Runway names a wrong one.
    ratio: str | None = Field(default=None, pattern=IMAGE_RATIO_PATTERN)
    references: list[ReferenceImage] | None = Field(default=None, min_length=1, max_length=5)
    seed: Seed | None = None
    content_moderation: ContentModeration | None = None


class RunwayVideoToVideoInput(RunwayVideoToVideoWire):
    """Restyle a video by prompt: its `videoUri`, or the output of an earlier Runway job."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"videoUri": "https://example.com/boat.mp4", "promptText": "make it snow"},
                {"parent_job_id": "0190f5c2-7d1e-7c3a-9b1e-2f4a6c8e0b13", "promptText": "make it snow"},
            ],
            **exactly_one("videoUri", "parent_job_id"),
        }
    )

    video_uri: VideoUri | None = None  # type: ignore[assignment]
    parent_job_id: str | None = _parent_field()

    @model_validator(mode="after")
    def _one_video(self) -> Self:
        _exactly_one(self, "video_uri", "videoUri")
        return self


class RunwayVideoUpscaleWire(_Wire):
    """`POST /v1/video_upscale` (upscale_v1): up to 4096 px a side, 40 s at most (Runway checks)."""

    video_uri: VideoUri


class RunwayVideoUpscaleInput(RunwayVideoUpscaleWire):
    """Upscale a video: its `videoUri`, or the output of an earlier Runway job."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"videoUri": "https://example.com/boat.mp4"},
                {"parent_job_id": "0190f5c2-7d1e-7c3a-9b1e-2f4a6c8e0b13"},
            ],
            **exactly_one("videoUri", "parent_job_id"),
        }
    )

    video_uri: VideoUri | None = None  # type: ignore[assignment]
    parent_job_id: str | None = _parent_field()

    @model_validator(mode="after")
    def _one_video(self) -> Self:
        _exactly_one(self, "video_uri", "videoUri")
        return self


class CharacterImage(_Wire):
    type: Literal["image"]
    uri: ImageUri


class CharacterVideo(_Wire):
    type: Literal["video"]
    uri: VideoUri


class PerformanceVideo(_Wire):
    """The performance to copy: a person on video, 3 to 30 seconds (Runway checks the length)."""

    type: Literal["video"] = "video"
    uri: VideoUri


Character = Annotated[CharacterImage | CharacterVideo, Field(discriminator="type")]


class RunwayCharacterPerformanceWire(_Wire):
    """`POST /v1/character_performance` (act_two) as Runway takes it."""

    character: Character
    reference: PerformanceVideo
    body_control: bool | None = None
    expression_intensity: Annotated[int, Field(ge=1, le=5), BeforeValidator(whole_float)] | None = None
    ratio: ActTwoRatio | None = None
    seed: Seed | None = None
    content_moderation: ContentModeration | None = None


class RunwayCharacterPerformanceInput(RunwayCharacterPerformanceWire):
    """Act-Two: a character (an image or a video of it, or an earlier Runway job's output) performs
    what the reference video shows."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "character": {"type": "image", "uri": "https://example.com/keeper.png"},
                    "reference": {"type": "video", "uri": "https://example.com/performance.mp4"},
                    "expressionIntensity": 3,
                },
                {
                    "parent_job_id": "0190f5c2-7d1e-7c3a-9b1e-2f4a6c8e0b13",
                    "reference": {"type": "video", "uri": "https://example.com/performance.mp4"},
                },
            ],
            **exactly_one("character", "parent_job_id"),
        }
    )

    character: Character | None = None  # type: ignore[assignment]
    parent_job_id: str | None = _parent_field()

    @model_validator(mode="after")
    def _one_character(self) -> Self:
        _exactly_one(self, "character", "character")
        return self
