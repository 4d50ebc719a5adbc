"""A small async client of a running genrelay's HTTP API, used by the CLI's `batch` and `jobs watch`:
typed answers, the API's JSON errors as `ApiError`, and one declared retry policy."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import itertools
import json
import random
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, BinaryIO

import httpx

from schemas.account import AccountBalance
from schemas.batches import Batch, BatchResult
from schemas.jobs import Job, JobEvent, JobEventList

DEFAULT_URL = "http://127.0.0.1:8000"
# Answers that prove the request did nothing yet and may simply be sent again.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
UNREACHABLE = 0  # the status of an ApiError for a request that got no answer at all


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; a server's Retry-After wins over the computed delay."""

    attempts: int = 8
    base_s: float = 0.5
    max_s: float = 30.0

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            return min(retry_after_s, self.max_s) + random.uniform(0, self.base_s)  # noqa: S311 - jitter
        return min(self.base_s * 2.0**attempt, self.max_s) * random.uniform(0.5, 1.0)  # noqa: S311


class ApiError(Exception):
    """An error answer of the API (`{"error": {"code", "message"}}`), or no answer (status 0)."""

    def __init__(self, status: int, code: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s

    @property
    def retryable(self) -> bool:
        return (
            self.status in RETRYABLE_STATUSES
            or self.status == UNREACHABLE
            or self.code == "idempotency_key_in_flight"
        )


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: either delta-seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_of(response: httpx.Response) -> ApiError:
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    try:
        error = response.json()["error"]
        return ApiError(response.status_code, str(error["code"]), str(error["message"]), retry_after)
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:200] or response.reason_phrase
        return ApiError(response.status_code, f"http_{response.status_code}", text, retry_after)


class GenrelayClient:
    """The tenant side of the API. Every request it sends is safe to repeat (GETs, and job creation
    only ever with an Idempotency-Key), so transport errors and "not yet" answers are retried."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._retry = retry or RetryPolicy()
        self.rate_limited = 0  # 429 answers waited out, so a caller can suggest going slower
        headers = {"Authorization": f"Bearer {api_key}"}
        self._api = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout_s)
        # Output URLs are signed links, possibly on another host (S3, R2): never send them our key.
        self._files = httpx.AsyncClient(timeout=timeout_s, follow_redirects=True)

    async def __aenter__(self) -> GenrelayClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._api.aclose()
        await self._files.aclose()

    async def _send(self, method: str, path: str, *, jsonl: bool = False, **kwargs: Any) -> Any:
        """The answer's JSON (or, `jsonl`, its lines' JSON objects), retrying what may be retried."""
        failures = 0
        for attempt in itertools.count():
            try:
                response = await self._api.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                error = ApiError(UNREACHABLE, "unreachable", f"{self.base_url}: {type(exc).__name__} {exc}")
            else:
                if response.is_success:
                    if jsonl:
                        return [json.loads(line) for line in response.text.splitlines() if line.strip()]
                    return response.json()
                error = error_of(response)
            # A 429 is waited out however long it takes (the server says when to come back, and it
            # proves nothing was done); other retryable answers have a budget of attempts.
            if error.status == 429:
                self.rate_limited += 1
            else:
                failures += 1
            if not error.retryable or failures >= self._retry.attempts:
                raise error
            await asyncio.sleep(self._retry.delay(attempt, error.retry_after_s))
        raise AssertionError("unreachable: the loop returns or raises")

    async def account(self) -> AccountBalance:
        return AccountBalance.model_validate(await self._send("GET", "/v1/account"))

    async def create_job(self, body: dict[str, Any], idempotency_key: str) -> Job:
        headers = {"Idempotency-Key": idempotency_key}
        return Job.model_validate(await self._send("POST", "/v1/jobs", json=body, headers=headers))

    async def get_job(self, job_id: str) -> Job:
        return Job.model_validate(await self._send("GET", f"/v1/jobs/{job_id}"))

    async def create_batch(self, jsonl: bytes, idempotency_key: str) -> Batch:
        """A server-side batch of the file's lines; the same key and file replay the batch made."""
        headers = {"Idempotency-Key": idempotency_key, "Content-Type": "application/jsonl"}
        return Batch.model_validate(await self._send("POST", "/v1/batches", content=jsonl, headers=headers))

    async def get_batch(self, batch_id: str) -> Batch:
        return Batch.model_validate(await self._send("GET", f"/v1/batches/{batch_id}"))

    async def batch_results(self, batch_id: str) -> list[BatchResult]:
        rows = await self._send("GET", f"/v1/batches/{batch_id}/results", jsonl=True)
        return [BatchResult.model_validate(row) for row in rows]

    async def events(self, job_id: str) -> list[JobEvent]:
        return JobEventList.model_validate(await self._send("GET", f"/v1/jobs/{job_id}/events")).data

    async def fetch(self, url: str, sink: BinaryIO) -> tuple[str, int]:
        """Stream `url` into `sink`; the SHA-256 (hex) and size of what was written."""
        digest, size = hashlib.sha256(), 0
        try:
            async with self._files.stream("GET", url) as response:
                if not response.is_success:
                    await response.aread()
                    raise error_of(response)
                async for chunk in response.aiter_bytes(1 << 16):
                    sink.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        except httpx.TransportError as exc:
            raise ApiError(UNREACHABLE, "download_failed", f"{type(exc).__name__} {exc}") from exc
        return digest.hexdigest(), size
