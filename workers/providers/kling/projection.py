"""A job as Kling's task object: Kling's status names, ms timestamps, our result URLs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.jobs import JobStatus
from workers.providers.compat import JobView

STATUS = {
    JobStatus.QUEUED: "submitted",
    JobStatus.SUBMITTING: "submitted",
    JobStatus.SUBMITTED: "submitted",
    JobStatus.RUNNING: "processing",
    JobStatus.ACTION_REQUIRED: "processing",
    JobStatus.STORING: "processing",
    JobStatus.SUCCEEDED: "succeed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "failed",
    JobStatus.EXPIRED: "failed",
}


def epoch_ms(moment: datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment else 0


def task_object(job: JobView) -> dict[str, Any]:
    status = STATUS[JobStatus(job.status)]
    task: dict[str, Any] = {
        "task_id": job.job_id,
        "task_status": status,
        "task_status_msg": (job.error_message or "") if status == "failed" else "",
        "task_info": {"external_task_id": job.client_reference or ""},
        "created_at": epoch_ms(job.created_at),
        "updated_at": epoch_ms(job.updated_at),
    }
    if status == "succeed":
        duration = str(job.input.get("duration", "5"))
        videos = [
            {"id": f"{job.job_id}-{label}", "url": url, "duration": duration}
            for label, url in job.outputs.items()
            if label.startswith("video")
        ]
        images = [
            {"index": n, "url": url}
            for n, (label, url) in enumerate(job.outputs.items())
            if label.startswith("image")
        ]
        task["task_result"] = {"videos": videos, "images": images}
        task["final_unit_deduction"] = str(job.charged)
    return task
