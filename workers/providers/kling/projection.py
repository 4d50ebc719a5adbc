"""A job as Kling's task object: Kling's status names, ms timestamps, our result URLs — `videos[]`
(ids that follow-ups name: our job id and the video's label), `images[]`, `audios[]`."""

from __future__ import annotations

from collections.abc import Mapping
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
        task["task_result"] = task_result(job)
        task["final_unit_deduction"] = str(job.charged)
    return task


def task_result(job: JobView) -> dict[str, Any]:
    result = job.result or {}
    videos = [
        {"id": f"{job.job_id}-{label}", "url": url, "duration": _duration(job, result, "videos", label)}
        for label, url in job.outputs.items()
        if label.startswith("video")
    ]
    images = [
        {"index": n, "url": url}
        for n, (label, url) in enumerate(job.outputs.items())
        if label.startswith("image")
    ]
    task_result: dict[str, Any] = {"videos": videos, "images": images}
    audios = _audios(job, result)
    if audios:
        task_result["audios"] = audios
    return task_result


def _audios(job: JobView, result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each audio with its MP3 and WAV, from outputs labelled `audio-<n>.mp3` / `audio-<n>.wav`."""
    audios: dict[str, dict[str, Any]] = {}
    for label, url in job.outputs.items():
        if not label.startswith("audio"):
            continue
        name, _, kind = label.partition(".")
        audio = audios.setdefault(name, {"id": f"{job.job_id}-{name}"})
        seconds = _duration(job, result, "audios", name)
        if kind in ("mp3", "wav"):
            audio[f"url_{kind}"], audio[f"duration_{kind}"] = url, seconds
        else:
            audio["url"], audio["duration"] = url, seconds
    return list(audios.values())


def _duration(job: JobView, result: Mapping[str, Any], kind: str, label: str) -> str:
    """Seconds, as Kling writes them: what the provider reported for the file, else the input's."""
    reported = result.get(kind)
    index = label.rsplit("-", 1)[-1]
    if isinstance(reported, list) and index.isdigit() and int(index) < len(reported):
        entry = reported[int(index)]
        if isinstance(entry, Mapping) and entry.get("duration") is not None:
            return str(entry["duration"])
    return str(job.input.get("duration", "5"))
