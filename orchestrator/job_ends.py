"""Waiting for jobs to end without a thread or a database connection per waiter: `announce` sends a
PostgreSQL NOTIFY in the transaction that ends a job (delivered only if it commits), and `JobEnds`, one
per API process, LISTENs on one connection and wakes the asyncio waiters of that job.

A waiter re-reads the job when woken and always gives up at its timeout, so a lost notification (the
listener reconnecting after a database restart) costs at most a late answer, never a hung one; every
waiter is also woken when the listener (re)connects, to re-read what it may have missed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
CHANNEL = "genrelay_job_ends"
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', :job_id)")
RECONNECT_S = (0.1, 5.0)  # the first retry's delay, and the longest


def announce(session: Session, job_id: uuid.UUID) -> None:
    """Tell every API process's listener that the job ended, once this transaction commits."""
    session.execute(_NOTIFY, {"job_id": str(job_id)})


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg://…`) as psycopg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class _Waiter:
    """One waiting request: its wake-up, and whether it was woken by its job's announced end."""

    __slots__ = ("announced", "event")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.announced = False


class JobEnds:
    """The process's listener and its waiters, keyed by job id. Start it in the event loop that serves
    the waiting requests; each waiter costs an asyncio event and a coroutine."""

    def __init__(self, database_url: str) -> None:
        self._url = libpq_url(database_url)
        self._waiters: dict[str, set[_Waiter]] = {}
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.connections = 0  # how many times it has connected: a test sees a reconnect

    @property
    def waiting(self) -> int:
        return sum(len(waiters) for waiters in self._waiters.values())

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait(self, job_id: str, timeout: float, ended: Callable[[], Awaitable[bool]]) -> bool:
        """Return True once the job's end is announced or `ended()` says it ended, False when `timeout`
        seconds pass first. `ended` is asked at once and after the listener (re)connects (what it may
        have missed), never after the timeout; an announcement needs no second look."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        waiter = _Waiter()
        # Registered before the first look, so an end announced in between still wakes it.
        self._waiters.setdefault(job_id, set()).add(waiter)
        try:
            while True:
                if waiter.announced or await ended():
                    return True
                left = deadline - loop.time()
                if left <= 0:
                    return False
                try:
                    await asyncio.wait_for(waiter.event.wait(), left)
                except TimeoutError:
                    return False
                waiter.event.clear()
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[job_id]

    def _wake(self, job_id: str) -> None:
        for waiter in self._waiters.get(job_id, ()):
            waiter.announced = True
            waiter.event.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.event.set()

    async def _listen(self) -> None:
        delay = RECONNECT_S[0]
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self.connections += 1
                    self.connected.set()
                    delay = RECONNECT_S[0]
                    self._wake_all()  # what ended while it was away: each waiter looks again
                    async for note in connection.notifies():
                        self._wake(note.payload)
            except (psycopg.Error, OSError) as exc:
                log.warning("job-end listener lost its database connection: %s", exc)
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_S[1])
