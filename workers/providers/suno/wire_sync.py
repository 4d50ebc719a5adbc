"""Reading Suno's synchronous answers: the persona `persona/create` makes, and a clip's conversion from
`act/{kind}/{clip_id}` (a WAV or MP4 link, MIDI notes once `complete`, aligned lyrics) as a
ProviderUpdate. Their shapes are barely documented, so each is read loosely: bare or in the
`{code, message, data}` envelope, a link under any of the names gateways use, a state or none."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from workers.providers.base import OutputRef, ProviderUpdate, UpstreamStatus
from workers.providers.suno.wire import MODERATION_TEXT

RUNNING = frozenset({"running", "pending", "processing", "queued", "submitted", "in_progress", "streaming"})
FAILED = frozenset({"failed", "failure", "error"})
DONE = frozenset({"complete", "completed", "success", "succeeded"})
# Where each conversion's file may be named, most specific first (providers-more.md §5b: [M]).
LINKS = {
    "wav": ("wav_file_url", "wav_url", "audio_url", "file_url", "download_url", "url"),
    "mp4": ("video_url", "mp4_url", "mp4_file_url", "file_url", "download_url", "url"),
    "midi": ("midi_url", "midi_file_url", "file_url", "download_url"),
}
FILES = {"wav": ("audio/wav", "wav"), "mp4": ("video/mp4", "mp4"), "midi": ("audio/midi", "midi.mid")}


def unwrapped(payload: Any) -> dict[str, Any] | None:
    """The answer's object: itself, or the `data` of a `{code, message, data}` envelope."""
    if isinstance(payload, dict) and "code" in payload and isinstance(payload.get("data"), dict):
        payload = payload["data"]
    return payload if isinstance(payload, dict) else None


def persona_id(payload: Any) -> str | None:
    persona = unwrapped(payload) or {}
    found = persona.get("id") or persona.get("persona_id")
    return found if isinstance(found, str) and found else None


def persona_update(persona: str) -> ProviderUpdate:
    """A persona exists once `persona/create` answered its id: the job's result is that id."""
    return ProviderUpdate(
        UpstreamStatus.SUCCEEDED, "created", 100, result={"persona_id": persona, "refs": [persona]}
    )


def refused_update(kind: str, message: str) -> ProviderUpdate:
    code = "moderation_blocked" if MODERATION_TEXT.search(message) else "upstream_failed"
    text = message or f"Suno refused the {kind} conversion"
    return ProviderUpdate(
        UpstreamStatus.FAILED,
        "refused",
        error_code=code,
        error_message=text,
        provider_message=message or None,
    )


def conversion_update(kind: str, clip: str, payload: Mapping[str, Any]) -> ProviderUpdate:
    """What an `act/{kind}` answer says: still converting, failed, or done with its file or data."""
    raw = str(payload.get("state") or payload.get("status") or "").lower()
    if raw in FAILED:
        reason = payload.get("error") or payload.get("message") or payload.get("detail")
        return refused_update(kind, str(reason or ""))
    link = _link(kind, payload)
    if kind == "timing":
        done = isinstance(payload.get("aligned_words"), list)
    elif kind == "midi":
        done = raw in DONE or (not raw and isinstance(payload.get("instruments"), list)) or link is not None
    else:
        done = link is not None
    if not done:
        status = UpstreamStatus.RUNNING if raw in RUNNING else UpstreamStatus.UNKNOWN
        return ProviderUpdate(status, raw or "no_result")
    outputs = () if link is None else (OutputRef(link, *FILES[kind]),)
    result: dict[str, Any] = {"clip_id": clip}
    if kind in ("midi", "timing"):
        # The data is the result: kept whole (a projection answers it) and stored as a JSON file.
        data = {key: value for key, value in payload.items() if not _is_link(value)}
        result.update(data)
        outputs = (*outputs, _json_output(data, kind))
    return ProviderUpdate(UpstreamStatus.SUCCEEDED, raw or "complete", 100, outputs, result=result)


def _link(kind: str, payload: Mapping[str, Any]) -> str | None:
    return next((payload[key] for key in LINKS.get(kind, ()) if _is_link(payload.get(key))), None)


def _is_link(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _json_output(data: Mapping[str, Any], label: str) -> OutputRef:
    encoded = base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()
    return OutputRef(f"data:application/json;base64,{encoded}", "application/json", label)
