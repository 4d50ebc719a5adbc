"""The unified job: what a tenant sends to create one and what the API shows of it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    field_validator,
)

from schemas.free_form import FreeFormObject

MAX_METADATA_KEYS = 32
MAX_CALLBACK_URL_LENGTH = 2048
MAX_CLIENT_DEADLINE_S = 30 * 24 * 3600

# A page cursor is a job's (or batch's) id, base64url without padding: what `next_cursor` returns.
CURSOR_PATTERN = r"^([A-Za-z0-9_-]{22})?$"
# `Idempotency-Key`: 1 to 255 printable ASCII characters (orchestrator.tenants.idempotency.validate_key),
# with no space at either end, where HTTP would strip it.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]([ -~]{0,253}[!-~])?$"
# `callback_url`: an http(s) URL, as far as a pattern can say; its host must also resolve to public
# addresses only (orchestrator.egress), which no schema can state.
URL_PORT = r"([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
# What follows a URL's host: no control character and no blank, spelled out rather than `\S`, whose
# blanks differ between JSON Schema's regular expressions and Python's (\x1c-\x1f, \x85, \ufeff).
URL_REST = r"[^\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*"
HTTP_URL = rf"https?://[A-Za-z0-9.-]+(:{URL_PORT})?([/?#]{URL_REST})?"
CALLBACK_URL_PATTERN = rf"^{HTTP_URL}$"


def _json_integer(value: Any) -> Any:
    """A JSON integer is a number without a fraction (`5` or `5.0`); not `true`, not `"5"`."""
    if isinstance(value, bool | str | bytes):
        raise ValueError("must be a JSON integer")
    return value


# An integer of a body as JSON Schema's `integer` means it (pydantic's lax int takes true and "5"). The
# bounds come before the check, so that they reach the document as `minimum` and `maximum`.
NOT_TEXT_OR_BOOL = BeforeValidator(_json_integer)
# Text that PostgreSQL stores (in a text column or JSONB): anything but the NUL character.
STORABLE_TEXT = r"^[^\x00]*$"
MAX_METADATA_VALUE_LENGTH = 512
DeadlineSeconds = Annotated[int, Field(ge=1, le=MAX_CLIENT_DEADLINE_S), NOT_TEXT_OR_BOOL]
MetadataValue = str | int | float | bool | None
# Each value keeps its JSON type: strict, so that text too long to be kept is refused rather than read
# as the number it spells ("000" is not 0).
MetadataValueIn = (
    Annotated[str, StringConstraints(max_length=MAX_METADATA_VALUE_LENGTH, pattern=STORABLE_TEXT)]
    | StrictInt
    | StrictFloat
    | StrictBool
    | None
)
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
# A model id may also hold one slash: Replicate names its models `owner/name`.
ModelName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+(/[A-Za-z0-9._:-]+)?$")
]

EventType = Literal[
    "job.queued",
    "job.running",
    "job.progress",
    "job.action_required",
    "job.succeeded",
    "job.failed",
    "job.cancelled",
    "job.expired",
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
    input: FreeFormObject = Field(description="Provider-specific input, validated per operation.")
    callback_url: str | None = Field(
        default=None,
        max_length=MAX_CALLBACK_URL_LENGTH,
        pattern=CALLBACK_URL_PATTERN,
        description="Where genrelay sends signed webhooks about this job.",
    )
    metadata: (
        dict[Annotated[str, StringConstraints(max_length=64, pattern=STORABLE_TEXT)], MetadataValueIn] | None
    ) = Field(
        default=None,
        max_length=MAX_METADATA_KEYS,
        description="Your own key/value pairs, returned unchanged on the job.",
    )
    webhook_events: list[EventType] | None = Field(
        default=None,
        min_length=1,
        max_length=16,
        description="Only these event types go to `callback_url` and the job's event streams (e.g. the "
        "four endings: `job.succeeded`, `job.failed`, `job.cancelled`, `job.expired`); absent: all.",
    )
    start_deadline_s: DeadlineSeconds | None = Field(
        default=None,
        description="Seconds from now by which the provider must have accepted the job. A job not "
        "accepted by then expires (`start_deadline_exceeded`), its hold released; it is never sent later.",
    )
    deadline_s: DeadlineSeconds | None = Field(
        default=None,
        description="Seconds from now by which the job must end, or it expires (`deadline_exceeded`). "
        "The operator's deadline for the model caps it.",
    )

    @field_validator("webhook_events")
    @classmethod
    def _events_once_each(cls, value: list[EventType] | None) -> list[EventType] | None:
        return None if value is None else sorted(set(value))


class JobContinue(BaseModel):
    """Body of `POST /v1/jobs/{job_id}/continue`: the input a job in `action_required` waits for
    (Midjourney's modal step: `prompt` and/or `maskBase64`)."""

    model_config = ConfigDict(extra="forbid")

    input: FreeFormObject


class JobOutput(BaseModel):
    """One stored result file; `url` is genrelay's own, never the upstream's."""

    index: int
    label: str | None = Field(default=None, description="What the file is, e.g. `clip-0.audio`.")
    url: str
    content_type: str
    size_bytes: int
    sha256: str


class ProviderFailure(BaseModel):
    """The provider's own words for a failure, as it gave them (either may be missing)."""

    code: str | None = Field(
        default=None, description="The provider's failure code, e.g. Runway's `SAFETY.INPUT.TEXT`."
    )
    message: str | None = Field(
        default=None, description="The provider's message, redacted and cut to length."
    )


class JobError(BaseModel):
    """Why a job ended without a result: `code` is one of the documented set (`schemas.failures`)."""

    code: str
    message: str
    retryable: bool = Field(
        default=False, description="Whether the same request, sent again, could plausibly succeed."
    )
    provider: ProviderFailure | None = Field(
        default=None, description="The provider's own failure code and message, when it gave them."
    )


class Job(BaseModel):
    """A job as `GET /v1/jobs/{job_id}` shows it. Amounts are integer micro-credits."""

    job_id: str
    provider: str
    operation: str
    model: str
    status: JobStatus
    progress: int = Field(ge=0, le=100)
    outputs: list[JobOutput]
    outputs_expired_at: datetime | None = Field(
        default=None,
        description="When its stored outputs were deleted at the end of the account's retention: "
        "`outputs` is empty from then on.",
    )
    inputs_cleared_at: datetime | None = Field(
        default=None,
        description="When its input and metadata were cleared, at the end of the account's retention or "
        "by `DELETE /v1/jobs/{job_id}/data`.",
    )
    data_deleted_at: datetime | None = Field(
        default=None,
        description="When `DELETE /v1/jobs/{job_id}/data` deleted its outputs, input, metadata and result.",
    )
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
    start_deadline_at: datetime | None = Field(
        default=None, description="The provider must have accepted the job by then, or it expires."
    )
    webhook_events: list[EventType] | None = Field(
        default=None, description="The event types this job sends; null: all of them."
    )
    queue_position: int | None = Field(
        default=None,
        ge=1,
        description="While the job waits for its provider's capacity: its place in the first-in-first-out "
        "queue (1: admitted next). Shown on reads.",
    )
    estimated_finish_at: datetime | None = Field(
        default=None,
        description="While the job is unfinished: when it should end, from the recent run durations of its "
        "provider and model (null until there are some, and while it waits for input). Shown on reads.",
    )


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
