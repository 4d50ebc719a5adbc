"""A job as Replicate's prediction object (`GET /v1/predictions/{id}`, the create's answer and the body of
its webhooks): `id` is the genrelay job id (a UUID, kept: Replicate's clients treat ids as opaque), the
model's inputs, `output` naming our stored copies (one URL string when the model returns one file, a
list otherwise, the JSON itself for a JSON output), ISO-8601 times, and `urls` pointing at genrelay.

`status` is never `aborted`: the official client's model rejects it, so an expired job is `canceled`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.jobs import JobStatus
from workers.providers.compat import JobView
from workers.providers.replicate.catalog import MODELS

STATUS = {
    JobStatus.QUEUED: "starting",
    JobStatus.SUBMITTING: "starting",
    JobStatus.SUBMITTED: "starting",
    JobStatus.RUNNING: "processing",
    JobStatus.ACTION_REQUIRED: "processing",
    JobStatus.STORING: "processing",
    JobStatus.SUCCEEDED: "succeeded",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "canceled",
    JobStatus.EXPIRED: "canceled",
}
PREFIX = "/v1/predictions"


def iso(moment: datetime | None) -> str | None:
    """Replicate's timestamps: ISO-8601 in UTC with milliseconds and a `Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def output_of(job: JobView) -> Any:
    """The prediction's `output`, once it has succeeded: our stored files in the model's own shape."""
    if JobStatus(job.status) is not JobStatus.SUCCEEDED:
        return None
    result = job.result or {}
    kind = result.get("output_kind")
    if kind == "json":
        return result.get("output", job.outputs.get("output.json"))
    files = [url for label, url in job.outputs.items() if label.startswith("output")]
    if kind == "file" and len(files) == 1:
        return files[0]
    return files


def version_of(model: str) -> str:
    """`hidden` for an official model, as Replicate answers; a versioned model's version id."""
    offer = MODELS.get(model)
    return offer.version if offer is not None and offer.version else "hidden"


def prediction(job: JobView) -> dict[str, Any]:
    status = STATUS[JobStatus(job.status)]
    ended = status in ("succeeded", "failed", "canceled")
    own = f"{job.api_url.rstrip('/')}{PREFIX}/{job.job_id}"
    body: dict[str, Any] = {
        "id": job.job_id,
        "model": job.model,
        "version": version_of(job.model),
        "input": dict(job.input.get("input") or {}),
        "logs": "",
        "output": output_of(job),
        "data_removed": False,
        "error": (job.error_message or "the prediction failed") if status == "failed" else None,
        "source": "api",
        "status": status,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at or (job.finished_at if ended else None)),
        "completed_at": iso(job.finished_at) if ended else None,
        "urls": {"get": own, "cancel": f"{own}/cancel"},
    }
    if status == "succeeded" and job.started_at and job.finished_at:
        body["metrics"] = {"predict_time": round((job.finished_at - job.started_at).total_seconds(), 3)}
    return body
