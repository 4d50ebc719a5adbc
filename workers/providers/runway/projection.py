"""A job as Runway's task object (`GET /v1/tasks/{id}`, the official SDK's shape): Runway's status
names, ISO-8601 `createdAt`, 0-1 progress while RUNNING, our result URLs in `output`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.jobs import JobStatus
from workers.providers.compat import JobView

STATUS = {
    JobStatus.QUEUED: "PENDING",
    JobStatus.SUBMITTING: "PENDING",
    JobStatus.SUBMITTED: "PENDING",
    JobStatus.RUNNING: "RUNNING",
    JobStatus.ACTION_REQUIRED: "RUNNING",
    JobStatus.STORING: "RUNNING",
    JobStatus.SUCCEEDED: "SUCCEEDED",
    JobStatus.FAILED: "FAILED",
    JobStatus.EXPIRED: "FAILED",
    JobStatus.CANCELLED: "CANCELLED",
}
# Our error codes as Runway's failure codes, when the adapter stored none of its own: SAFETY.* says
# "do not retry this input", INTERNAL "retrying may help". A refused input gets none (the text names it).
FAILURE_CODES = {"moderation_blocked": "SAFETY.INPUT.TEXT", "invalid_input": None}
DEFAULT_FAILURE_CODE = "INTERNAL"
UNFINISHED = frozenset({"PENDING", "RUNNING"})


def iso_utc(moment: datetime) -> str:
    """Runway's timestamp form: UTC, milliseconds, a `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def failure_code(job: JobView) -> str | None:
    stored = (job.result or {}).get("failure_code")
    if isinstance(stored, str) and stored:
        return stored
    return FAILURE_CODES.get(job.error_code or "", DEFAULT_FAILURE_CODE)


def task_object(job: JobView) -> dict[str, Any]:
    """The task as Runway shows it. Costs are in our micro-credits: what is held, then what was charged."""
    status = STATUS[JobStatus(job.status)]
    task: dict[str, Any] = {"id": job.job_id, "createdAt": iso_utc(job.created_at), "status": status}
    if status in UNFINISHED:
        task["estimatedCost"] = {"credits": job.price}
    else:
        task["cost"] = {"credits": job.charged}
    if status == "RUNNING":
        task["progress"] = round(job.progress / 100, 2)
    elif status == "SUCCEEDED":
        task["output"] = list(job.outputs.values())
    elif status == "FAILED":
        task["failure"] = job.error_message or "The task failed."
        code = failure_code(job)
        if code:
            task["failureCode"] = code
    return task
