"""The batch's record in its output folder: `batch.json` (the batch's identity), `manifest.jsonl`
(a record appended as each line finishes, rewritten whole and in line order at the end) and the lock
that keeps two runs out of one folder. The folder holds exactly the files its manifest lists."""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from pydantic import BaseModel, Field, ValidationError

BATCH_FILE = "batch.json"
MANIFEST = "manifest.jsonl"
LOCK_FILE = ".lock"
MICROS_PER_CREDIT = 1_000_000

DONE = "succeeded"
# The job ended and will not change: re-runs leave these lines alone (unless asked to retry failures).
FINAL_FAILURES = frozenset({"failed", "cancelled", "expired", "rejected"})
# Anything else ("not_submitted", "unfinished", "action_required") is picked up again by a re-run.


class BatchFolderError(RuntimeError):
    """The output folder cannot hold this run (locked, or another batch's)."""


class FileRecord(BaseModel):
    path: str = Field(description="Relative to the batch folder, `/`-separated.")
    sha256: str
    size: int
    content_type: str
    index: int
    label: str | None = None


class Cost(BaseModel):
    charged: int = Field(description="Captured micro-credits: the price on success, 0 otherwise.")
    credits: str

    @classmethod
    def of(cls, charged: int) -> Cost:
        return cls(charged=charged, credits=format_credits(charged))


class ErrorRecord(BaseModel):
    code: str
    message: str


class LineRecord(BaseModel):
    """What became of one line of the batch file."""

    line_id: str
    line: int
    provider: str
    status: str
    body_sha256: str
    attempt: int = 0
    idempotency_key: str | None = None
    job_id: str | None = None
    # With --server: the genrelay batch the line was sent in (its job is found in that batch's results).
    server_batch_id: str | None = None
    files: list[FileRecord] = []
    cost: Cost = Cost(charged=0, credits="0")
    error: ErrorRecord | None = None
    recorded_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def format_credits(micros: int) -> str:
    return format(Decimal(micros) / MICROS_PER_CREDIT, "f").rstrip("0").rstrip(".") or "0"


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename it over: readers see old or new, whole."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("wb") as sink:
            sink.write(data)
            sink.flush()
            os.fsync(sink.fileno())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_dir(path.parent)


@dataclass
class BatchFolder:
    root: Path
    batch_id: str
    records: dict[str, LineRecord]
    _lock: int

    @classmethod
    def open(cls, root: Path, source: Path, batch_id: str | None = None) -> BatchFolder:
        root.mkdir(parents=True, exist_ok=True)
        lock = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            raise BatchFolderError(f"another `genrelay batch run` is using {root}") from None
        try:
            identity = _identity(root, source, batch_id)
        except BaseException:
            os.close(lock)
            raise
        return cls(root, identity, load_records(root / MANIFEST), lock)

    def __enter__(self) -> BatchFolder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        os.close(self._lock)  # closing releases the flock

    def intact(self, record: LineRecord) -> bool:
        """The record's files are all there at their recorded size (their sha256 was checked on arrival)."""
        for file in record.files:
            path = self.root / file.path
            if not path.is_file() or path.stat().st_size != file.size:
                return False
        return True

    def append(self, record: LineRecord) -> None:
        """Record a finished line: one O_APPEND write of one JSON line, then drop files it replaced."""
        previous = self.records.get(record.line_id)
        data = (record.model_dump_json() + "\n").encode()
        descriptor = os.open(self.root / MANIFEST, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        self.records[record.line_id] = record
        if previous is not None:
            kept = {file.path for file in record.files}
            for file in previous.files:
                if file.path not in kept:
                    (self.root / file.path).unlink(missing_ok=True)

    def rewrite(self) -> None:
        """The manifest as one record per line, in file order, replacing the appended history."""
        ordered = sorted(self.records.values(), key=lambda record: (record.line, record.line_id))
        write_atomically(self.root / MANIFEST, "".join(r.model_dump_json() + "\n" for r in ordered).encode())


def _identity(root: Path, source: Path, batch_id: str | None) -> str:
    """The batch id kept in `batch.json`: made once, when the folder first receives a batch."""
    path = root / BATCH_FILE
    if path.exists():
        stored = str(json.loads(path.read_text())["batch_id"])
        if batch_id is not None and batch_id != stored:
            raise BatchFolderError(f"{root} belongs to batch {stored}, not {batch_id}")
        return stored
    identity = batch_id or str(uuid.uuid4())
    meta = {
        "batch_id": identity,
        "source": str(source.resolve()),
        "created_at": datetime.now(UTC).isoformat(),
    }
    write_atomically(path, (json.dumps(meta, indent=2) + "\n").encode())
    return identity


def load_records(path: Path) -> dict[str, LineRecord]:
    """The latest record of each line; a torn last line (a crash mid-append) is ignored."""
    records: dict[str, LineRecord] = {}
    if not path.exists():
        return records
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            record = LineRecord.model_validate_json(raw)
        except ValidationError:
            continue
        records[record.line_id] = record
    return records
