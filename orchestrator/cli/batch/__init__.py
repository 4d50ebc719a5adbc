"""`genrelay batch run`: a JSONL file of job bodies run against a running genrelay, resumably.

The output folder is the batch: `batch.json` holds its id, `manifest.jsonl` what became of each line,
`<line id>/` each line's files. Every line is submitted under the Idempotency-Key
sha256(batch id, line id, attempt, sha256 of the line's body), so a re-run into the same folder replays
the jobs it already made (the API answers the first answer for a known key and body), while a changed
line hashes to a new key and so becomes a new job. With `--server` the lines go as one genrelay batch
instead (`server`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from orchestrator.cli.api_client import ApiError, GenrelayClient, RetryPolicy
from orchestrator.cli.batch.lines import BatchFileError, BatchLine, read_lines
from orchestrator.cli.batch.manifest import MANIFEST, BatchFolder, BatchFolderError
from orchestrator.cli.batch.report import BatchProgress, render_summary, summarize
from orchestrator.cli.batch.runner import BatchOptions, BatchRunner
from orchestrator.cli.batch.server import ServerBatchRunner

__all__ = ["BatchFileError", "BatchFolderError", "BatchOptions", "BatchSetupError", "Connection", "run_batch"]

INTERRUPTED = 130  # the shell's code for "stopped by Ctrl-C"


class BatchSetupError(RuntimeError):
    """genrelay cannot be reached or refuses the key: nothing was sent."""


@dataclass(frozen=True)
class Connection:
    url: str
    api_key: str

    def client(self, retry: RetryPolicy | None = None) -> GenrelayClient:
        return GenrelayClient(self.url, self.api_key, retry=retry)


async def check_access(connection: Connection) -> None:
    # Few attempts: a wrong --url should be said at once, not after a minute of backoff.
    async with connection.client(RetryPolicy(attempts=3, base_s=0.2)) as client:
        try:
            await client.account()
        except ApiError as exc:
            raise BatchSetupError(f"genrelay at {connection.url}: {exc.code}: {exc.message}") from None


async def _run_lines(runner: BatchRunner | ServerBatchRunner, lines: list[BatchLine]) -> None:
    async with runner.client:
        await runner.run(lines)


def run_batch(source: Path, out: Path, connection: Connection, options: BatchOptions) -> int:
    """Run the batch; the exit code: 0 all lines done, 1 some not, 130 interrupted."""
    lines = read_lines(source)
    asyncio.run(check_access(connection))
    errors, report = Console(stderr=True), Console(soft_wrap=True)
    errors.soft_wrap = not errors.is_terminal  # plain lines in logs stay whole
    with BatchFolder.open(out, source, options.batch_id) as folder:
        errors.print(f"batch {folder.batch_id}: {len(lines)} lines -> {out}", highlight=False)
        progress = BatchProgress(errors, lines)
        kind = ServerBatchRunner if options.server else BatchRunner
        runner = kind(connection.client(), folder, progress, options)
        interrupted = False
        try:
            with progress:
                asyncio.run(_run_lines(runner, lines))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            folder.rewrite()
        summary = summarize(lines, folder.records, runner.skipped)
        summary.rate_limited = runner.client.rate_limited
    render_summary(report, summary, str(out / MANIFEST), interrupted=interrupted)
    if interrupted:
        return INTERRUPTED
    return 0 if summary.failed == 0 else 1
