"""Midjourney's video and editor (providers-more.md §5d): the unified job inputs for `/mj/submit/video`
(short videos from a first frame, or an extension of one video of an earlier video job) and
`/mj/submit/edits` (a repaint of an image by prompt, where a mask leaves it open)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from workers.providers.midjourney.schemas import MAX_DATA_URL, MAX_PROMPT, DataImage, _data_image
from workers.providers.rules import exactly_one, given, left_out

# A video task makes four videos [V: videoUrls[]; the count is the proxies' and our simulator's].
VIDEOS_PER_TASK = 4
EXAMPLE_PARENT = "0190f5c2-7d1e-7c3a-9b1e-2f4a6c8e0b13"


def _image_ref(value: str) -> str:
    """A public HTTPS link Midjourney fetches, or the image itself as a data URL."""
    if value.startswith("https://"):
        return value
    if value.startswith("data:"):
        return _data_image(value)
    raise ValueError("must be an https:// URL or a data URL: data:image/<type>;base64,<data>")


ImageRef = Annotated[
    str,
    Field(
        min_length=12,
        max_length=MAX_DATA_URL,
        json_schema_extra={"pattern": "^(https://|data:image/[^,]*;base64,)"},
    ),
    AfterValidator(_image_ref),
]


class MidjourneyVideoInput(BaseModel):
    """`/mj/submit/video`: videos whose first frame is `image`, moving with `motion`; or, with
    `parent_job_id` (a video job of yours) and `index` (which of its videos, from 0), that video extended."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"image": "https://example.com/boat.png", "motion": "low", "prompt": "the boat drifts"},
                {"parent_job_id": EXAMPLE_PARENT, "index": 0, "motion": "high"},
            ],
            # A new video from its first frame, or an extension of a parent's video named by index.
            "allOf": [
                exactly_one("image", "parent_job_id"),
                {"if": given("parent_job_id"), "then": given("index"), "else": left_out("index")},
            ],
        },
    )

    motion: Literal["low", "high"]
    image: ImageRef | None = Field(default=None, description="The first frame; not with parent_job_id.")
    prompt: str | None = Field(default=None, min_length=1, max_length=MAX_PROMPT)
    parent_job_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="Our id of the video job to extend."
    )
    index: int | None = Field(
        default=None, ge=0, lt=VIDEOS_PER_TASK, description="Which of the parent's videos, from 0."
    )

    @model_validator(mode="after")
    def _first_frame_or_parent(self) -> Self:
        if (self.image is None) == (self.parent_job_id is None):
            raise ValueError("give exactly one of image (a new video) and parent_job_id (an extension)")
        if (self.index is None) != (self.parent_job_id is None):
            raise ValueError("an extension names the parent's video by index (0-3); a new video takes none")
        return self


class MidjourneyEditsInput(BaseModel):
    """`/mj/submit/edits`: Midjourney's editor repaints `image` by `prompt`, where `maskBase64` is
    transparent or black (all of it, without a mask). A grid with buttons, as an imagine's."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"prompt": "the boat in a storm", "image": "https://example.com/boat.png"}]
        },
    )

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT)
    image: ImageRef
    maskBase64: DataImage | None = None  # noqa: N815 - the wire's name
    remix: bool | None = None
