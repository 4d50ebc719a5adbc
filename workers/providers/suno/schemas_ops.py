"""The unified inputs of Suno's operations besides music and lyrics: a clip uploaded from a public URL,
and the follow-ups that act on a clip of an earlier Suno job (concat, stems, persona, and the wav, mp4,
midi and timing conversions), with the kinds of parent each can act on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StrictBool,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict

from schemas.jobs import URL_PORT

# The conversions CometAPI serves as `GET /suno/act/{kind}/{clip_id}`, by operation name.
ACT_KINDS = ("wav", "mp4", "midi", "timing")
# An uploaded clip's link: http(s), an ASCII host name or address, an optional port, then printable
# ASCII (a URI: RFC 3986 has no space, control or non-ASCII character).
AUDIO_URL_PATTERN = rf"^https?://[A-Za-z0-9.-]+(:{URL_PORT})?([/?#][!-~]*)?$"
MAX_AUDIO_URL = 2083
# A follow-up's example names only its parent (any real parent of the right kind will do): `clip_id`
# is optional, the parent's first clip by default.
EXAMPLE_PARENT = "0190f5c2-7d1e-7c3a-9b1e-2f4a6c8e0b13"
EXAMPLE_CLIP = "ae0dc531-6b55-4ac6-9a2c-7e0f4b2d9c11"
CLIP_MAKERS = frozenset({"music", "concat", "upload"})
# What each follow-up can act on: a song's clips (generated, joined or uploaded) for most; a persona's
# root must be generated (Suno refuses an uploaded one), aligned lyrics need a sung, generated clip.
PARENT_OPERATIONS: Mapping[str, frozenset[str]] = {
    "concat": frozenset({"music"}),
    "stems": CLIP_MAKERS,
    "persona": frozenset({"music", "concat"}),
    "wav": CLIP_MAKERS | {"stems"},
    "mp4": CLIP_MAKERS | {"stems"},
    "midi": CLIP_MAKERS | {"stems"},
    "timing": frozenset({"music", "concat"}),
}


def _examples(*examples: JsonDict) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class SunoUploadInput(BaseModel):
    """`POST /suno/uploads/audio-url`: a clip made from a public audio file, to extend or convert."""

    model_config = _examples({"url": "https://cdn.example.com/songs/demo.mp3"})

    url: HttpUrl = Field(description="A public http(s) link to the audio (mp3).")

    @field_validator("url", mode="wrap")
    @classmethod
    def _ascii_link(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # A URL, then one the document's pattern takes: a host outside ASCII (an IDN) is no URI.
        url = handler(value)
        if isinstance(value, str) and not (
            len(value) <= MAX_AUDIO_URL and re.fullmatch(AUDIO_URL_PATTERN, value)
        ):
            raise ValueError("a public http(s) link in printable ASCII (an IDN host written in punycode)")
        return url


class ClipFollowUp(BaseModel):
    """Acts on one clip of an earlier Suno job of this account."""

    model_config = _examples(
        {"parent_job_id": EXAMPLE_PARENT}, {"parent_job_id": EXAMPLE_PARENT, "clip_id": EXAMPLE_CLIP}
    )

    parent_job_id: str = Field(min_length=1, max_length=64, description="Our id of the job with the clip.")
    clip_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Which of the parent's clips (its result lists them); the first one when left out.",
    )


class SunoConcatInput(ClipFollowUp):
    """`POST /suno/submit/concat`: the full song an extended clip ends, as one new clip."""

    is_infill: StrictBool = Field(default=False, description="True for a clip made by replacing a section.")


class SunoStemsInput(ClipFollowUp):
    """Stem separation (`task: "gen_stem"`): vocals and instrumental ("two"), or up to twelve tracks."""

    stem_task: Literal["two", "twelve"] = "two"
    title: str | None = Field(default=None, max_length=200)


class SunoPersonaInput(ClipFollowUp):
    """`POST /suno/persona/create`: a persona (a singer's voice and style) from a generated clip; its
    id is the job's result, to generate with (`music` with `task: "artist_consistency"`)."""

    model_config = _examples(
        {"parent_job_id": EXAMPLE_PARENT, "name": "Night Singer"},
        {
            "parent_job_id": EXAMPLE_PARENT,
            "clip_id": EXAMPLE_CLIP,
            "name": "Night Singer",
            "description": "warm alto, synth-pop",
            "is_public": False,
        },
    )

    name: str = Field(min_length=1, max_length=100, json_schema_extra={"pattern": r"\S"})  # not blank
    description: str = Field(default="", max_length=1000)
    is_public: StrictBool = False
    clips: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="The parent's clips the persona learns from (with `clip_id` among them); just "
        "`clip_id` when left out.",
        json_schema_extra={"items": {"type": "string", "minLength": 1, "maxLength": 64}},
    )

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value

    @field_validator("clips")
    @classmethod
    def _clip_ids(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not all(0 < len(clip) <= 64 for clip in value):
            raise ValueError("each clip id has 1 to 64 characters")
        return value

    @model_validator(mode="after")
    def _root_among_clips(self) -> Self:
        if self.clips is not None and self.clip_id is not None and self.clip_id not in self.clips:
            raise ValueError("clips must include clip_id, the persona's root clip")
        return self


class SunoClipInput(ClipFollowUp):
    """A conversion of one clip, answered by `GET /suno/act/{kind}/{clip_id}`: the WAV file, the MP4
    video, the MIDI transcription (`midi`, ready after a while) or the lyrics aligned to the audio."""


FOLLOW_UP_INPUTS: Mapping[str, type[ClipFollowUp]] = {
    "concat": SunoConcatInput,
    "stems": SunoStemsInput,
    "persona": SunoPersonaInput,
    **dict.fromkeys(ACT_KINDS, SunoClipInput),
}
