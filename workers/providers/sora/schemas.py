"""Sora's unified job inputs (text_to_video, image_to_video, and the follow-ups remix, extend and edit
that act on an earlier Sora job's video) and the wire's models: OpenAI's video object and error."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.config import JsonDict

from workers.providers.sora.offers import MODELS, SIZES, size_problem

IMAGE_PREFIXES = ("https://", "http://", "data:image/")
IMAGE_REFERENCE: JsonDict = {"pattern": "^(https?://|data:image/)"}
Seconds = Literal["4", "8", "12", "16", "20"]
Size = Literal["720x1280", "1280x720", "1024x1792", "1792x1024", "1080x1920", "1920x1080"]
PROMPT = Field(min_length=1, max_length=32000, description="What the clip shows.")


class _SoraInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("seconds", mode="before", check_fields=False)
    @classmethod
    def _seconds_as_text(cls, value: Any) -> Any:
        """`seconds` is a string on the wire; JSON clients send 8 as readily as "8"."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class SoraClip(_SoraInput):
    """A new clip: its length and size are kept on the job (and priced) as the upstream makes them."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = PROMPT
    seconds: Seconds = Field(default="4", description='"4", "8", "12", "16" or "20".')
    size: Size = Field(default="720x1280", description="1024p and 1080p sizes on sora-2-pro only.")

    @classmethod
    def model_rules(cls) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
        """The sizes each model makes (see `offers.size_problem`), for the document."""
        return [
            (
                tuple(model for model, of in MODELS.items() if of == base),
                {"properties": {"size": {"enum": list(sizes)}}},
            )
            for base, sizes in SIZES.items()
        ]

    @model_validator(mode="after")
    def _offered_by_the_model(self, info: ValidationInfo) -> SoraClip:
        model = (info.context or {}).get("model")
        problem = size_problem(model, self.size) if model else None
        if problem is not None:
            raise ValueError(problem)
        return self


class SoraTextToVideoInput(SoraClip):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"prompt": "a paper boat drifts on a lake at dawn", "seconds": "4", "size": "1280x720"}
            ]
        },
    )


class SoraImageToVideoInput(SoraClip):
    """The clip starts from `input_reference`, whose dimensions should match `size` [P]."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"prompt": "the boat drifts", "input_reference": "https://example.com/boat.png"}]
        },
    )

    input_reference: str = Field(
        min_length=1, description="Image URL or data:image/... URL.", json_schema_extra=IMAGE_REFERENCE
    )

    @field_validator("input_reference")
    @classmethod
    def _image(cls, value: str) -> str:
        if not value.startswith(IMAGE_PREFIXES):
            raise ValueError("give an http(s) URL or a data:image/... URL")
        return value


class SoraFollowUp(_SoraInput):
    """Acts on the video of an earlier Sora job of the caller's (`parent_job_id`)."""

    model_config = ConfigDict(extra="forbid")
    kind: ClassVar[str]

    parent_job_id: str = Field(min_length=1, description="The Sora job whose video this acts on.")
    prompt: str = PROMPT
    size: Size = Field(default="720x1280", description="The parent's size (its price), checked against it.")


class SoraRemixInput(SoraFollowUp):
    """The parent's video changed as `prompt` says; as long as the parent, and priced so: `seconds` is
    the parent's length (checked against it when sent)."""

    kind = "remix"
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"parent_job_id": "<a Sora job id>", "prompt": "the same boat, at night", "seconds": "4"}
            ]
        },
    )

    seconds: Seconds = Field(default="4", description="The parent's length.")


class SoraEditInput(SoraRemixInput):
    """The parent's video edited as `prompt` says (`POST /v1/videos/edits`); as long as the parent."""

    kind = "edit"
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"parent_job_id": "<a Sora job id>", "prompt": "make the boat red", "seconds": "4"}]
        },
    )


class SoraExtendInput(SoraFollowUp):
    """The parent's video continued by `seconds` more (`POST /v1/videos/extensions`); priced by those."""

    kind = "extend"
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"parent_job_id": "<a Sora job id>", "prompt": "the boat reaches the shore", "seconds": "4"}
            ]
        },
    )

    seconds: Seconds = Field(default="4", description="How much longer.")


class SoraError(BaseModel):
    """`error` of a failed video: `code` from a catalogue OpenAI does not publish [M], so any string."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    code: str | None = None
    message: str | None = None


class SoraVideo(BaseModel):
    """OpenAI's video object (§3.2): the create's and the query's answer. Extra fields are kept."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    id: str
    status: str = ""
    model: str | None = None
    progress: Any = None
    seconds: str | None = None
    size: str | None = None
    remixed_from_video_id: str | None = None
    error: SoraError | None = None

    @field_validator("error", mode="before")
    @classmethod
    def _error_as_text(cls, value: Any) -> Any:
        # A gateway may flatten the error into its message [I].
        return {"message": value} if isinstance(value, str) else value
