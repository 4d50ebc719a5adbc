"""The lines of a batch file: each a job body as `POST /v1/jobs` takes it plus an optional `id`,
all read and checked before anything is sent, and the deterministic Idempotency-Key of each."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A line id names the line's folder in the output directory, so it must be a safe file name.
LINE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
KEY_VERSION = "genrelay-batch/1"


class BatchFileError(ValueError):
    """The batch file cannot be run as it is; nothing was sent."""


@dataclass(frozen=True)
class BatchLine:
    line_id: str
    number: int
    body: dict[str, Any]
    body_sha256: str

    @property
    def provider(self) -> str:
        return str(self.body["provider"])

    def idempotency_key(self, batch_id: str, attempt: int) -> str:
        """Same batch, line, attempt and body: same key, so a resubmit replays the job it made.
        A changed body is a new key (a new job), never a 422 for reusing a key with a new body."""
        material = "\n".join([KEY_VERSION, batch_id, self.line_id, str(attempt), self.body_sha256])
        return "batch-" + hashlib.sha256(material.encode()).hexdigest()


def body_digest(body: dict[str, Any]) -> str:
    """SHA-256 of the body in canonical JSON: key order and spacing are not changes."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_line(number: int, text: str) -> BatchLine:
    where = f"line {number}"
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise BatchFileError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise BatchFileError(f"{where}: expected a JSON object (a job body), got {type(body).__name__}")
    raw_id = body.pop("id", None)
    if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, str | int)):
        raise BatchFileError(f"{where}: id must be a string or a number")
    line_id = str(number) if raw_id is None else str(raw_id)
    if not LINE_ID.match(line_id):
        raise BatchFileError(f"{where}: id {line_id!r} must be 1-64 of A-Z a-z 0-9 . _ - (it names a folder)")
    for field in ("provider", "operation", "model"):
        if not isinstance(body.get(field), str):
            raise BatchFileError(f"{where}: {field!r} (a string) is required")
    if not isinstance(body.get("input"), dict):
        raise BatchFileError(f"{where}: 'input' (an object) is required")
    return BatchLine(line_id, number, body, body_digest(body))


def read_lines(path: Path) -> list[BatchLine]:
    """Every non-blank line of the file; ids default to the line number and must be unique."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchFileError(f"cannot read {path}: {exc}") from None
    lines: list[BatchLine] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        line = parse_line(number, raw)
        if line.line_id in seen:
            raise BatchFileError(
                f"line {number}: id {line.line_id!r} is also used by line {seen[line.line_id]}"
            )
        seen[line.line_id] = number
        lines.append(line)
    if not lines:
        raise BatchFileError(f"{path} holds no job lines")
    return lines
