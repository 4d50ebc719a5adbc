"""Waking the requests that wait on jobs without a thread or a database connection each: `announce` sends
a PostgreSQL NOTIFY in the transaction of every change that makes a tenant event (delivered only if it
commits), and `JobEnds`, one per API process, LISTENs on one connection and wakes the asyncio waiters:
a `Prefer: wait` request when its job ends or needs input, an event stream on any event of the job or
account it watches.

A waiter re-reads the database when woken, so a notification carries only what to wake. A lost one (the
listener reconnecting after a database restart) costs a late answer, never a hung one: a `Prefer: wait`
request gives up at its timeout, and every waiter is woken when the listener (re)connects, to re-read
what it may have missed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from schemas.jobs import TERMINAL_STATUSES, JobStatus

log = logging.getLogger(__name__)
CHANNEL = "genrelay_job_ends"
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', :payload)")
T = TypeVar("T")
RECONNECT_S = (0.1, 5.0)  # the first retry's delay, and the longest
# The states a `Prefer: wait` request answers on: the job ended, or it waits for its client's input.
SETTLED = frozenset(TERMINAL_STATUSES) | {JobStatus.ACTION_REQUIRED}


def payload(account_id: uuid.UUID, state: JobStatus, job_id: uuid.UUID | None) -> str:
    """`<account id> <state> <job id>`; no job id when it announces jobs created in bulk."""
    return f"{account_id} {state.value} {job_id or ''}".rstrip()


def announce(session: Session, account_id: uuid.UUID, state: JobStatus, job_id: uuid.UUID | None) -> None:
    """Tell every API process's listener that a job of the account entered `state` (None: jobs of the
    account were created), once this transaction commits."""
    session.execute(_NOTIFY, {"payload": payload(account_id, state, job_id)})


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg://…`) as psycopg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class _Waiter:
    """One waiting request: its wake-up, and whether it was woken by its job's announced end."""

    __slots__ = ("announced", "event")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.announced = False


class Watch:
    """An event stream's registration: `woken` is set on every announcement for one of its keys (a job
    id or an account id), and when the listener (re)connects or stops."""

    def __init__(self, owner: JobEnds) -> None:
        self.woken = asyncio.Event()
        self._owner = owner

    @property
    def closed(self) -> bool:
        """The listener stopped (the app is shutting down): the stream should end."""
        return self._owner.stopped

    async def wait(self, timeout: float | None) -> None:
        """Until woken, or `timeout` seconds (None: no limit); then armed again."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.woken.wait(), timeout)
        self.woken.clear()


class JobEnds:
    """The process's listener and its waiters, keyed by job id (and streams by job or account id). Start
    it in the event loop that serves the waiting requests; each waiter costs an asyncio event and a
    coroutine."""

    def __init__(self, database_url: str) -> None:
        self._url = libpq_url(database_url)
        self._waiters: dict[str, set[_Waiter]] = {}
        self._watches: dict[str, set[Watch]] = {}
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.connections = 0  # how many times it has connected: a test sees a reconnect
        self.stopped = False

    @property
    def waiting(self) -> int:
        return sum(len(waiters) for waiters in self._waiters.values())

    @property
    def watching(self) -> int:
        """How many streams are open (each registered under one key)."""
        return sum(len(watches) for watches in self._watches.values())

    def start(self) -> None:
        if self._task is None:
            self.stopped = False
            self._task = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        self.stopped = True
        self._wake_all()  # open streams see `closed` and end
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
            _discard(self._waiters, job_id, waiter)

    @contextlib.contextmanager
    def watch(self, key: str) -> Iterator[Watch]:
        """Register a stream under `key` for as long as the block lasts. Register before the stream's
        first read, so that an event committed in between still wakes it."""
        watch = Watch(self)
        self._watches.setdefault(key, set()).add(watch)
        try:
            yield watch
        finally:
            _discard(self._watches, key, watch)

    def _on_note(self, note: str) -> None:
        account_id, state, job_id = [*note.split(" "), "", ""][:3]
        if job_id and state in SETTLED:
            for waiter in self._waiters.get(job_id, ()):
                waiter.announced = True
                waiter.event.set()
        for key in (account_id, job_id):
            for watch in self._watches.get(key, ()) if key else ():
                watch.woken.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.event.set()
        for watches in self._watches.values():
            for watch in watches:
                watch.woken.set()

    async def _listen(self) -> None:
        delay = RECONNECT_S[0]
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self.connections += 1
                    self.connected.set()
                    delay = RECONNECT_S[0]
                    self._wake_all()  # what changed while it was away: each waiter looks again
                    async for note in connection.notifies():
                        self._on_note(note.payload)
            except (psycopg.Error, OSError) as exc:
                log.warning("job-end listener lost its database connection: %s", exc)
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_S[1])


def _discard(registry: dict[str, set[T]], key: str, item: T) -> None:
    members = registry.get(key)
    if members is not None:
        members.discard(item)
        if not members:
            del registry[key]
