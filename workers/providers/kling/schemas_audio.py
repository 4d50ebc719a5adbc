"""The unified job inputs of Kling's audio operations (providers-more.md §5a): sound from a text, and
sound for a video (a parent Kling video job's, or any video by URL)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from workers.providers.kling.schemas_video import EXAMPLE_PARENT, VideoSource
from workers.providers.rules import exactly_one

# A text-to-audio duration: 3.0 to 10.0 s in tenths. The document lists them (an exact rule, where
# `multipleOf: 0.1` is not, with binary floats), each a `const`: generated clients take no enum of
# numbers with a fraction (openapi-python-client drops the model). The validator is the same rule.
AUDIO_DURATIONS = tuple(n / 10 for n in range(30, 101))
AUDIO_DURATION_RULE: dict[str, JsonValue] = {"anyOf": [{"const": seconds} for seconds in AUDIO_DURATIONS]}


class KlingTextToAudioInput(BaseModel):
    """`/v1/audio/text-to-audio`: a sound effect or ambience of 3.0 to 10.0 s from a prompt."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"prompt": "waves on a pebble beach", "duration": 5.0}]},
    )

    prompt: str = Field(min_length=1, max_length=200)
    duration: float = Field(
        ge=3.0,
        le=10.0,
        description="Seconds, with at most one decimal.",
        json_schema_extra=AUDIO_DURATION_RULE,
    )

    @field_validator("duration")
    @classmethod
    def _one_decimal(cls, value: float) -> float:
        if Decimal(str(value)) != Decimal(str(value)).quantize(Decimal("0.1")):
            raise ValueError("duration takes at most one decimal (e.g. 5.5)")
        return value


class KlingVideoToAudioInput(VideoSource):
    """`/v1/audio/video-to-audio`: sound effects and music for a 3-20 s video: a parent Kling video
    job's, or one by `video_url` (MP4/MOV <= 100 MB, 720p/1080p)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "parent_job_id": EXAMPLE_PARENT,
                    "sound_effect_prompt": "oars in calm water",
                    "bgm_prompt": "a gentle piano",
                },
                {"video_url": "https://example.com/boat.mp4", "sound_effect_prompt": "oars in calm water"},
            ],
            **exactly_one("parent_job_id", "video_url"),
        },
    )

    sound_effect_prompt: str | None = Field(default=None, max_length=200)
    bgm_prompt: str | None = Field(default=None, max_length=200)
    asmr_mode: bool | None = None
