"""Request plumbing every simulated provider shares: key checks, injected latency, held answers,
and reading a JSON body."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Mapping
from typing import Any, Protocol

from workers.providers.simulation.engine import Simulator

POLL_DISCONNECT_S = 0.05


class Request(Protocol):
    """What these helpers read of a request (a `SimRequest`, or a Starlette request)."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def json(self) -> Any: ...

    async def is_disconnected(self) -> bool: ...


def authorized(
    sim: Simulator, request: Request, *, header: str = "authorization", scheme: str = "Bearer"
) -> bool:
    """Whether the request carries the simulator's key (`<scheme> <key>`, or the bare key if no scheme)."""
    given = request.headers.get(header, "")
    expected = f"{scheme} {sim.config.api_key}" if scheme else sim.config.api_key
    return hmac.compare_digest(given.encode(), expected.encode())


async def json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def latency(sim: Simulator) -> None:
    if sim.config.upstream_latency_s > 0:
        await asyncio.sleep(sim.config.upstream_latency_s)


async def stall(request: Request, seconds: float) -> None:
    """Hold an answer back; stop once the client gave up, so that shutdown is not held up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not await request.is_disconnected():
        await asyncio.sleep(min(POLL_DISCONNECT_S, max(0.0, deadline - time.monotonic())))
