"""The unified job: what a tenant sends to create one and what the API shows of it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

MAX_METADATA_KEYS = 32
MAX_CALLBACK_URL_LENGTH = 2048

MetadataValue = str | int | float | bool | None
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
# A model id may also hold one slash: Replicate names its models `owner/name`.
ModelName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+(/[A-Za-z0-9._:-]+)?$")
]


class JobStatus(StrEnum):
    """Where a job is in its life; see orchestrator.lifecycle for the legal moves."""

    QUEUED = "queued"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    RUNNING = "running"
    ACTION_REQUIRED = "action_required"
    STORING = "storing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED})


class JobCreate(BaseModel):
    """Body of `POST /v1/jobs`."""

    model_config = ConfigDict(extra="forbid")

    provider: Identifier = Field(description="Upstream provider, e.g. `kling`.")
    operation: Identifier = Field(description="Provider operation, e.g. `text2video`.")
    model: ModelName = Field(description="Provider model, e.g. `kling-v1-6` or Replicate's `owner/name`.")
    input: dict[str, Any] = Field(description="Provider-specific input, validated per operation.")
    callback_url: str | None = Field(
        default=None,
        max_length=MAX_CALLBACK_URL_LENGTH,
        description="Where genrelay sends signed webhooks about this job.",
    )
    metadata: dict[Annotated[str, StringConstraints(max_length=64)], MetadataValue] | None = Field(
        default=None, description="Your own key/value pairs, returned unchanged on the job."
    )

    @field_validator("callback_url")
    @classmethod
    def _callback_url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("callback_url must be an http:// or https:// URL")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_is_small(cls, value: dict[str, MetadataValue] | None) -> dict[str, MetadataValue] | None:
        if value is None:
            return None
        if len(value) > MAX_METADATA_KEYS:
            raise ValueError(f"metadata holds at most {MAX_METADATA_KEYS} keys")
        for key, item in value.items():
            if isinstance(item, str) and len(item) > 512:
                raise ValueError(f"metadata value of {key!r} is longer than 512 characters")
        return value


class JobContinue(BaseModel):
    """Body of `POST /v1/jobs/{job_id}/continue`: the input a job in `action_required` waits for
    (Midjourney's modal step: `prompt` and/or `maskBase64`)."""

    model_config = ConfigDict(extra="forbid")

    input: dict[str, Any]


class JobOutput(BaseModel):
    """One stored result file; `url` is genrelay's own, never the upstream's."""

    index: int
    label: str | None = Field(default=None, description="What the file is, e.g. `clip-0.audio`.")
    url: str
    content_type: str
    size_bytes: int
    sha256: str


class JobError(BaseModel):
    code: str
    message: str


class Job(BaseModel):
    """A job as `GET /v1/jobs/{job_id}` shows it. Amounts are integer micro-credits."""

    job_id: str
    provider: str
    operation: str
    model: str
    status: JobStatus
    progress: int = Field(ge=0, le=100)
    outputs: list[JobOutput]
    error: JobError | None
    result: dict[str, Any] | None = Field(
        default=None,
        description="Provider-specific results besides files: Midjourney `buttons` (for follow-up "
        "actions) and prompts, Suno clip titles and durations, lyrics.",
    )
    parent_job_id: str | None = Field(default=None, description="The job a follow-up acts on.")
    price: int = Field(description="Quoted price, in micro-credits, held while the job runs.")
    charged: int = Field(description="Captured amount: the price on success, 0 otherwise.")
    metadata: dict[str, MetadataValue] | None
    callback_url: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime


class JobPage(BaseModel):
    data: list[Job]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page.")


class JobEvent(BaseModel):
    """One step of a job's timeline."""

    sequence: int
    from_status: JobStatus | None
    to_status: JobStatus
    progress: int
    detail: dict[str, Any] | None
    created_at: datetime


class JobEventList(BaseModel):
    data: list[JobEvent]
