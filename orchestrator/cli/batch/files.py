"""Where a job's outputs land in the batch folder, `<line id>/<index>-<label><ext>`, and how: each is
streamed into a temporary file beside its target, checked against the job's sha256 and size, then
renamed into place, so a file in the folder is always whole and verified."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import uuid
from pathlib import Path

from orchestrator.cli.api_client import ApiError, GenrelayClient
from orchestrator.cli.batch.manifest import FileRecord
from schemas.jobs import Job, JobOutput

UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Types whose usual extension mimetypes does not guess (or guesses oddly) on every platform.
EXTENSIONS = {"audio/mpeg": ".mp3", "audio/wav": ".wav", "image/jpeg": ".jpg", "text/plain": ".txt"}


class OutputMismatchError(ApiError):
    """What arrived is not what the job recorded: a truncated or altered download."""

    def __init__(self, message: str) -> None:
        super().__init__(200, "download_mismatch", message)


def output_name(output: JobOutput) -> str:
    """`<index>-<label><ext>`, e.g. `0-clip-0.audio.mp3`; `<index><ext>` when the output has no label."""
    extension = EXTENSIONS.get(output.content_type) or mimetypes.guess_extension(output.content_type) or ""
    label = UNSAFE.sub("_", output.label).strip("._") if output.label else ""
    return f"{output.index}-{label}{extension}" if label else f"{output.index}{extension}"


def same_file(path: Path, sha256: str, size: int) -> bool:
    if not path.is_file() or path.stat().st_size != size:
        return False
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == sha256


async def save_output(client: GenrelayClient, output: JobOutput, target: Path) -> None:
    """Download one output to `target` atomically; a file already there with its sha256 is kept."""
    if same_file(target, output.sha256, output.size_bytes):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        with partial.open("wb") as sink:
            sha256, size = await client.fetch(output.url, sink)
            sink.flush()
            os.fsync(sink.fileno())
        if (sha256, size) != (output.sha256, output.size_bytes):
            raise OutputMismatchError(
                f"output {output.index}: got {size} bytes sha256 {sha256[:12]}..., "
                f"the job recorded {output.size_bytes} bytes sha256 {output.sha256[:12]}..."
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)  # a failed or interrupted download leaves nothing behind


async def save_outputs(client: GenrelayClient, root: Path, line_id: str, job: Job) -> list[FileRecord]:
    records = []
    for output in job.outputs:
        relative = f"{line_id}/{output_name(output)}"
        await save_output(client, output, root / relative)
        records.append(
            FileRecord(
                path=relative,
                sha256=output.sha256,
                size=output.size_bytes,
                content_type=output.content_type,
                index=output.index,
                label=output.label,
            )
        )
    return records
