"""Simulated Suno tasks as CometAPI shows them (providers.md §4, providers-more.md §5b): Suno's task and
clip ids, each kind's clips moving submitted -> queued -> streaming -> complete (a song's two, an
uploaded clip, a joined full song, two or twelve stems), and the TaskDto a fetch or `notify_hook` sends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from workers.providers.simulation.engine import Simulator
from workers.providers.simulation.files import signed_url
from workers.providers.simulation.timeline import Phase, TaskRecord
from workers.providers.suno.schemas import task_status_from_clips

PROVIDER = "suno"
# Every kind but lyrics is a MUSIC task on the wire (new-api knows only the two actions).
ACTIONS = {"lyrics": "LYRICS"}
CLIPS = {"music": 2, "upload": 1, "concat": 1}
STEMS = {
    "two": ("Vocals", "Instrumental"),
    "twelve": (
        "Vocals",
        "Backing Vocals",
        "Drums",
        "Bass",
        "Guitar",
        "Keyboard",
        "Strings",
        "Brass",
        "Woodwinds",
        "Percussion",
        "Synth",
        "FX",
    ),
}
FIRST_CLIP_DONE = 0.85  # clip 0 completes this far into processing, a little before the others
FAILURES = {
    "fail": ("internal_error", "Audio generation failed: internal error"),
    "moderation": ("moderation", "Lyrics contain restricted content (content policy violation)"),
}
VERSIONS = {
    "chirp-v3-0": "v3",
    "chirp-v3-5": "v3.5",
    "chirp-v4": "v4",
    "chirp-auk": "v4.5",
    "chirp-bluejay": "v4.5+",
    "chirp-crow": "v5",
}
PROGRESS = {"NOT_START": 0, "SUBMITTED": 10, "QUEUED": 20, "SUCCESS": 100, "FAILURE": 100}


def suno_task_id(task: TaskRecord) -> str:
    """The task's UUID as Suno shows it (the engine's own ids are Kling-style digits)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"suno/{task.task_id}"))


def clip_id(task: TaskRecord, n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"suno/{task.task_id}/clip/{n}"))


def action(task: TaskRecord) -> str:
    return ACTIONS.get(task.operation, "MUSIC")


def clip_count(task: TaskRecord) -> int:
    if task.operation == "stems":
        return len(STEMS[str(task.params.get("stem_task") or "two")])
    return CLIPS.get(task.operation, 0)


def clip_statuses(task: TaskRecord, phase: Phase, mono: float) -> list[str]:
    count = clip_count(task)
    if phase is Phase.QUEUED:
        queued = mono >= task.created_mono + task.submitted_s / 2
        return ["queued" if queued else "submitted"] * count
    if phase is Phase.RUNNING:
        first_done = task.created_mono + task.submitted_s + FIRST_CLIP_DONE * task.processing_s
        first = "complete" if task.result == "succeed" and mono >= first_done else "streaming"
        return [first] + ["streaming"] * (count - 1)
    return ["complete" if task.result == "succeed" else "error"] * count


def task_dto(sim: Simulator, task: TaskRecord, phase: Phase, mono: float, base_url: str) -> dict[str, Any]:
    """The TaskDto: `data` of a fetch, an item of a batch fetch, and a `notify_hook` body."""
    if task.operation == "lyrics":
        return _lyrics_dto(task)
    statuses = clip_statuses(task, phase, mono)
    status = task_status_from_clips(statuses)
    clips = [_clip(sim, task, n, clip_status, base_url) for n, clip_status in enumerate(statuses)]
    running = task.created_mono + task.submitted_s
    fraction = (mono - running) / task.processing_s if task.processing_s > 0 else 1.0
    progress = PROGRESS.get(status, 30 + int(69 * min(1.0, max(0.0, fraction))))
    return {
        **_task_fields(task, status, phase),
        "fail_reason": clips[0]["metadata"]["error_message"] if status == "FAILURE" else "",
        "progress": f"{progress}%",
        "data": clips,
    }


def _task_fields(task: TaskRecord, status: str, phase: Phase) -> dict[str, Any]:
    started = phase is not Phase.QUEUED
    return {
        "task_id": suno_task_id(task),
        "notify_hook": task.callback_url or "",
        "action": action(task),
        "status": status,
        "submit_time": task.entered_ms(Phase.QUEUED) // 1000,  # seconds, unlike Kling
        "start_time": task.entered_ms(Phase.RUNNING) // 1000 if started else 0,
        "finish_time": task.entered_ms(Phase.DONE) // 1000 if phase is Phase.DONE else 0,
    }


def _lyrics_dto(task: TaskRecord) -> dict[str, Any]:
    ok = task.result == "succeed"
    status = "SUCCESS" if ok else "FAILURE"
    done = task.entered_ms(Phase.QUEUED) // 1000
    description = str(task.params.get("prompt", ""))
    return {
        **_task_fields(task, status, Phase.QUEUED),
        "start_time": done,
        "finish_time": done,
        "fail_reason": "" if ok else (task.message or FAILURES.get(task.result, FAILURES["fail"])[1]),
        "progress": "100%",
        "data": {
            "id": clip_id(task, 0),
            "status": "complete" if ok else "error",
            "title": title(description) if ok else "",
            "text": lyrics(description) if ok else "",
        },
    }


def source(sim: Simulator, task: TaskRecord) -> TaskRecord | None:
    """The task whose clip a concat or a stem separation works on."""
    return sim.task(str(task.params.get("source_task") or ""))


def song_title(sim: Simulator, task: TaskRecord) -> str:
    params, origin = task.params, source(sim, task)
    if origin is not None:
        return song_title(sim, origin)
    if task.operation == "upload":
        return urlsplit(str(params.get("url"))).path.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "Upload"
    return str(params.get("title") or title(str(params.get("gpt_description_prompt") or "")))


def song_lyrics(sim: Simulator, task: TaskRecord) -> str:
    """What is sung in the task's clips: the lyrics sent or written for it; none in an upload."""
    origin = source(sim, task)
    if origin is not None:
        return song_lyrics(sim, origin)
    if task.operation != "music":
        return ""
    return str(task.params.get("prompt") or lyrics(str(task.params.get("gpt_description_prompt") or "")))


def _clip(sim: Simulator, task: TaskRecord, n: int, status: str, base_url: str) -> dict[str, Any]:
    params, origin = task.params, source(sim, task)
    mv = str((origin or task).params.get("mv") or params.get("mv") or "chirp-v3-0")
    clip: dict[str, Any] = {
        "id": clip_id(task, n),
        "title": song_title(sim, task),
        "status": status,
        "audio_url": "",
        "video_url": "",
        "image_url": None,
        "image_large_url": None,
        "model_name": {"upload": "chirp-upload", "stems": "chirp-stem"}.get(task.operation, mv),
        "major_model_version": VERSIONS.get(mv, "v3"),
        "created_at": datetime.fromtimestamp(task.created_wall, UTC).isoformat(timespec="milliseconds"),
        "metadata": {
            "tags": params.get("tags")
            or ("synthwave, upbeat" if params.get("gpt_description_prompt") else ""),
            "prompt": song_lyrics(sim, task),
            "gpt_description_prompt": params.get("gpt_description_prompt") or None,
            "type": _clip_type(task),
            "duration": None,
            "error_type": None,
            "error_message": None,
        },
    }
    if task.operation == "stems":
        stem = STEMS[str(params.get("stem_task") or "two")][n]
        clip["title"] = f"{params.get('title') or clip['title']} ({stem})"
        clip["stem_from_id"] = params.get("source_clip")
    if task.operation == "concat":
        clip["metadata"]["concat_history"] = [{"id": params.get("source_clip"), "type": "concat"}]
    _add_files(sim, task, n, clip, base_url)
    return clip


def _clip_type(task: TaskRecord) -> str:
    if task.operation == "music":
        return "concat" if task.params.get("continue_clip_id") else "gen"
    return {"stems": "gen_stem"}.get(task.operation, task.operation)


def _add_files(sim: Simulator, task: TaskRecord, n: int, clip: dict[str, Any], base_url: str) -> None:
    """The links a clip shows in its status: a cover and a live stream while streaming, the files at
    complete (a video only for a song), a dud mp3 link and the reason at error."""
    status, metadata = clip["status"], clip["metadata"]
    if status in ("streaming", "complete"):
        clip["image_url"] = signed_url(sim, base_url, task.task_id, 4 * n + 1, "jpeg")
        clip["image_large_url"] = signed_url(sim, base_url, task.task_id, 4 * n + 2, "jpeg")
        clip["audio_url"] = f"https://audiopipe.suno.ai/?item_id={clip['id']}"  # a live stream, no file
    if status == "complete":
        clip["audio_url"] = signed_url(sim, base_url, task.task_id, 4 * n, "mp3")
        if task.operation in ("music", "concat"):
            clip["video_url"] = signed_url(sim, base_url, task.task_id, 4 * n + 3, "mp4")
        metadata["duration"] = 60 + int(task.task_id) // (n + 1) % 180 + 0.04
    if status == "error":
        clip["audio_url"] = f"{base_url.rstrip('/')}/None.mp3"  # what the proxy shows for a lost clip
        error_type, message = FAILURES.get(task.result, FAILURES["fail"])
        metadata["error_type"], metadata["error_message"] = task.code or error_type, task.message or message


def title(description: str) -> str:
    return " ".join(description.split()[:4]).title() or "Untitled"


def lyrics(description: str) -> str:
    line = description.strip().capitalize() or "Hum along"
    return f"[Verse]\n{line}\nUnder the neon glow\n\n[Chorus]\n{line}\nAnd we never let go"
