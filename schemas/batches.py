"""Server-side batches: a JSONL file of job bodies, each line `{"custom_id", "body"}`, that genrelay
turns into jobs itself; the batch as `GET /v1/batches/{id}` shows it, and a line of its results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from schemas.jobs import JobCreate, JobError, JobOutput

MAX_LINES = 50_000
CUSTOM_ID_PATTERN, MAX_CUSTOM_ID = r"^[A-Za-z0-9._:-]+$", 64
CustomId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_CUSTOM_ID, pattern=CUSTOM_ID_PATTERN)
]
BatchStatus = Literal["in_progress", "cancelling", "completed", "cancelled"]
LineStatus = Literal[
    "pending",  # not a job yet: waiting for room under the account's open-jobs limit
    "refused",  # never became a job (e.g. insufficient_credits, batch_cancelled): see `error`
    "queued",
    "submitting",
    "submitted",
    "running",
    "action_required",
    "storing",
    "succeeded",
    "failed",
    "cancelled",
    "expired",
]


class BatchLineIn(BaseModel):
    """One line of a batch file."""

    model_config = ConfigDict(extra="forbid")

    custom_id: CustomId = Field(description="Your id for the line, unique in the batch; results carry it.")
    body: JobCreate = Field(description="The job, as `POST /v1/jobs` takes it.")


class RequestCounts(BaseModel):
    total: int
    pending: int = Field(description="Lines not yet jobs.")
    running: int = Field(description="Jobs not yet finished.")
    succeeded: int
    failed: int = Field(description="Jobs failed, cancelled or expired.")
    refused: int = Field(description="Lines that never became jobs.")


class Batch(BaseModel):
    batch_id: str
    status: BatchStatus
    request_counts: RequestCounts
    charged: int = Field(description="Micro-credits captured by its succeeded jobs.")
    callback_url: str | None = Field(description="Where `batch.completed` / `batch.cancelled` goes.")
    created_at: datetime
    expanded_at: datetime | None = Field(description="When the last line became a job (or was refused).")
    finished_at: datetime | None


class BatchPage(BaseModel):
    data: list[Batch]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page.")


class BatchResult(BaseModel):
    """A line of `GET /v1/batches/{batch_id}/results` (JSONL, in the file's order)."""

    line: int = Field(description="1 for the file's first line.")
    custom_id: str
    job_id: str | None
    status: LineStatus
    outputs: list[JobOutput]
    charged: int
    error: JobError | None
