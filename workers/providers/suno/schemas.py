"""Suno's wire format as CometAPI and the Suno-API proxies speak it (`/suno/...`, TaskDto with two
clips per music task), the unified job inputs for music and lyrics, and how clips make a task status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, field_validator, model_validator
from pydantic.config import JsonDict

from workers.providers.rules import given, left_out

SUNO_MODELS = ("chirp-v3-0", "chirp-v3-5", "chirp-v4", "chirp-auk", "chirp-bluejay", "chirp-crow")
# What a client gets without `mv`: new-api's default (providers.md §4.1); same price as chirp-v3-5.
DEFAULT_MODEL = "chirp-v3-0"
SunoMode = Literal["inspiration", "custom", "continuation"]

CUSTOM_FIELDS = ("prompt", "tags", "negative_tags", "title")
CONTINUATION_FIELDS = ("continue_at", "task_id")
INFILL_FIELDS = ("infill_start_s", "infill_end_s")
PERSONA_FIELDS = ("persona_id", "artist_clip_id")
TEXT: JsonDict = {"type": "string", "pattern": r"\S"}  # not blank


def _mode(mode: str, *rules: JsonDict) -> JsonDict:
    return {"allOf": [{"properties": {"mode": {"enum": [mode, None]}}}, *rules]}


# `SunoMusicInput`'s rules in its document: the fields sent pick the mode, and each mode takes its own.
MUSIC_RULES: JsonDict = {
    "allOf": [
        {
            "if": given("continue_clip_id"),
            "then": _mode(
                "continuation",
                left_out("gpt_description_prompt"),
                *(given(name) for name in CONTINUATION_FIELDS),
            ),
            "else": {
                "if": given("gpt_description_prompt"),
                "then": _mode("inspiration", left_out(*CUSTOM_FIELDS, *CONTINUATION_FIELDS, *INFILL_FIELDS)),
                "else": _mode(
                    "custom",
                    left_out(*CONTINUATION_FIELDS),
                    {
                        "anyOf": [
                            {"required": ["prompt"], "properties": {"prompt": TEXT}},
                            {
                                "required": ["make_instrumental", "tags"],
                                "properties": {"make_instrumental": {"const": True}, "tags": TEXT},
                            },
                        ]
                    },
                ),
            },
        },
        {
            "if": given("task"),
            "then": {"allOf": [given(name) for name in PERSONA_FIELDS]},
            "else": left_out(*PERSONA_FIELDS),
        },
    ]
}

# The Suno-API proxy's reading of a clip status as a task status (providers.md §4.3).
CLIP_TASK_STATUS = {
    "submitted": "SUBMITTED",
    "queued": "QUEUED",
    "streaming": "IN_PROGRESS",
    "complete": "SUCCESS",
    "error": "FAILURE",
}


def task_status_from_clips(clip_statuses: Sequence[str | None]) -> str:
    """The task status the proxy derives from its clips: the first clip not yet complete decides
    (for two clips: both alike -> that, one complete -> the other's). An unknown clip status gives
    UNKNOWN where the proxy says FAILURE: a status we can't read must never fail a job."""
    if not clip_statuses:
        return "NOT_START"
    pending = [status for status in clip_statuses if status != "complete"]
    return CLIP_TASK_STATUS.get(pending[0] or "", "UNKNOWN") if pending else "SUCCESS"


class SunoMusicInput(BaseModel):
    """One music request (two clips). The fields sent pick the mode: `gpt_description_prompt` is
    inspiration, `continue_clip_id` continuation, otherwise custom (lyrics in `prompt`). `mode` is
    derived (a client may send it to insist); `mv` and `notify_hook` are genrelay's to set.
    `task: "artist_consistency"` with a `persona_id` and its `artist_clip_id` sings in a persona's voice."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"gpt_description_prompt": "an upbeat synth-pop song about city lights at night"}],
            **MUSIC_RULES,
        },
    )

    mode: SunoMode | None = None
    gpt_description_prompt: str | None = Field(default=None, min_length=1, max_length=3000)
    make_instrumental: StrictBool | None = None  # JSON true or false, not 1 or "yes"
    prompt: str | None = Field(default=None, max_length=5000, description="Lyrics, with [Verse] tags.")
    tags: str | None = Field(default=None, max_length=1000)
    negative_tags: str | None = Field(default=None, max_length=1000)
    title: str | None = Field(default=None, max_length=200)
    continue_clip_id: str | None = Field(default=None, min_length=1)
    continue_at: StrictFloat | None = Field(default=None, ge=0, description="Seconds into the clip.")
    task_id: str | None = Field(default=None, min_length=1, description="The upstream task of the clip.")
    infill_start_s: StrictFloat | None = Field(default=None, ge=0)  # a JSON number, not "3"
    infill_end_s: StrictFloat | None = Field(default=None, ge=0)
    # Generate with a persona (`persona` job's result): Suno's "artist consistency" task.
    task: Literal["artist_consistency"] | None = None
    persona_id: str | None = Field(default=None, min_length=1, max_length=64)
    artist_clip_id: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one_coherent_mode(self) -> SunoMusicInput:
        derived = self._derived_mode()
        if self.mode is not None and self.mode != derived:
            raise ValueError(
                f"mode {self.mode!r} does not match the fields sent, which make a {derived} request"
            )
        checks = {
            "inspiration": self._check_inspiration,
            "custom": self._check_custom,
            "continuation": self._check_continuation,
        }
        checks[derived]()
        start, end = self.infill_start_s, self.infill_end_s
        if start is not None and end is not None and end <= start:
            raise ValueError("infill_end_s must come after infill_start_s")
        self._check_persona()
        self.mode = derived
        return self

    def _check_persona(self) -> None:
        persona = self._sent(PERSONA_FIELDS)
        if self.task == "artist_consistency" and len(persona) < len(PERSONA_FIELDS):
            raise ValueError("task 'artist_consistency' needs persona_id and artist_clip_id")
        if self.task is None and persona:
            raise ValueError(f"{persona} only make sense with task 'artist_consistency'")

    def _derived_mode(self) -> SunoMode:
        if self.continue_clip_id is not None:
            return "continuation"
        return "inspiration" if self.gpt_description_prompt is not None else "custom"

    def _sent(self, names: Sequence[str]) -> list[str]:
        return [name for name in names if getattr(self, name) is not None]

    def _check_inspiration(self) -> None:
        extra = self._sent(CUSTOM_FIELDS + CONTINUATION_FIELDS + INFILL_FIELDS)
        if extra:
            raise ValueError(f"gpt_description_prompt (inspiration mode) cannot be combined with {extra}")

    def _check_custom(self) -> None:
        stray = self._sent(CONTINUATION_FIELDS + INFILL_FIELDS)
        if stray:
            raise ValueError(f"{stray} only make sense with continue_clip_id (continuation mode)")
        if not (self.prompt or "").strip() and not (self.make_instrumental and (self.tags or "").strip()):
            raise ValueError("custom mode needs prompt (the lyrics), or tags with make_instrumental")

    def _check_continuation(self) -> None:
        if self.gpt_description_prompt is not None:
            raise ValueError(
                "continue_clip_id (continuation mode) cannot be combined with gpt_description_prompt"
            )
        missing = [name for name in CONTINUATION_FIELDS if getattr(self, name) is None]
        if missing:
            raise ValueError(f"continuation mode needs {missing} (task_id: the upstream task of the clip)")


class SunoLyricsInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"prompt": "a sea shanty about a lighthouse keeper"}]}
    )

    prompt: str = Field(min_length=1, max_length=3000, json_schema_extra={"pattern": r"\S"})  # not blank

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt must not be blank")
        return value


class SunoClipMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    tags: str | None = None
    prompt: str | None = None
    gpt_description_prompt: str | None = None
    duration: float | None = None  # only once the clip is complete
    error_type: str | None = None
    error_message: str | None = None

    @field_validator("error_type", "error_message", "tags", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        # The proxies pass Suno's values through untyped (`Any2String`): a number or an object here
        # is still a message worth keeping.
        return value if value is None or isinstance(value, str) else str(value)


class SunoClip(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str  # also read from `clip_id` or `audio_id`, as gateways name an uploaded clip's id
    title: str | None = None
    status: str | None = None  # submitted | queued | streaming | complete | error
    audio_url: str | None = None  # a streaming link while streaming, the mp3 once complete
    video_url: str | None = None
    image_url: str | None = None
    image_large_url: str | None = None
    model_name: str | None = None
    major_model_version: str | None = None
    created_at: str | None = None
    metadata: SunoClipMetadata | None = None

    @model_validator(mode="before")
    @classmethod
    def _id_aliases(cls, value: Any) -> Any:
        if isinstance(value, dict) and "id" not in value:
            alias = value.get("clip_id") or value.get("audio_id")
            return {**value, "id": alias} if alias is not None else value
        return value


class SunoLyrics(BaseModel):
    """`data` of a LYRICS task."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    status: str | None = None
    title: str | None = None
    text: str | None = None


class SunoTask(BaseModel):
    """The TaskDto: `data` of a fetch answer, an item of a batch fetch, and a callback body."""

    model_config = ConfigDict(extra="allow")

    task_id: str
    notify_hook: str | None = None
    action: str | None = None  # MUSIC | LYRICS
    status: str | None = None
    fail_reason: str | None = None
    submit_time: int | float | None = None  # unix seconds
    start_time: int | float | None = None
    finish_time: int | float | None = None
    progress: str | int | float | None = None  # "0%".."100%"
    data: list[SunoClip] | SunoLyrics | None = None

    @field_validator("data", mode="before")
    @classmethod
    def _one_clip_as_a_list(cls, value: Any) -> Any:
        # An upload's task may carry its one clip bare, not in a list.
        clip_keys = {"audio_url", "clip_id", "audio_id", "model_name"}
        return [value] if isinstance(value, dict) and clip_keys & set(value) else value


class SunoEnvelope(BaseModel):
    """`{code, message, data}`; `code` is the string "success" when the request was served."""

    model_config = ConfigDict(extra="allow")

    code: str | int
    message: str | None = ""
    data: Any = None

    @property
    def ok(self) -> bool:
        return str(self.code).lower() == "success"
