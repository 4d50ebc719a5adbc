"""How a provider's simulated personality is declared: routes whose handlers take a `SimRequest` and
answer a `SimResponse`, with the dwell times of its tasks. The simulator mounts them over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workers.providers.compat import Upload
from workers.providers.simulation.engine import Simulator
from workers.providers.simulation.timeline import Dwell


async def _connected() -> bool:
    return False


@dataclass(frozen=True)
class SimRequest:
    """One request to a simulated provider: `headers` with lower-case names (a repeated header: its
    first value), `body` as received, `form` parsed when it was a multipart or urlencoded body,
    `form_error` the parser's reason when such a body could not be read (then `form` is None)."""

    method: str
    path: str
    base_url: str  # with a trailing slash, like the request's own
    headers: Mapping[str, str]
    query_params: Mapping[str, str] = field(default_factory=dict)
    path_params: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    form: Mapping[str, Sequence[str | Upload]] | None = None
    form_error: str | None = None
    disconnected: Callable[[], Awaitable[bool]] = _connected

    async def json(self) -> Any:
        """The body as JSON (ValueError when it is not)."""
        return json.loads(self.body)

    async def is_disconnected(self) -> bool:
        return await self.disconnected()


@dataclass(frozen=True)
class SimResponse:
    """A JSON answer (`body`), or raw `content` (bytes or chunks) of `media_type`."""

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes | Iterable[bytes] | None = None
    media_type: str | None = None


def answer(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> SimResponse:
    return SimResponse(status, body, dict(headers or {}))


def redirect(url: str, status: int = 302) -> SimResponse:
    return SimResponse(status, None, {"location": url})


SimHandler = Callable[[SimRequest], Awaitable[SimResponse]]


@dataclass(frozen=True)
class SimRoute:
    """`path` may hold `{name}` parameters (also inside a segment, as in `{model}:predictLongRunning`).
    Where providers share a route (OpenAI's `/v1/videos` shape, served for several vendors), `claims`
    says which requests are this one's; the route without `claims` takes the rest."""

    method: str
    path: str
    handle: SimHandler
    claims: Callable[[SimRequest], bool] | None = None


@dataclass(frozen=True)
class Simulation:
    """A provider as the simulator plays it: its tasks' dwell times and its routes over one simulator."""

    dwell: Dwell
    routes: Callable[[Simulator], Sequence[SimRoute]]
