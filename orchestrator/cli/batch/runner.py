"""Running a batch file against a running genrelay: a bounded pool of jobs in flight, each line
submitted under its deterministic Idempotency-Key, followed by polling, downloaded and recorded."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from orchestrator.cli.api_client import ApiError, GenrelayClient
from orchestrator.cli.batch.files import save_outputs
from orchestrator.cli.batch.lines import BatchLine
from orchestrator.cli.batch.manifest import (
    DONE,
    FINAL_FAILURES,
    BatchFolder,
    Cost,
    ErrorRecord,
    FileRecord,
    LineRecord,
)
from orchestrator.cli.batch.report import BatchProgress, Phase
from schemas.jobs import Job, JobStatus

# Answers after which no further line can succeed until someone acts (top up, new key).
STOP_STATUSES = frozenset({401, 402, 403})
DOWNLOAD_ATTEMPTS = 3
WAITING = frozenset({JobStatus.QUEUED, JobStatus.SUBMITTING})
INTERRUPTED = ErrorRecord(code="interrupted", message="stopped by Ctrl-C; the job keeps running in genrelay")


@dataclass(frozen=True)
class BatchOptions:
    concurrency: int = 8
    retry_failed: bool = False
    batch_id: str | None = None
    server: bool = False  # one genrelay batch (POST /v1/batches) instead of a job per request
    # Each job is polled on its own, from poll_initial_s growing by half up to poll_max_s, jittered,
    # so jobs in flight spread their requests instead of polling in lockstep.
    poll_initial_s: float = 0.5
    poll_max_s: float = 5.0


class BatchRunner:
    def __init__(
        self, client: GenrelayClient, folder: BatchFolder, progress: BatchProgress, options: BatchOptions
    ) -> None:
        self.client = client
        self.folder = folder
        self.progress = progress
        self.options = options
        self.stop: ErrorRecord | None = None  # set by a 401/402/403: submit nothing more
        self.skipped = 0

    async def run(self, lines: list[BatchLine]) -> None:
        pending = iter(lines)  # shared by the workers: each takes the next line when it is free
        async with asyncio.TaskGroup() as group:
            for _ in range(min(self.options.concurrency, len(lines))):
                group.create_task(self._work(pending))

    async def _work(self, pending: Iterator[BatchLine]) -> None:
        for line in pending:
            previous = self.folder.records.get(line.line_id)
            attempt = self._attempt(line, previous)
            if attempt is None:
                assert previous is not None
                self.skipped += 1
                self.progress.finished(line, previous, skipped=True)
                continue
            key = line.idempotency_key(self.folder.batch_id, attempt)
            made = previous is not None and previous.job_id is not None and previous.idempotency_key == key
            record = await self._process(line, attempt, key, made=made)
            self.folder.append(record)
            self.progress.finished(line, record)

    def _attempt(self, line: BatchLine, previous: LineRecord | None) -> int | None:
        return next_attempt(self.folder, line, previous, retry_failed=self.options.retry_failed)

    async def _process(self, line: BatchLine, attempt: int, key: str, *, made: bool) -> LineRecord:
        """Submit (or, when its job was `made` already, re-find) the line's job and see it through."""
        base = identity(line, attempt, key)
        if self.stop is not None and not made:  # a known key only replays: it costs nothing new
            return LineRecord(**base, status="not_submitted", error=self.stop)
        try:
            job = await self.client.create_job(line.body, key)
        except ApiError as exc:
            return LineRecord(**base, **self._refused(exc))
        try:
            job = await self._follow(line, job)
            files = await self._download(line, job) if job.status == JobStatus.SUCCEEDED else []
        except (ApiError, OSError) as exc:
            # The job lives on in genrelay: the next run follows it again under the same key.
            return LineRecord(**base, status="unfinished", job_id=job.job_id, error=problem(exc))
        except asyncio.CancelledError:  # Ctrl-C: say which job the line has, then stop
            self.folder.append(LineRecord(**base, status="unfinished", job_id=job.job_id, error=INTERRUPTED))
            raise
        return LineRecord(**base, **outcome(job), files=files)

    def _refused(self, exc: ApiError) -> dict[str, Any]:
        error = ErrorRecord(code=exc.code, message=exc.message)
        if exc.status in STOP_STATUSES:
            self.stop = self.stop or error
            return {"status": "not_submitted", "error": error}
        if 400 <= exc.status < 500 and not exc.retryable:
            return {"status": "rejected", "error": error}  # the body itself is at fault
        return {"status": "not_submitted", "error": error}  # retries ran out: try again later

    async def _follow(self, line: BatchLine, job: Job) -> Job:
        delay = self.options.poll_initial_s
        while not job.status.is_terminal and job.status != JobStatus.ACTION_REQUIRED:
            self.progress.move(line, Phase.QUEUED if job.status in WAITING else Phase.RUNNING)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter
            delay = min(delay * 1.5, self.options.poll_max_s)
            job = await self.client.get_job(job.job_id)
        return job

    async def _download(self, line: BatchLine, job: Job) -> list[FileRecord]:
        self.progress.move(line, Phase.RUNNING)
        for attempt in range(DOWNLOAD_ATTEMPTS):
            try:
                return await save_outputs(self.client, self.folder.root, line.line_id, job)
            except ApiError:
                if attempt == DOWNLOAD_ATTEMPTS - 1:
                    raise
                job = await self.client.get_job(job.job_id)  # fresh signed links, in case they expired
        raise AssertionError("unreachable: the loop returns or raises")


def next_attempt(
    folder: BatchFolder, line: BatchLine, previous: LineRecord | None, *, retry_failed: bool
) -> int | None:
    """The attempt number to run the line under, or None when it is settled and left alone."""
    if previous is None or previous.body_sha256 != line.body_sha256:
        return 0  # a new or changed line: its own key, so its own job
    if previous.status == DONE and folder.intact(previous):
        return None
    if previous.status in FINAL_FAILURES:
        # The same key would only replay the same failure; a retry needs a new key.
        return previous.attempt + 1 if retry_failed else None
    return previous.attempt  # unfinished: the same key picks up the job already made


def identity(line: BatchLine, attempt: int, key: str) -> dict[str, Any]:
    return {
        "line_id": line.line_id,
        "line": line.number,
        "provider": line.provider,
        "body_sha256": line.body_sha256,
        "attempt": attempt,
        "idempotency_key": key,
    }


def problem(exc: ApiError | OSError) -> ErrorRecord:
    if isinstance(exc, ApiError):
        return ErrorRecord(code=exc.code, message=exc.message)
    return ErrorRecord(code="local_write_failed", message=str(exc))  # disk full, permissions


def outcome(job: Job) -> dict[str, Any]:
    """The record fields of a job that ended (or waits for input the batch cannot give)."""
    error = ErrorRecord(code=job.error.code, message=job.error.message) if job.error else None
    if job.status == JobStatus.ACTION_REQUIRED:
        message = f"continue it with POST /v1/jobs/{job.job_id}/continue, then re-run the batch"
        error = ErrorRecord(code="action_required", message=message)
    return {"status": job.status.value, "job_id": job.job_id, "cost": Cost.of(job.charged), "error": error}
