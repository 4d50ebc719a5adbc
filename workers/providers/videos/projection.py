"""A job as the OpenAI-style video object of `/v1/videos`, whichever provider runs it: OpenAI's four
status names (each model's own vocabulary normalised), int 0-100 progress, unix-second timestamps,
and our download link in `metadata.url` as CometAPI puts it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from schemas.jobs import JobStatus
from workers.providers.compat import JobView
from workers.providers.videos.shape import VideoModels

STATUS = {
    JobStatus.QUEUED: "queued",
    JobStatus.SUBMITTING: "queued",
    JobStatus.SUBMITTED: "queued",
    JobStatus.RUNNING: "in_progress",
    JobStatus.ACTION_REQUIRED: "in_progress",
    JobStatus.STORING: "in_progress",
    JobStatus.SUCCEEDED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "failed",
    JobStatus.EXPIRED: "failed",
}
# Our failure codes in the words CometAPI's video object uses; any other code passes through.
ERROR_CODES = {"moderation_blocked": "content_policy_violation"}


def epoch_s(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def video_object(job: JobView, models: VideoModels) -> dict[str, Any]:
    """`GET /v1/videos/{id}`'s answer (and the body of the job's webhooks)."""
    status = STATUS[JobStatus(job.status)]
    video: dict[str, Any] = {
        "id": job.job_id,
        "task_id": job.job_id,
        "object": "video",
        "model": job.model,
        "status": status,
        "progress": _progress(job, status),
        "seconds": models.seconds(job) if status == "completed" else "",
        "size": models.size(job),
        "created_at": epoch_s(job.created_at),
    }
    if job.operation == "remix" and job.input.get("parent_job_id"):
        video["remixed_from_video_id"] = job.input["parent_job_id"]
    if status in {"completed", "failed"}:
        video["completed_at"] = epoch_s(job.finished_at or job.updated_at)
    if status == "failed":
        code = job.error_code or "upstream_failed"
        message = job.error_message or "the video could not be generated"
        video["error"] = {"code": ERROR_CODES.get(code, code), "message": message}
    url = video_url(job.outputs)
    if status == "completed" and url is not None:
        video["metadata"] = {"url": url}
        video["expires_at"] = link_expiry(url)
    return video


def video_url(urls: Mapping[str, str]) -> str | None:
    """The clip among the outputs: the one labelled `video…`, else the first."""
    label = variant_label(urls, "video")
    return urls[label] if label is not None else None


def variant_label(outputs: Mapping[str, str], variant: str) -> str | None:
    """The stored output that is `variant` (`video`, `thumbnail`, `spritesheet`): labelled after it;
    for `video`, the first output when none is."""
    labelled = next((label for label in outputs if label.startswith(variant)), None)
    if labelled is None and variant == "video":
        return next(iter(outputs), None)
    return labelled


def _progress(job: JobView, status: str) -> int:
    if status in {"completed", "failed"}:
        return 100  # as new-api reports both ends
    if status == "queued":
        return 0
    # Storing may already read 100; a client must not take "100" for done before `completed`.
    return max(0, min(99, job.progress))


def link_expiry(url: str) -> int | None:
    """When a download link stops working (unix seconds), read from its signature parameters:
    `expires` (our local links), `X-Amz-Date` + `X-Amz-Expires` (SigV4) or `Expires` (SigV2)."""
    query = {key.lower(): values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    try:
        if "x-amz-date" in query and "x-amz-expires" in query:
            signed = datetime.strptime(query["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return int(signed.timestamp()) + int(query["x-amz-expires"])
        if "expires" in query:
            return int(query["expires"])
    except ValueError:
        return None
    return None
