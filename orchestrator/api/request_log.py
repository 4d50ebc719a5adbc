"""Recording authenticated requests off the request path: a middleware measures each request (status,
latency, bytes in and out, its route's template) and, once authentication has named its caller,
queues one row; a writer thread inserts the queued rows in batches. Bodies, prompts and keys are
never recorded: only a key's visible prefix."""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator import request_log
from orchestrator.db import Database
from orchestrator.ids import new_uuid7

log = logging.getLogger(__name__)
FLUSH_EVERY_S = 0.2  # a row reaches the table this long after its request at most, when the database is up
MAX_BATCH = 2_000
MAX_QUEUED = 100_000  # beyond this (the database away for long), new rows are dropped and counted
MAX_LATENCY_MS = 2**31 - 1


@dataclass
class Noted:
    """What the request's handlers learn that the middleware cannot see: who called, from where, and
    the job the request created or named."""

    account_id: uuid.UUID | None = None
    key_prefix: str | None = None
    client_ip: str | None = None
    job_id: uuid.UUID | None = None
    caller: bool = False  # authenticated: only then is the request recorded


_noted: ContextVar[Noted | None] = ContextVar("genrelay_request_noted", default=None)


def note_caller(account_id: uuid.UUID | None, key_prefix: str | None, client_ip: str | None) -> None:
    noted = _noted.get()
    if noted is not None:
        noted.caller, noted.account_id, noted.key_prefix, noted.client_ip = (
            True,
            account_id,
            key_prefix,
            client_ip,
        )


def note_job(job_id: uuid.UUID) -> None:
    """The job the request is about (the first one named: a create's new job, a read's job)."""
    noted = _noted.get()
    if noted is not None and noted.job_id is None:
        noted.job_id = job_id


class RequestLogWriter:
    """A thread that inserts queued rows, as many per transaction as have queued up."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._written = threading.Condition()
        self._pending = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="genrelay-request-log", daemon=True)
        self._thread.start()

    def record(self, row: dict[str, Any]) -> None:
        if self._pending >= MAX_QUEUED:
            self.dropped += 1
            return
        with self._written:
            self._pending += 1
        self._queue.put(row)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row queued so far is written (or given up on); whether it was in time."""
        with self._written:
            return self._written.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        """Write what is queued, then stop."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            rows = self._drain()
            if rows:
                self._write(rows)
            elif self._stop.is_set():
                return
            else:
                self._stop.wait(FLUSH_EVERY_S)

    def _drain(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while len(rows) < MAX_BATCH:
            try:
                rows.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return rows

    def _write(self, rows: list[dict[str, Any]]) -> None:
        try:
            with self._db.transaction() as session:
                request_log.write(session, rows)
        except Exception:  # the log must never take the API down; the rows are lost and said so
            log.exception("writing %d request log rows failed", len(rows))
        with self._written:
            self._pending -= len(rows)
            self._written.notify_all()


class RequestLogMiddleware:
    """Measures every HTTP request and hands the authenticated ones to the app's writer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        noted, entry_id, arrived, started = Noted(), new_uuid7(), datetime.now(UTC), time.perf_counter()
        token = _noted.set(noted)
        sizes = {"in": 0, "out": 0, "status": 500}

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                sizes["in"] += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                sizes["status"] = message["status"]
            elif message["type"] == "http.response.body":
                sizes["out"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            _noted.reset(token)
            writer = _writer_of(scope)
            if noted.caller and writer is not None:
                elapsed_ms = int((time.perf_counter() - started) * 1000)
                writer.record(
                    {
                        "entry_id": entry_id,
                        "at": arrived,
                        "account_id": noted.account_id,
                        "key_prefix": noted.key_prefix,
                        "request_id": str(scope.get("state", {}).get("request_id", ""))[:128],
                        "client_ip": noted.client_ip,
                        "method": scope["method"][:16],
                        "route": _route_of(scope)[:300],
                        "status": sizes["status"],
                        "latency_ms": min(elapsed_ms, MAX_LATENCY_MS),
                        "job_id": noted.job_id,
                        "bytes_in": sizes["in"],
                        "bytes_out": sizes["out"],
                    }
                )


def _writer_of(scope: Scope) -> RequestLogWriter | None:
    context = getattr(getattr(scope.get("app"), "state", None), "context", None)
    return getattr(context, "request_log", None)


def _route_of(scope: Scope) -> str:
    """The matched route's template (`/v1/jobs/{job_id}`): never the path itself, which holds ids."""
    route = scope.get("route")
    return str(getattr(route, "path", None) or "(no route)")
