"""A job as Ark's task object (`GET …/contents/generations/tasks/{id}`, and the body of its callbacks):
Ark's lowercase statuses, seconds timestamps, `content.video_url` naming our stored copy, the reason of a
failure in `error{code, message}` (null otherwise), and the output parameters the task was made with."""

from __future__ import annotations

from typing import Any

from schemas.jobs import JobStatus
from workers.providers.compat import JobView
from workers.providers.seedance.schemas import PARAMS
from workers.providers.seedance.wire import RESULT_FIELDS

STATUS = {
    JobStatus.QUEUED: "queued",
    JobStatus.SUBMITTING: "queued",
    JobStatus.SUBMITTED: "queued",
    JobStatus.RUNNING: "running",
    JobStatus.ACTION_REQUIRED: "running",
    JobStatus.STORING: "running",
    JobStatus.SUCCEEDED: "succeeded",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
    JobStatus.EXPIRED: "expired",
}
# Our error codes as Ark's for a failed task; the rest are Ark's internal error.
FAILURE_CODES = {"invalid_input": "InvalidParameter", "upstream_auth": "AuthenticationError"}
UNKNOWN_FAILURE = "InternalServiceError"
VIDEO, LAST_FRAME = "video", "last_frame"


def stored_video(job: JobView) -> str | None:
    """The download link of the job's stored video, if it has one."""
    label = VIDEO if VIDEO in job.outputs else next(iter(job.outputs), None)
    return job.outputs[label] if label is not None else None


def failure(job: JobView) -> dict[str, str]:
    code = FAILURE_CODES.get(job.error_code or "", UNKNOWN_FAILURE)
    if job.error_code == "moderation_blocked":
        # Its output found sensitive once the task existed; its input, when the create was refused.
        code = "OutputVideoSensitiveContentDetected" if job.external_id else "SensitiveContentDetected"
    return {"code": code, "message": job.error_message or "the task failed"}


def task_object(job: JobView) -> dict[str, Any]:
    status = STATUS[JobStatus(job.status)]
    body: dict[str, Any] = {
        "id": job.job_id,
        "model": job.model,
        "status": status,
        "error": failure(job) if status == "failed" else None,
        "created_at": int(job.created_at.timestamp()),
        "updated_at": int(job.updated_at.timestamp()),
    }
    video = stored_video(job) if status == "succeeded" else None
    if video is not None:
        body["content"] = {"video_url": video}
        if LAST_FRAME in job.outputs:
            body["content"]["last_frame_url"] = job.outputs[LAST_FRAME]
    body |= {name: job.input[name] for name in PARAMS if name in job.input}
    # What the upstream says it made (the seed it drew, its resolution) over what was asked.
    result = job.result or {}
    body |= {name: result[name] for name in (*RESULT_FIELDS, "usage") if name in result}
    return body
