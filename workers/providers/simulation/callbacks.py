"""Upstream callbacks: the heap of due deliveries and the asyncio sender that drains it. Like most real
ones: one attempt each, unsigned, failures only counted; a signed body may ask for retries, which send
the same bytes (and so the same `webhook-id`) again."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from workers.providers.simulation.engine import Simulator

SEND_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SignedBody:
    """A callback body sent as these exact bytes with these headers (a provider that signs its
    callbacks, as Replicate's Standard Webhooks)."""

    content: bytes
    headers: dict[str, str]
    retries: int = 0  # further attempts after a failed one, `retry_after_s` apart
    retry_after_s: float = 1.0


# What a callback's render gives: a JSON body, a signed one, or None to send nothing (an event the
# receiver did not ask for).
CallbackBody = dict[str, Any] | SignedBody | None


@dataclass(order=True)
class PendingCallback:
    due: float  # time.monotonic()
    seq: int
    provider: str = field(compare=False)
    url: str = field(compare=False)
    # Rendered at send time, so result links are signed when they leave.
    render: Callable[[], CallbackBody] = field(compare=False)
    task_id: str = field(compare=False, default="")


class CallbackQueue:
    """Due callbacks ordered by time; a "new work" signal wakes the senders early."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heap: list[PendingCallback] = []
        self._seq = itertools.count()
        self._wakers: list[Callable[[], None]] = []

    def push(
        self, due: float, provider: str, url: str, render: Callable[[], CallbackBody], task_id: str = ""
    ) -> None:
        with self._lock:
            heapq.heappush(self._heap, PendingCallback(due, next(self._seq), provider, url, render, task_id))
            wakers = list(self._wakers)
        for waker in wakers:
            waker()

    def clear(self) -> None:
        with self._lock:
            self._heap.clear()

    def drop(self, task_id: str) -> None:
        """Forget the callbacks of `task_id` not yet due (its story changed: it ended early)."""
        with self._lock:
            self._heap = [callback for callback in self._heap if callback.task_id != task_id]
            heapq.heapify(self._heap)

    def add_waker(self, waker: Callable[[], None]) -> None:
        """Install a sender's wake-up; it is called from whichever thread pushes. Each server of the
        simulator runs a sender, so one that stops leaves the others' wake-ups in place."""
        with self._lock:
            self._wakers.append(waker)

    def remove_waker(self, waker: Callable[[], None]) -> None:
        with self._lock:
            self._wakers.remove(waker)

    def pop_due(self) -> list[PendingCallback]:
        now = time.monotonic()
        with self._lock:
            due: list[PendingCallback] = []
            while self._heap and self._heap[0].due <= now:
                due.append(heapq.heappop(self._heap))
            return due

    def next_delay(self) -> float | None:
        """Seconds until the next callback falls due; None when none is pending."""
        with self._lock:
            return None if not self._heap else max(0.0, self._heap[0].due - time.monotonic())


async def deliver_callbacks(sim: Simulator) -> None:
    """Send callbacks as they fall due, until cancelled."""
    queue, wake = sim.callbacks, asyncio.Event()
    loop = asyncio.get_running_loop()

    def wake_up() -> None:
        loop.call_soon_threadsafe(wake.set)

    queue.add_waker(wake_up)
    sending: set[asyncio.Task[None]] = set()
    # The last send to each URL: a task's callbacks leave in the order they fell due (out of order only
    # when `reorder_callbacks` says so), while different receivers are served concurrently.
    tails: dict[str, asyncio.Task[None]] = {}
    try:
        async with httpx.AsyncClient(timeout=SEND_TIMEOUT_S) as client:
            try:
                while True:
                    for callback in queue.pop_due():
                        previous = tails.get(callback.url)
                        send = asyncio.create_task(_send_after(previous, sim, client, callback))
                        tails[callback.url] = send
                        sending.add(send)
                        send.add_done_callback(sending.discard)
                        send.add_done_callback(functools.partial(_forget, tails, callback.url))
                    wake.clear()  # before next_delay(), so a push in between is not missed
                    with suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), queue.next_delay())
            finally:
                for send in sending:
                    send.cancel()
                await asyncio.gather(*sending, return_exceptions=True)
    finally:
        queue.remove_waker(wake_up)


def _forget(tails: dict[str, asyncio.Task[None]], url: str, done: asyncio.Task[None]) -> None:
    if tails.get(url) is done:
        del tails[url]


async def _send_after(
    previous: asyncio.Task[None] | None, sim: Simulator, client: httpx.AsyncClient, callback: PendingCallback
) -> None:
    if previous is not None:
        with suppress(asyncio.CancelledError):
            await asyncio.shield(previous)
    await _send(sim, client, callback)


async def _send(sim: Simulator, client: httpx.AsyncClient, callback: PendingCallback) -> None:
    if sim.config.drop_callbacks:
        sim.record_callback(callback.provider, "dropped")
        return
    body = callback.render()
    if body is None:
        return  # an event the receiver did not ask for
    try:
        if isinstance(body, SignedBody):
            response = await client.post(callback.url, content=body.content, headers=body.headers)
        else:
            response = await client.post(callback.url, json=body)
        delivered = response.is_success
    except (httpx.HTTPError, httpx.InvalidURL):
        delivered = False
    sim.record_callback(callback.provider, "sent" if delivered else "failed")
    if not delivered and isinstance(body, SignedBody) and body.retries > 0:
        again = dataclasses.replace(body, retries=body.retries - 1)
        due = time.monotonic() + body.retry_after_s
        sim.callbacks.push(due, callback.provider, callback.url, lambda: again, callback.task_id)
