"""A job as Suno's TaskDto (CometAPI / Suno-API proxies): Suno status names, unix-second timestamps,
"N%" progress, and its clips (a song's two, an upload's, a joined song's, stems) or the lyrics with our
result URLs; a persona or a conversion carries what its call answers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas.jobs import JobStatus
from workers.providers.compat import JobView
from workers.providers.suno.projection_sync import conversion_body, persona_object
from workers.providers.suno.schemas_ops import ACT_KINDS

STATUS = {
    # The client already holds our id for it, so a job not yet sent upstream reads as SUBMITTED
    # (what CometAPI shows right after a submit), never NOT_START.
    JobStatus.QUEUED: "SUBMITTED",
    JobStatus.SUBMITTING: "SUBMITTED",
    JobStatus.SUBMITTED: "SUBMITTED",
    JobStatus.RUNNING: "IN_PROGRESS",
    JobStatus.ACTION_REQUIRED: "IN_PROGRESS",
    # Upstream may be done, but the files are not ours yet: SUCCESS only once they are.
    JobStatus.STORING: "IN_PROGRESS",
    JobStatus.SUCCEEDED: "SUCCESS",
    JobStatus.FAILED: "FAILURE",
    JobStatus.CANCELLED: "FAILURE",
    JobStatus.EXPIRED: "FAILURE",
}
# Every clip-making task is a MUSIC task on the wire; the synchronous calls get names of their own.
ACTIONS = {"lyrics": "LYRICS", "persona": "PERSONA", **{kind: kind.upper() for kind in ACT_KINDS}}
# A clip's own status, for a task that has no clip statuses of its own yet.
CLIP_STATUS = {"SUBMITTED": "submitted", "QUEUED": "queued", "IN_PROGRESS": "streaming"}
CLIP_FILES = {"audio_url": "audio", "video_url": "video", "image_url": "image", "image_large_url": "image"}
METADATA_KEYS = ("tags", "prompt", "gpt_description_prompt", "duration", "type")


def epoch_s(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def task_status(job: JobView) -> str:
    status = STATUS[JobStatus(job.status)]
    if status == "SUBMITTED" and job.upstream_status == "QUEUED":
        return "QUEUED"  # upstream said so; finer than our own SUBMITTED
    return status


def task_object(job: JobView) -> dict[str, Any]:
    """The TaskDto of `job`, with the download links of its stored outputs."""
    status = task_status(job)
    done = status in ("SUCCESS", "FAILURE")
    started = job.started_at or (job.submitted_at if status != "SUBMITTED" else None)
    task: dict[str, Any] = {
        "task_id": job.job_id,
        "notify_hook": job.callback_url or "",
        "action": ACTIONS.get(job.operation, "MUSIC"),
        "status": status,
        "fail_reason": fail_reason(job) if status == "FAILURE" else "",
        "submit_time": epoch_s(job.created_at),
        "start_time": epoch_s(started),
        "finish_time": epoch_s(job.finished_at) if done else 0,
        # new-api shows 100% on FAILURE too; ours reaches 100 only once the files are stored.
        "progress": "100%" if done else f"{min(job.progress, 99)}%",
    }
    task["data"] = data(job, status)
    return task


def data(job: JobView, status: str) -> Any:
    if job.operation == "lyrics":
        return lyrics(job, status)
    if job.operation == "persona":
        return persona_object(job) if status == "SUCCESS" else None
    if job.operation in ACT_KINDS:
        return conversion_body(job.operation, job) if status == "SUCCESS" else None
    return clips(job, status)


def fail_reason(job: JobView) -> str:
    return job.error_message or job.error_code or "the task failed"


def lyrics(job: JobView, status: str) -> dict[str, Any]:
    result = job.result if status == "SUCCESS" and job.result else {}
    return {
        "id": job.job_id,
        "status": _clip_status(status, None),
        "title": str(result.get("title") or ""),
        "text": str(result.get("text") or ""),
    }


def clips(job: JobView, status: str) -> list[dict[str, Any]]:
    """The clips the adapter summarised in `job.result`; files only from our storage, only at SUCCESS."""
    summaries = (job.result or {}).get("clips") or []
    return [_clip(job, status, n, summary) for n, summary in enumerate(summaries)]


def _clip(job: JobView, status: str, n: int, summary: Mapping[str, Any]) -> dict[str, Any]:
    mine = job.outputs if status == "SUCCESS" else {}
    metadata: dict[str, Any] = {key: summary.get(key) for key in METADATA_KEYS}
    if status == "FAILURE":
        metadata.update(error_type=job.error_code, error_message=fail_reason(job))
    stem = {"stem_from_id": summary["stem_from_id"]} if summary.get("stem_from_id") else {}
    return {
        **stem,
        "id": str(summary.get("clip_id") or f"{job.job_id}-{n}"),
        "title": summary.get("title") or "",
        "status": _clip_status(status, summary.get("status")),
        **{field: mine.get(f"clip-{n}.{label}", "") for field, label in CLIP_FILES.items()},
        "model_name": summary.get("model_name") or job.model,
        "major_model_version": summary.get("major_model_version") or "",
        "created_at": summary.get("created_at") or "",
        "metadata": metadata,
    }


def _clip_status(status: str, upstream: Any) -> str:
    if status == "SUCCESS":
        return "complete"
    if status == "FAILURE":
        return "error"
    # An upstream "complete" clip is not complete for our client until its files are stored.
    if upstream in ("submitted", "queued", "streaming"):
        return str(upstream)
    return CLIP_STATUS[status]
