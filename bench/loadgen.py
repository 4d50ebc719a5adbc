"""The load generator: `POST /v1/jobs` from its own process over keep-alive HTTP/1.1 connections,
closed-loop (as fast as the API answers) or open-loop at a fixed rate, with each latency measured
from the request's *scheduled* send time so that a stalled server cannot hide its queue
(no coordinated omission). Prints one JSON object.

A hand-written HTTP/1.1 client on asyncio streams rather than httpx: on 2 cores shared with the API,
the generator's own CPU per request must be small (httpx costs several times more per request).
API keys (one per tenant, used in turn) come from the environment (BENCH_API_KEYS, comma-separated),
never the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench.measure import percentile

# uvicorn closes a keep-alive connection idle for 5 s; one idle this long is reopened instead.
IDLE_S = 4.0


class Connection:
    """One keep-alive connection that sends a request and reads its answer (Content-Length bodies)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0

    async def request(self, raw: bytes) -> int:
        if self.writer is not None and time.monotonic() - self.last_used > IDLE_S:
            self.close()  # the server has closed it, or is about to: don't send into it
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.last_used = time.monotonic()
        assert self.reader is not None
        self.writer.write(raw)
        status = int((await self.reader.readuntil(b"\r\n")).split(b" ", 2)[1])
        length, close = 0, False
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        await self.reader.readexactly(length)
        self.last_used = time.monotonic()
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Load:
    """What to send and what came back."""

    url: str
    api_keys: list[str]
    bodies: list[bytes]
    idempotency_fraction: float
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0
    unanswered: int = 0  # still waiting at the deadline (open loop): counted with their wait so far

    def raw(self, index: int) -> bytes:
        body = self.bodies[index % len(self.bodies)]
        api_key = self.api_keys[index % len(self.api_keys)]
        target = urlparse(self.url)
        lines = [
            f"POST /v1/jobs HTTP/1.1\r\nHost: {target.netloc}\r\nAuthorization: Bearer {api_key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        ]
        # Every n-th request carries a fresh Idempotency-Key (the key path: lookup, then insert).
        if self.idempotency_fraction and index % round(1 / self.idempotency_fraction) == 0:
            lines.append(f"Idempotency-Key: bench-{uuid.uuid4()}\r\n")
        return ("".join(lines) + "\r\n").encode() + body

    async def send(self, connection: Connection, index: int, scheduled: float) -> None:
        self.sent += 1
        try:
            self.statuses[await connection.request(self.raw(index))] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            self.errors[type(exc).__name__] += 1
            connection.close()
        self.latencies_ms.append((time.perf_counter() - scheduled) * 1000)


async def closed_loop(load: Load, connections: int, duration: float, count: int | None) -> float:
    """Each connection sends its next request as soon as the last one is answered; returns seconds."""
    target = urlparse(load.url)
    started = time.perf_counter()
    deadline = started + duration
    issued = iter(range(count if count is not None else 10**12))

    async def run() -> None:
        connection = Connection(target.hostname or "127.0.0.1", target.port or 80)
        for index in issued:
            if time.perf_counter() >= deadline:
                break
            await load.send(connection, index, time.perf_counter())
        connection.close()

    await asyncio.gather(*(run() for _ in range(connections)))
    return time.perf_counter() - started


async def open_loop(load: Load, connections: int, duration: float, rate: float, grace: float) -> float:
    """Requests start at `rate` per second whatever the answers; one waiting for a free connection
    counts that wait in its latency. Requests still unanswered `grace` seconds after the last one was
    due are given up and counted with the time they waited (a lower bound). Returns seconds."""
    target = urlparse(load.url)
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Connection(target.hostname or "127.0.0.1", target.port or 80))

    async def one(index: int, scheduled: float) -> None:
        connection = await pool.get()
        try:
            await load.send(connection, index, scheduled)
        finally:
            pool.put_nowait(connection)

    started = time.perf_counter() + 0.05
    pending: dict[asyncio.Task[None], float] = {}
    for index in range(int(rate * duration)):
        scheduled = started + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(index, scheduled))
        pending[task] = scheduled
        task.add_done_callback(lambda done: pending.pop(done, None))
    if pending:
        await asyncio.wait(list(pending), timeout=max(0.0, started + duration + grace - time.perf_counter()))
    given_up = time.perf_counter()
    for task, scheduled in list(pending.items()):
        task.cancel()
        load.unanswered += 1
        load.latencies_ms.append((given_up - scheduled) * 1000)
    await asyncio.gather(*pending, return_exceptions=True)
    while not pool.empty():
        pool.get_nowait().close()
    return given_up - started


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    bodies = [json.dumps(body).encode() for body in json.loads(Path(args.bodies).read_text())]
    load = Load(args.url, os.environ["BENCH_API_KEYS"].split(","), bodies, args.idempotency_fraction)
    first_send = time.time()
    if args.rate:
        elapsed = await open_loop(load, args.connections, args.duration, args.rate, args.grace)
    else:
        elapsed = await closed_loop(load, args.connections, args.duration, args.count)
    accepted = load.statuses.get(202, 0) + load.statuses.get(200, 0)
    return {
        "sent": load.sent,
        "accepted": accepted,
        "elapsed_s": elapsed,
        "accepted_per_s": accepted / elapsed if elapsed else 0.0,
        "statuses": {str(code): n for code, n in sorted(load.statuses.items())},
        "errors": dict(load.errors),
        "unanswered": load.unanswered,
        "p50_ms": percentile(load.latencies_ms, 50),
        "p99_ms": percentile(load.latencies_ms, 99),
        "max_ms": max(load.latencies_ms, default=0.0),
        "first_send_wall": first_send,
        "last_answer_wall": time.time(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", required=True, help="a JSON file: a list of job bodies, sent in turn")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop at this many requests/s")
    parser.add_argument("--grace", type=float, default=5.0, help="open loop: wait this long for answers")
    parser.add_argument("--count", type=int, default=None, help="closed loop: stop after this many")
    parser.add_argument("--idempotency-fraction", type=float, default=0.1)
    args = parser.parse_args(argv)
    try:
        import uvloop

        result = uvloop.run(main_async(args))
    except ImportError:
        result = asyncio.run(main_async(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
