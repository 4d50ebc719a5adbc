"""A simulated Replicate prediction as its routes and webhooks show it (providers-more.md §4): the
26-character id, statuses by phase, outputs as a URL, a list of URLs or a list of text growing while it
runs, tqdm logs, and `data_removed` with dead links once the retention window (`url_ttl_s`) closes."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from workers.providers.replicate.catalog import MODELS, Output
from workers.providers.simulation.engine import Simulator
from workers.providers.simulation.files import signature
from workers.providers.simulation.timeline import Phase, TaskRecord

ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Replicate's ids: 26 characters of base32
TOKENS = ("A", "paper", "boat", "drifts", "across", "a", "still", "lake", "at", "dawn", ".")
MODERATION = "NSFW content detected. Try running it again, or try a different prompt."
FAILURE = "Prediction failed: CUDA out of memory."


def prediction_id(task_id: str) -> str:
    """Replicate's 26-character base32 id for a simulator task (its 18 digits, encoded)."""
    number, chars = int(task_id), []
    for _ in range(26):
        number, digit = divmod(number, 32)
        chars.append(ID_ALPHABET[digit])
    return "".join(reversed(chars))


def task_id_of(ref: str) -> str | None:
    number = 0
    for char in ref:
        if char not in ID_ALPHABET:
            return None
        number = number * 32 + ID_ALPHABET.index(char)
    return str(number) if len(ref) == 26 else None


def webhook_secret(sim: Simulator) -> str:
    """The simulated account's webhook signing secret (`GET /v1/webhooks/default/secret`)."""
    return "whsec_" + base64.b64encode(sim.file_secret).decode()


def status_at(task: TaskRecord, phase: Phase) -> str:
    if phase is Phase.QUEUED:
        return "starting"
    if phase is Phase.RUNNING:
        return "processing"
    return {"succeed": "succeeded", "cancelled": "canceled", "expired": "aborted"}.get(task.result, "failed")


def file_url(sim: Simulator, task: TaskRecord, index: int, kind: str) -> str:
    """A result link that dies when the retention window closes (`url_ttl_s` after the task ended)."""
    expires = int(task.created_wall + task.submitted_s + task.processing_s + sim.config.url_ttl_s)
    query = urlencode({"expires": expires, "sig": signature(sim.file_secret, task.task_id, index, expires)})
    return f"{task.base_url.rstrip('/')}/_sim/files/{task.task_id}/{index}.{kind}?{query}"


def output_at(sim: Simulator, task: TaskRecord, phase: Phase, now: float) -> Any:
    offer = MODELS[str(task.params["model"])]
    if offer.output is Output.ITERATOR:
        if phase is Phase.QUEUED:
            return None
        done = 1.0 if phase is Phase.DONE else (now - task.entered_mono(Phase.RUNNING)) / task.processing_s
        return TOKENS[: max(1, int(len(TOKENS) * min(1.0, done)))]
    if status_at(task, phase) != "succeeded":
        return None
    if offer.output is Output.FILE:
        return file_url(sim, task, 0, offer.kind)
    count = task.params.get("input", {}).get("num_outputs", 1)
    count = count if isinstance(count, int) and 1 <= count <= 4 else 1
    return [file_url(sim, task, n, offer.kind) for n in range(count)]


def iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def prediction(sim: Simulator, task: TaskRecord, phase: Phase, now: float | None = None) -> dict[str, Any]:
    now = time.monotonic() if now is None else now
    status, ref = status_at(task, phase), prediction_id(task.task_id)
    ended = phase is Phase.DONE
    removed = (
        ended
        and time.time() > task.created_wall + task.submitted_s + task.processing_s + sim.config.url_ttl_s
    )
    model = str(task.params["model"])
    body: dict[str, Any] = {
        "id": ref,
        "model": model,
        "version": MODELS[model].version or "hidden",
        "input": {} if removed else task.params.get("input", {}),
        "logs": "" if removed else _logs(task, phase, now),
        "output": None if removed else output_at(sim, task, phase, now),
        "data_removed": removed,
        "error": (task.message or (MODERATION if task.result == "moderation" else FAILURE))
        if status == "failed"
        else None,
        "source": "api",
        "status": status,
        "created_at": iso(task.created_wall),
        "urls": {
            "get": f"https://api.replicate.com/v1/predictions/{ref}",
            "cancel": f"https://api.replicate.com/v1/predictions/{ref}/cancel",
            "web": f"https://replicate.com/p/{ref}",
        },
    }
    if phase is not Phase.QUEUED and task.processing_s > 0:
        body["started_at"] = iso(task.entered_ms(Phase.RUNNING) / 1000)
    if ended:
        body["completed_at"] = iso(task.entered_ms(Phase.DONE) / 1000)
        if status == "succeeded":
            body["metrics"] = {"predict_time": round(task.processing_s, 3)}
    return body


def _logs(task: TaskRecord, phase: Phase, now: float) -> str:
    if phase is Phase.QUEUED:
        return ""
    done = 1.0 if phase is Phase.DONE else (now - task.entered_mono(Phase.RUNNING)) / task.processing_s
    percent = int(100 * min(1.0, max(0.0, done)))
    return f"Using seed: 42\n{percent}%|{'█' * (percent // 10)}| {percent // 25}/4 [00:01<00:01]\n"
