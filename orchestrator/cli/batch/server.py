"""`genrelay batch run --server`: the lines still to run sent as one genrelay batch (`POST
/v1/batches`), which genrelay then runs on its own; this follows the batch, reads its results and
downloads every output into the folder, as the per-job runner does.

A re-run never pays twice. The upload's Idempotency-Key is derived from the folder's batch identity
and every line it sends (id, attempt, body), so sending the same lines again replays the batch made;
and each sent line is recorded with that batch at once, so a later run follows that batch for it
rather than sending it again."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections import defaultdict

from orchestrator.cli.api_client import ApiError, GenrelayClient
from orchestrator.cli.batch.files import save_outputs
from orchestrator.cli.batch.lines import KEY_VERSION, BatchLine
from orchestrator.cli.batch.manifest import FINAL_FAILURES, BatchFolder, Cost, ErrorRecord, LineRecord
from orchestrator.cli.batch.report import BatchProgress, Phase
from orchestrator.cli.batch.runner import (
    DOWNLOAD_ATTEMPTS,
    INTERRUPTED,
    BatchOptions,
    identity,
    next_attempt,
    problem,
)
from schemas.batches import BatchResult

ENDED = frozenset({"completed", "cancelled"})


class ServerBatchRunner:
    def __init__(
        self, client: GenrelayClient, folder: BatchFolder, progress: BatchProgress, options: BatchOptions
    ) -> None:
        self.client = client
        self.folder = folder
        self.progress = progress
        self.options = options
        self.skipped = 0

    async def run(self, lines: list[BatchLine]) -> None:
        follow: dict[str, dict[str, BatchLine]] = defaultdict(dict)
        send: list[tuple[BatchLine, int]] = []
        for line in lines:
            previous = self.folder.records.get(line.line_id)
            attempt = next_attempt(self.folder, line, previous, retry_failed=self.options.retry_failed)
            if attempt is None:
                assert previous is not None
                self.skipped += 1
                self.progress.finished(line, previous, skipped=True)
            elif previous is not None and _sent_before(previous, line, attempt):
                assert previous.server_batch_id is not None
                follow[previous.server_batch_id][line.line_id] = line
            else:
                send.append((line, attempt))
        if send:
            batch_id = await self._send(send)
            follow[batch_id].update((line.line_id, line) for line, _ in send)
        for batch_id, batch_lines in follow.items():
            await self._settle(batch_id, batch_lines)

    async def _send(self, send: list[tuple[BatchLine, int]]) -> str:
        key = upload_key(self.folder.batch_id, send)
        upload = "".join(
            json.dumps({"custom_id": line.line_id, "body": line.body}, separators=(",", ":")) + "\n"
            for line, _ in send
        ).encode()
        batch = await self.client.create_batch(upload, key)
        for line, attempt in send:  # recorded at once: a later run follows this batch, never resends
            record = LineRecord(
                **identity(line, attempt, key), status="unfinished", server_batch_id=batch.batch_id
            )
            self.folder.append(record)
            self.progress.move(line, Phase.QUEUED)
        return batch.batch_id

    async def _settle(self, batch_id: str, lines: dict[str, BatchLine]) -> None:
        """Wait for the batch to end, then record and download each of its lines."""
        delay = self.options.poll_initial_s
        try:
            while (await self.client.get_batch(batch_id)).status not in ENDED:
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter
                delay = min(delay * 1.5, self.options.poll_max_s)
            results = await self.client.batch_results(batch_id)
        except asyncio.CancelledError:
            for line in lines.values():  # Ctrl-C: each line still belongs to its genrelay batch
                self.folder.append(self._unfinished(line, batch_id, INTERRUPTED))
            raise
        except ApiError as exc:
            for line in lines.values():
                self.folder.append(self._unfinished(line, batch_id, problem(exc)))
            return
        slots = asyncio.Semaphore(self.options.concurrency)

        async def settle(row: BatchResult) -> None:
            line = lines.get(row.custom_id)
            if line is None:
                return
            async with slots:
                record = await self._record(line, batch_id, row)
            self.folder.append(record)
            self.progress.finished(line, record)

        async with asyncio.TaskGroup() as group:
            for row in results:
                group.create_task(settle(row))

    def _unfinished(self, line: BatchLine, batch_id: str, error: ErrorRecord) -> LineRecord:
        previous = self.folder.records[line.line_id]
        return previous.model_copy(
            update={"status": "unfinished", "error": error, "server_batch_id": batch_id}
        )

    async def _record(self, line: BatchLine, batch_id: str, row: BatchResult) -> LineRecord:
        previous = self.folder.records[line.line_id]
        base = {
            **identity(line, previous.attempt, previous.idempotency_key or ""),
            "server_batch_id": batch_id,
            "job_id": row.job_id,
            "cost": Cost.of(row.charged),
        }
        error = ErrorRecord(code=row.error.code, message=row.error.message) if row.error else None
        if row.status == "refused":  # never became a job: the line is at fault, or the account
            return LineRecord(**base, status="rejected", error=error)
        if row.status != "succeeded" or row.job_id is None:
            return LineRecord(**base, status=row.status, error=error)
        self.progress.move(line, Phase.RUNNING)
        for attempt in range(DOWNLOAD_ATTEMPTS):
            try:
                job = await self.client.get_job(row.job_id)  # fresh signed links
                files = await save_outputs(self.client, self.folder.root, line.line_id, job)
                return LineRecord(**base, status="succeeded", files=files)
            except (ApiError, OSError) as exc:
                if attempt == DOWNLOAD_ATTEMPTS - 1:
                    return LineRecord(**base, status="unfinished", error=problem(exc))
        raise AssertionError("unreachable: the loop returns")


def _sent_before(previous: LineRecord, line: BatchLine, attempt: int) -> bool:
    """The line went, as it is, in a genrelay batch whose result it has not taken yet."""
    return (
        previous.server_batch_id is not None
        and previous.body_sha256 == line.body_sha256
        and previous.attempt == attempt
        and previous.status not in FINAL_FAILURES
    )


def upload_key(batch_id: str, send: list[tuple[BatchLine, int]]) -> str:
    """The same folder and the same lines to send (ids, attempts, bodies): the same key."""
    parts = sorted(f"{line.line_id}:{attempt}:{line.body_sha256}" for line, attempt in send)
    material = "\n".join([KEY_VERSION, "server", batch_id, *parts])
    return "batch-" + hashlib.sha256(material.encode()).hexdigest()
