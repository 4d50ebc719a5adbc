"""MiniMax Hailuo's wire format (the vendor's `base_resp` answers, as CometAPI passes them through) and the
unified job input for it, with what each model offers (providers-more.md §1.1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict

IMAGE_PREFIXES = ("https://", "http://", "data:image/")
# The same rule as the document states it, for a field that takes an image.
IMAGE_REFERENCE: JsonDict = {"pattern": "^(https?://|data:image/)"}
# MiniMax makes no 10-second clip at 1080P.
NO_LONG_1080P: JsonDict = {
    "if": {"properties": {"duration": {"const": 10}}, "required": ["duration"]},
    "then": {"properties": {"resolution": {"not": {"const": "1080P"}}}},
}


@dataclass(frozen=True)
class ModelOffer:
    """What one model takes: its operations, resolutions per operation, durations and frame options."""

    resolutions: Mapping[str, frozenset[str]]  # by operation; the keys are the operations it does
    default_resolution: str
    durations: frozenset[int] = frozenset({6})
    last_frame: bool = False  # first+last frame mode
    fast_pretreatment: bool = False


_HD = frozenset({"768P", "1080P"})
_SD = frozenset({"720P"})
_HAILUO_23 = ModelOffer({"text2video": _HD, "image2video": _HD}, "768P", frozenset({6, 10}))
MODELS: Mapping[str, ModelOffer] = {
    "MiniMax-Hailuo-02": ModelOffer(
        {"text2video": _HD, "image2video": _HD | {"512P"}},
        "768P",
        frozenset({6, 10}),
        last_frame=True,
        fast_pretreatment=True,
    ),
    "MiniMax-Hailuo-2.3": _HAILUO_23,
    # The fast variant animates an image; MiniMax lists no text-to-video for it [M].
    "MiniMax-Hailuo-2.3-Fast": ModelOffer({"image2video": _HD}, "768P", frozenset({6, 10})),
    "T2V-01-Director": ModelOffer({"text2video": _SD}, "720P"),
    "T2V-01": ModelOffer({"text2video": _SD}, "720P"),
    "I2V-01-Director": ModelOffer({"image2video": _SD}, "720P"),
    "I2V-01-live": ModelOffer({"image2video": _SD}, "720P"),
    "I2V-01": ModelOffer({"image2video": _SD}, "720P"),
}
_BY_LOWER = {name.lower(): name for name in MODELS}


def canonical_model(model: str) -> str:
    """The catalogue's spelling of a model (gateways also write `minimax-hailuo-02`)."""
    return _BY_LOWER.get(model.lower(), model)


def six_seconds_only() -> list[str]:
    """The models that make 6-second clips only (the price table has no other length for them, so a
    job of 10 seconds is refused when it is created)."""
    return [name for name, offer in MODELS.items() if 10 not in offer.durations]


def model_problem(model: str, operation: str, job_input: Mapping[str, Any]) -> str | None:
    """Why `model` cannot do this input (None when it can, or when the model is not one we know: the
    upstream judges its own catalogue)."""
    offer = MODELS.get(canonical_model(model))
    if offer is None:
        return None
    if operation not in offer.resolutions:
        return f"{model} does not do {operation}; it does {', '.join(offer.resolutions)}"
    resolution, duration = job_input.get("resolution"), job_input.get("duration", 6)
    durations = " or ".join(str(d) for d in sorted(offer.durations))
    checks = (
        (
            resolution is not None and str(resolution) not in offer.resolutions[operation],
            f"resolution: {model} offers {', '.join(sorted(offer.resolutions[operation]))}",
        ),
        (str(duration) not in {str(d) for d in offer.durations}, f"duration: {model} offers {durations} s"),
        (
            bool(job_input.get("last_frame_image")) and not offer.last_frame,
            f"last_frame_image: {model} has no first-and-last-frame mode (MiniMax-Hailuo-02 has)",
        ),
        (
            bool(job_input.get("fast_pretreatment")) and not offer.fast_pretreatment,
            f"fast_pretreatment: only MiniMax-Hailuo-02 takes it, not {model}",
        ),
    )
    return next((problem for failed, problem in checks if failed), None)


class HailuoVideoInput(BaseModel):
    """Fields of both operations. `model` and `callback_url` are genrelay's to send; a resolution left
    out is the model's default (768P for Hailuo-02 and 2.3, 720P for the 01 series)."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = Field(default=None, max_length=2000)
    prompt_optimizer: bool | None = Field(
        default=None, description="MiniMax rewrites the prompt (default on)."
    )
    fast_pretreatment: bool | None = Field(default=None, description="Quicker prompt optimisation.")
    duration: Literal[6, 10] = Field(default=6, description="Seconds; 10 not at 1080P nor on the 01 series.")

    @field_validator("duration", mode="before")
    @classmethod
    def _duration_as_number(cls, value: Any) -> Any:
        # MiniMax wants the number 6; form-minded clients send "6".
        return int(value) if isinstance(value, str) and value.isdigit() else value

    @classmethod
    def model_rules(cls) -> list[tuple[list[str], JsonDict]]:
        """What the input must be for some models (see `six_seconds_only`), for the document."""
        return [(six_seconds_only(), {"properties": {"duration": {"not": {"const": 10}}}})]

    @model_validator(mode="after")
    def _no_long_1080p(self) -> HailuoVideoInput:
        if self.duration == 10 and getattr(self, "resolution", None) == "1080P":
            raise ValueError("a 10-second video is not offered at 1080P; choose 768P or 6 seconds")
        return self


class HailuoText2VideoInput(HailuoVideoInput):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"prompt": "a paper boat on a lake [Push in]", "duration": 6}],
            **NO_LONG_1080P,
        },
    )

    prompt: str = Field(min_length=1, max_length=2000, description="Camera moves inline, e.g. [Pan left].")
    resolution: Literal["720P", "768P", "1080P"] | None = None


class HailuoImage2VideoInput(HailuoVideoInput):
    """The first frame animated (the output follows its aspect); with `last_frame_image`, the clip
    ends on that frame (MiniMax-Hailuo-02)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"first_frame_image": "https://example.com/boat.png", "prompt": "the boat drifts"}],
            **NO_LONG_1080P,
        },
    )

    first_frame_image: str = Field(
        min_length=1,
        description="Image URL or data URL (JPG/PNG/WebP, < 20 MB).",
        json_schema_extra=IMAGE_REFERENCE,
    )
    last_frame_image: str | None = Field(default=None, min_length=1, json_schema_extra=IMAGE_REFERENCE)
    resolution: Literal["512P", "720P", "768P", "1080P"] | None = None

    @field_validator("first_frame_image", "last_frame_image")
    @classmethod
    def _image_reference(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(IMAGE_PREFIXES):
            raise ValueError("give an http(s) URL or a data:image/... URL")
        return value


class BaseResp(BaseModel):
    """MiniMax's business result: `status_code` 0 is success, whatever the HTTP status said."""

    model_config = ConfigDict(extra="allow")

    status_code: int = 0
    status_msg: str = ""


class HailuoTask(BaseModel):
    """The query answer, and the whole body of a callback (`file_id` and the size only on Success)."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    task_id: str = ""
    status: str
    file_id: str | None = None  # a string here, a number in files/retrieve: kept opaque
    video_width: int | None = None
    video_height: int | None = None
    base_resp: BaseResp | None = None
    fail_reason: str | None = None  # a gateway's wrapped answer [P]


class HailuoFile(BaseModel):
    """`file` of a files/retrieve answer; its links expire (~9 h)."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    file_id: str | None = None
    download_url: str | None = None
    backup_download_url: str | None = None
