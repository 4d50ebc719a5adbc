"""A job as MiniMax's query answer (`GET /v1/query/video_generation`, and the body of its callbacks):
MiniMax's status names, `file_id` on Success naming our stored video, the reason of a failure in
`base_resp`."""

from __future__ import annotations

from typing import Any

from schemas.jobs import JobStatus
from workers.providers.compat import JobView

STATUS = {
    JobStatus.QUEUED: "Preparing",
    JobStatus.SUBMITTING: "Preparing",
    JobStatus.SUBMITTED: "Queueing",
    JobStatus.RUNNING: "Processing",
    JobStatus.ACTION_REQUIRED: "Processing",
    JobStatus.STORING: "Processing",
    JobStatus.SUCCEEDED: "Success",
    JobStatus.FAILED: "Fail",
    JobStatus.CANCELLED: "Fail",
    JobStatus.EXPIRED: "Fail",
}
# Our error codes as MiniMax's base_resp codes for a failed task (1027: the output was found sensitive).
FAILURE_CODES = {"moderation_blocked": 1027, "invalid_input": 2013}
UNKNOWN_ERROR = 1000
VIDEO_LABEL = "video"


def base_resp(code: int = 0, message: str = "success") -> dict[str, Any]:
    return {"status_code": code, "status_msg": message}


def file_id(job: JobView) -> str:
    """The opaque id of the job's stored video: the job id (one job, one video)."""
    return job.job_id


def stored_video(job: JobView) -> str | None:
    """The download link of the job's stored video, if it has one."""
    label = VIDEO_LABEL if VIDEO_LABEL in job.outputs else next(iter(job.outputs), None)
    return job.outputs[label] if label is not None else None


def query_body(job: JobView) -> dict[str, Any]:
    status = STATUS[JobStatus(job.status)]
    body: dict[str, Any] = {"task_id": job.job_id, "status": status}
    if status == "Success":
        body["file_id"] = file_id(job)
        for name in ("video_width", "video_height"):  # only when the upstream told us
            value = (job.result or {}).get(name)
            if isinstance(value, int):
                body[name] = value
    if status == "Fail":
        code = FAILURE_CODES.get(job.error_code or "", UNKNOWN_ERROR)
        body["base_resp"] = base_resp(code, job.error_message or "the task failed")
    else:
        body["base_resp"] = base_resp()
    return body


def file_object(job: JobView, url: str) -> dict[str, Any]:
    """`file` of a files/retrieve answer, pointing at our storage; `bytes` is 0 as MiniMax's own often is."""
    finished = job.finished_at or job.updated_at
    return {
        "file_id": file_id(job),
        "bytes": 0,
        "created_at": int(finished.timestamp()),
        "filename": "output.mp4",
        "purpose": "video_generation",
        "download_url": url,
    }
