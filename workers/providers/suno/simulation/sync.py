"""The simulated Suno's synchronous routes: `persona/create` answering the persona at once, and the
`act/{kind}/{clip_id}` conversions of a complete clip (WAV, MP4 and aligned lyrics at once, MIDI
`{"state": "running"}` until it is ready). Each creation draws a scripted or random fate like a task."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from workers.providers.simulation import wire
from workers.providers.simulation.files import signed_url
from workers.providers.simulation.http import SimRequest, SimResponse, answer
from workers.providers.simulation.timeline import NewTask, Phase, TaskRecord
from workers.providers.suno.simulation.answers import error, unauthorized
from workers.providers.suno.simulation.book import Book
from workers.providers.suno.simulation.handlers import refuse_create
from workers.providers.suno.simulation.tasks import PROVIDER, song_lyrics, task_dto

ACT_KINDS = ("wav", "mp4", "midi", "timing")
FAILURES = {
    "fail": "the conversion failed: internal error",
    "moderation": "the clip was flagged (content policy violation)",
}
INSTRUMENTS = ("Piano", "Bass", "Drums")
SECONDS_PER_WORD = 0.4
TAG = re.compile(r"\[[^\]]*\]")


class SyncRoutes:
    def __init__(self, book: Book) -> None:
        self.book = book
        self.sim = book.sim

    async def create_persona(self, request: SimRequest) -> SimResponse:
        sim = self.sim
        await wire.latency(sim)
        sim.count_attempt(PROVIDER)
        refusal = refuse_create(self.book, request, known=True)
        if refusal is not None:
            return refusal
        body = await wire.json_object(request)
        read = "invalid request body" if body is None else self._persona(body)
        if isinstance(read, str):
            sim.reject(PROVIDER, "invalid_request")
            return error(400, "invalid_request", read)
        task = sim.create_task(NewTask(PROVIDER, "persona", read, request.base_url))
        if task.result == "succeed":
            persona = self._persona_object(task, request.base_url)
            self.book.personas[persona["id"]] = persona
            reply = answer(persona)
        else:
            reply = error(
                400,
                "persona_failed",
                task.message or f"persona not created: {FAILURES.get(task.result, FAILURES['fail'])}",
            )
        await wire.stall(request, sim.draw_stall())  # created, but the answer may never arrive
        return reply

    async def act(self, request: SimRequest) -> SimResponse:
        kind, clip = request.path_params["kind"], request.path_params["clip_ref"]
        await wire.latency(self.sim)
        if not wire.authorized(self.sim, request):
            return unauthorized()
        if kind not in ACT_KINDS:
            return error(404, "invalid_request", "invalid_action")
        found = self.book.complete_clip(clip)
        if isinstance(found, str):
            return (
                error(404, "clip_not_found", found)
                if "not found" in found
                else error(400, "clip_not_ready", found)
            )
        conversion, first = self._conversion(kind, clip, request.base_url)
        if conversion.result != "succeed":
            del self.book.conversions[(kind, clip)]  # told once: asking again starts it anew
            return error(
                400,
                "conversion_failed",
                conversion.message or FAILURES.get(conversion.result, FAILURES["fail"]),
            )
        if kind == "midi" and (first or conversion.phase_at(time.monotonic()) is not Phase.DONE):
            return answer({"state": "running"})  # asked again until complete
        return answer(self._converted(kind, *found, request.base_url))

    def _conversion(self, kind: str, clip: str, base_url: str) -> tuple[TaskRecord, bool]:
        """The conversion of `clip` to `kind`, begun by the first request for it; (it, whether new)."""
        known = self.sim.task(self.book.conversions.get((kind, clip), ""))
        # After a reset the engine may have given that id to another task.
        if known is not None and known.operation == kind and known.params.get("clip_id") == clip:
            return known, False
        task = self.sim.create_task(NewTask(PROVIDER, kind, {"clip_id": clip}, base_url))
        self.book.conversions[(kind, clip)] = task.task_id
        return task, True

    def _persona(self, body: Mapping[str, Any]) -> dict[str, Any] | str:
        root, name, clips = body.get("root_clip_id"), body.get("name"), body.get("clips") or []
        if not isinstance(name, str) or not name.strip():
            return "name is required"
        if not isinstance(root, str) or not isinstance(clips, list):
            return "root_clip_id must be a clip id, clips a list of clip ids"
        for clip in [root, *clips]:
            found = self.book.complete_clip(str(clip))
            if isinstance(found, str):
                return found
        description, public = body.get("description") or "", bool(body.get("is_public", False))
        return {
            "root_clip_id": root,
            "name": name,
            "description": description,
            "clips": clips,
            "is_public": public,
        }

    def _persona_object(self, task: TaskRecord, base_url: str) -> dict[str, Any]:
        """The persona as `persona/create` answers it (trimmed to what a client reads)."""
        params = task.params
        clips = [self._clip(str(clip), base_url) for clip in params["clips"] or [params["root_clip_id"]]]
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"suno/{task.task_id}/persona")),
            "name": params["name"],
            "description": params["description"],
            "image_s3_id": signed_url(self.sim, base_url, task.task_id, 0, "jpeg"),
            "root_clip_id": params["root_clip_id"],
            "clip": self._clip(str(params["root_clip_id"]), base_url),
            "persona_clips": [{"clip": clip} for clip in clips],
            "is_public": params["is_public"],
            "is_owned": True,
            "is_trashed": False,
            "upvote_count": 0,
        }

    def _clip(self, clip: str, base_url: str) -> dict[str, Any]:
        found = self.book.clip(clip)
        assert found is not None  # checked when the request was read
        task, n = found
        now = time.monotonic()
        data: list[dict[str, Any]] = task_dto(self.sim, task, task.phase_at(now), now, base_url)["data"]
        return data[n]

    def _converted(self, kind: str, task: TaskRecord, n: int, base_url: str) -> dict[str, Any]:
        if kind == "wav":
            return {"wav_file_url": signed_url(self.sim, base_url, task.task_id, 1000 + n, "wav")}
        if kind == "mp4":
            return {"video_url": signed_url(self.sim, base_url, task.task_id, 4 * n + 3, "mp4")}
        if kind == "midi":
            return {"state": "complete", "instruments": _instruments(task, n)}
        return _timing(song_lyrics(self.sim, task))


def _instruments(task: TaskRecord, n: int) -> list[dict[str, Any]]:
    seed = int(task.task_id) // (n + 1)
    return [
        {
            "name": name,
            "notes": [
                {
                    "pitch": 36 + (seed + 7 * i + 12 * k) % 48,
                    "start": i * 0.5,
                    "end": i * 0.5 + 0.4,
                    "velocity": 90,
                }
                for i in range(8)
            ],
        }
        for k, name in enumerate(INSTRUMENTS)
    ]


def _timing(sung: str) -> dict[str, Any]:
    """Aligned lyrics: every sung word (no section tags) with its start and end in seconds."""
    words = TAG.sub(" ", sung).split()
    aligned = [
        {
            "word": word,
            "success": True,
            "start_s": round(8 + i * SECONDS_PER_WORD, 2),
            "end_s": round(8 + (i + 1) * SECONDS_PER_WORD - 0.05, 2),
            "p_align": 0.93,
        }
        for i, word in enumerate(words)
    ]
    waveform = [round(abs(((i * 37) % 100) - 50) / 50, 2) for i in range(64)]
    return {"aligned_words": aligned, "waveform_data": waveform, "hoot_cer": 0.08, "is_streamed": False}
