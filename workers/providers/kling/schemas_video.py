"""The unified job inputs of Kling's newer video operations (providers-more.md §5a): multi-image to
video, effects, avatar, and the follow-ups on an earlier video (extension, lip-sync). Each is flat;
`creates` puts it in Kling's body (a nested `input` for lip-sync and effects, `video_id` for a parent)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.config import JsonValue

from workers.providers.kling.schemas import DynamicMask, ImageRef
from workers.providers.rules import exactly_one, given, left_out

# Our id of a parent job, in examples: a follow-up's example is complete apart from it.
EXAMPLE_PARENT = "0190f5c2-7d1e-7c3a-9b1e-2f4a6c8e0b13"
# Effect scenes that animate two people from two images; every other scene takes one image. Scenes
# come and go upstream, so only these are known here: Kling judges the rest.
TWO_PERSON_SCENES = frozenset({"hug", "kiss", "heart_gesture"})


def _number_as_string(value: Any) -> Any:
    # Kling wants the string "5"; clients naturally send the number 5.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Duration = Annotated[Literal["5", "10"], BeforeValidator(_number_as_string)]
ParentJobId = Annotated[str, Field(min_length=1, max_length=64, description="Our id of the parent job.")]


class ImageItem(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    image: ImageRef


class KlingMultiImage2VideoInput(BaseModel):
    """`/v1/videos/multi-image2video`: one video from 2 to 4 reference images."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "image_list": [
                        {"image": "https://example.com/astronaut.png"},
                        {"image": "https://example.com/moon.png"},
                    ],
                    "prompt": "the astronaut walks across the moon",
                }
            ]
        },
    )

    image_list: list[ImageItem] = Field(min_length=2, max_length=4)
    prompt: str | None = Field(default=None, max_length=500)
    negative_prompt: str | None = Field(default=None, max_length=200)
    mode: Literal["std", "pro"] = "std"
    duration: Duration = "5"
    aspect_ratio: Literal["16:9", "9:16", "1:1"] | None = None
    cfg_scale: float | None = Field(default=None, ge=0, le=1)
    static_mask: str | None = None
    dynamic_masks: list[DynamicMask] | None = Field(default=None, max_length=6)


class KlingEffectsInput(BaseModel):
    """`/v1/videos/effects`: an effect scene played on one image, or on two people from two images
    (`hug`, `kiss`, `heart_gesture`)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "effect_scene": "hug",
                    "images": ["https://example.com/left.png", "https://example.com/right.png"],
                },
                {"effect_scene": "bloombloom", "image": "https://example.com/flower.png"},
            ],
            "allOf": [
                exactly_one("image", "images"),
                {
                    "if": {
                        "properties": {"effect_scene": {"enum": list[JsonValue](sorted(TWO_PERSON_SCENES))}}
                    },
                    "then": given("images"),
                },
            ],
        },
    )

    effect_scene: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    image: ImageRef | None = None
    images: list[ImageRef] | None = Field(default=None, min_length=2, max_length=2)
    mode: Literal["std", "pro"] = "std"
    duration: Duration = "5"

    @model_validator(mode="after")
    def _one_shape(self) -> Self:
        if (self.image is None) == (self.images is None):
            raise ValueError("give exactly one of image (one-image scenes) or images (two-person scenes)")
        if self.effect_scene in TWO_PERSON_SCENES and self.images is None:
            raise ValueError(f"{self.effect_scene} is a two-person scene: give images, two of them")
        return self


class KlingAvatarInput(BaseModel):
    """`/v1/videos/avatar/image2video`: a portrait speaking an audio: Kling TTS audio (`audio_id`)
    or an audio file (`sound_file`), exactly one."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "image": "https://example.com/portrait.png",
                    "sound_file": "https://example.com/greeting.mp3",
                    "prompt": "a friendly greeting",
                }
            ],
            **exactly_one("audio_id", "sound_file"),
        },
    )

    image: ImageRef
    audio_id: str | None = Field(
        default=None, min_length=1, description="Kling TTS audio, 2-60 s, <= 30 days old."
    )
    sound_file: str | None = Field(
        default=None, min_length=1, description="URL or base64 of MP3/WAV/M4A/AAC, <= 5 MB, 2-60 s."
    )
    prompt: str | None = Field(default=None, max_length=2500)
    mode: Literal["std", "pro"] = "std"

    @model_validator(mode="after")
    def _one_audio(self) -> Self:
        if (self.audio_id is None) == (self.sound_file is None):
            raise ValueError("give exactly one of audio_id or sound_file")
        return self


class KlingVideoExtendInput(BaseModel):
    """`/v1/videos/video-extend`: about 4.5 s more of a Kling video (the parent job's), in the
    parent's model and mode, on the account that made it."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"parent_job_id": EXAMPLE_PARENT, "prompt": "the boat sails into the sunset"}]
        },
    )

    parent_job_id: ParentJobId
    prompt: str | None = Field(default=None, max_length=2500)
    negative_prompt: str | None = Field(default=None, max_length=2500)
    cfg_scale: float | None = Field(default=None, ge=0, le=1)


class VideoSource(BaseModel):
    """A follow-up that may also act on any video: exactly one of a parent job (a Kling video, sent
    as its `video_id`) or a `video_url`."""

    parent_job_id: ParentJobId | None = None
    video_url: str | None = Field(default=None, min_length=1, max_length=2048)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.parent_job_id is None) == (self.video_url is None):
            raise ValueError("give exactly one of parent_job_id (a Kling video job) or video_url")
        return self


TEXT_FIELDS = ("text", "voice_id", "voice_language", "voice_speed")
AUDIO_FIELDS = ("audio_type", "audio_url", "audio_file")


class KlingLipSyncInput(VideoSource):
    """`/v1/videos/lip-sync`: a video's speaker mouths a text read by a Kling voice (`text2video`)
    or an audio (`audio2video`: `audio_url`, or `audio_file` as base64; MP3/WAV/M4A/AAC <= 5 MB,
    2-60 s)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "parent_job_id": EXAMPLE_PARENT,
                    "mode": "text2video",
                    "text": "Hello from the lake.",
                    "voice_id": "genshin_vindi2",
                    "voice_language": "en",
                },
                {
                    "video_url": "https://example.com/speaker.mp4",
                    "mode": "audio2video",
                    "audio_url": "https://example.com/speech.mp3",
                },
            ],
            "allOf": [
                exactly_one("parent_job_id", "video_url"),
                # Each mode takes its own fields: text2video a text and a voice, audio2video one audio
                # (its audio_type, when sent, naming which).
                {
                    "if": {"properties": {"mode": {"const": "text2video"}}},
                    "then": {"allOf": [given("text"), given("voice_id"), left_out(*AUDIO_FIELDS)]},
                    "else": {
                        "allOf": [
                            left_out(*TEXT_FIELDS),
                            {
                                "oneOf": [
                                    {
                                        **given("audio_url"),
                                        "properties": {
                                            "audio_url": {"not": {"type": "null"}},
                                            "audio_type": {"enum": ["url", None]},
                                        },
                                    },
                                    {
                                        **given("audio_file"),
                                        "properties": {
                                            "audio_file": {"not": {"type": "null"}},
                                            "audio_type": {"enum": ["file", None]},
                                        },
                                    },
                                ]
                            },
                        ]
                    },
                },
            ],
        },
    )

    mode: Literal["text2video", "audio2video"]
    text: str | None = Field(default=None, min_length=1, max_length=120)
    voice_id: str | None = Field(default=None, min_length=1, max_length=128)
    voice_language: Literal["zh", "en"] | None = None
    voice_speed: float | None = Field(default=None, ge=0.8, le=2.0)
    audio_type: Literal["url", "file"] | None = None
    audio_url: str | None = Field(default=None, min_length=1, max_length=2048)
    audio_file: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _fields_of_the_mode(self) -> Self:
        other = AUDIO_FIELDS if self.mode == "text2video" else TEXT_FIELDS
        stray = [name for name in other if getattr(self, name) is not None]
        if stray:
            raise ValueError(f"{', '.join(stray)} belong to the other mode, not {self.mode}")
        if self.mode == "text2video":
            if self.text is None or self.voice_id is None:
                raise ValueError("text2video needs text and voice_id")
            return self
        if (self.audio_url is None) == (self.audio_file is None):
            raise ValueError("audio2video needs exactly one of audio_url or audio_file")
        given: Literal["url", "file"] = "url" if self.audio_url is not None else "file"
        if self.audio_type not in (None, given):
            raise ValueError(f"audio_type {self.audio_type!r} does not match the audio_{given} given")
        self.audio_type = given
        return self
