"""A persona or clip conversion job as the call CometAPI answers at once would have answered: the persona
object, the WAV or MP4 link (ours), the MIDI notes, the aligned lyrics; a Suno error when it failed,
and, while it is still being made, `{"state": "running"}` with the task id to fetch or ask again by."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.jobs import JobStatus
from workers.providers.compat import CompatAnswer, JobView, Render

# The names the simulator (and, as far as gateways show, CometAPI) give each conversion's link.
LINKS = {"wav": ("wav_file_url", "wav"), "mp4": ("video_url", "mp4"), "midi": ("midi_url", "midi.mid")}


def persona_object(job: JobView) -> dict[str, Any]:
    """The persona as `persona/create` answers it, from what made it (the job input) and its id."""
    job_input, result = job.input, job.result or {}
    root = str(job_input.get("clip_id") or "")
    clips = job_input.get("clips") or [root]
    return {
        "id": result.get("persona_id"),
        "name": job_input.get("name"),
        "description": job_input.get("description", ""),
        "root_clip_id": root,
        "persona_clips": [{"clip": {"id": clip}} for clip in clips],
        "is_public": job_input.get("is_public", False),
        "is_owned": True,
    }


def conversion_body(kind: str, job: JobView) -> dict[str, Any]:
    """A finished conversion's answer; links point at our stored copies."""
    result: Mapping[str, Any] = job.result or {}
    body = {key: value for key, value in result.items() if key != "clip_id"}
    if kind in LINKS:
        name, label = LINKS[kind]
        if label in job.outputs:
            body[name] = job.outputs[label]
    return body


def persona_answer(job: JobView) -> CompatAnswer:
    return _answer(job, persona_object)


def act_answer(kind: str) -> Render:
    def render(job: JobView) -> CompatAnswer:
        # MIDI is asked for again until complete even upstream: its running state is a normal answer.
        return _answer(
            job, lambda done: conversion_body(kind, done), running_status=200 if kind == "midi" else 202
        )

    return render


def _answer(job: JobView, done: Any, running_status: int = 202) -> CompatAnswer:
    status = JobStatus(job.status)
    if status is JobStatus.SUCCEEDED:
        return CompatAnswer(200, done(job))
    if status.is_terminal:
        code = job.error_code or "task_failed"
        message = job.error_message or f"the task {status.value}"
        return CompatAnswer(400, {"code": code, "message": message, "data": None})
    return CompatAnswer(running_status, {"state": "running", "task_id": job.job_id})
