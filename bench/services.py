"""Where a benchmark run keeps its data: PostgreSQL and Redis (configured, else embedded), a fresh
database and broker key prefix per run (dropped and deleted afterwards), the run's settings and its
tenants."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psutil
import psycopg
import redis

from orchestrator import ledger
from orchestrator.cli import embedded
from orchestrator.db import Database, upgrade
from orchestrator.settings import Settings
from orchestrator.tenants import accounts
from tests.services import free_port


@dataclass(frozen=True)
class Services:
    """Where this run's data goes: its own database and its own broker keys."""

    database_url: str
    broker_url: str
    key_prefix: str
    work_dir: Path
    server_url: str  # the PostgreSQL server's maintenance database, where databases are made

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.broker_url)

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(_plain(self.database_url), autocommit=True) as connection:
            return list(connection.execute(query, params).fetchall())

    def infra_pids(self) -> dict[str, int | None]:
        """PostgreSQL's postmaster and Redis's server process, when they run on this machine."""
        with psycopg.connect(_plain(self.database_url)) as connection:
            # Read while connected: the backend exits with the connection.
            backend = connection.execute("SELECT pg_backend_pid()").fetchone()
            postgres = _local_pid(backend[0] if backend else None, ("postgres", "postmaster"), parent=True)
        server = self.redis().info("server").get("process_id")
        return {"postgres": postgres, "redis": _local_pid(server, ("redis", "valkey"))}


def _plain(url: str) -> str:
    return url.replace("+psycopg", "")


def _local_pid(pid: int | None, names: tuple[str, ...], *, parent: bool = False) -> int | None:
    try:
        process = psutil.Process(pid) if pid else None
        process = process.parent() if process is not None and parent else process
        name = process.name() if process is not None else ""
    except psutil.Error:
        return None
    return process.pid if process is not None and any(n in name for n in names) else None


@contextmanager
def services(tag: str) -> Iterator[Services]:
    """PostgreSQL and Redis for one program: DATABASE_URL / BROKER_URL if set (a new database is
    created on that server and dropped afterwards), else embedded servers in a temporary folder
    (removed afterwards unless BENCH_KEEP is set: then the processes' logs stay there)."""
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix=f"genrelay-bench-{tag}-"))
        if os.environ.get("BENCH_KEEP"):
            print(f"bench: keeping {work} (logs under logs/)", file=sys.stderr)
        else:
            stack.callback(shutil.rmtree, work, ignore_errors=True)
        server = os.environ.get("DATABASE_URL") or embedded.start_postgres(work / "embedded", stack)
        broker = os.environ.get("BROKER_URL") or embedded.start_redis(work / "embedded", stack)
        yield stack.enter_context(_own_space(server, broker, work, tag))


def sibling(svc: Services, tag: str) -> contextlib.AbstractContextManager[Services]:
    """Another database and key prefix on the same servers (for a second genrelay side by side)."""
    return _own_space(svc.server_url, svc.broker_url, svc.work_dir, tag)


@contextmanager
def _own_space(server: str, broker: str, work: Path, tag: str) -> Iterator[Services]:
    name = f"genrelay_bench_{tag}_{os.getpid()}"
    _create_database(server, name)
    prefix = f"genrelay-bench-{tag}-{os.getpid()}:"
    try:
        database_url = urlparse(server)._replace(path=f"/{name}").geturl()
        upgrade(database_url)
        yield Services(database_url, broker, prefix, work, server)
    finally:
        _delete_keys(broker, prefix)
        _drop_database(server, name)


def _create_database(server: str, name: str) -> None:
    try:
        with psycopg.connect(_plain(server), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.errors.InsufficientPrivilege as exc:
        raise SystemExit(
            f"bench: cannot create a database on DATABASE_URL's server ({exc}); the benchmarks need a "
            "role with CREATEDB, so that they never write into an existing database"
        ) from exc


def _drop_database(server: str, name: str) -> None:
    with psycopg.connect(_plain(server), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _delete_keys(broker: str, prefix: str) -> None:
    client = redis.Redis.from_url(broker)
    for batch in _chunks(list(client.scan_iter(match=f"{prefix}*", count=1000)), 1000):
        client.delete(*batch)
    client.close()


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bench_settings(svc: Services, **overrides: Any) -> Settings:
    """Settings for a run: its services, local storage, its own API port, limits out of the way
    (a load generator is one tenant with one key)."""
    port = overrides.pop("api_port", None) or free_port()
    values: dict[str, Any] = {
        "data_dir": svc.work_dir / f"data-{port}",
        "database_url": svc.database_url,
        "broker_url": svc.broker_url,
        "broker_key_prefix": svc.key_prefix,
        "storage_backend": "local",
        "storage_dir": svc.work_dir / f"storage-{port}",
        "api_port": port,
        "public_base_url": f"http://127.0.0.1:{port}",
        "rate_limit_rps": 10_000_000,
        "max_open_jobs": 100_000_000,
        **overrides,
    }
    return Settings(_env_file=None, **values)


def create_tenants(database_url: str, count: int = 1, credits_: int = 1_000_000_000) -> list[str]:
    """Tenants with ample credits; returns one API key each."""
    db = Database(database_url, pool_size=1)
    keys = []
    try:
        with db.transaction() as session:
            for index in range(count):
                account_id = accounts.create_account(session, f"bench-{index}")
                ledger.add_credits(session, account_id, credits_ * ledger.MICROS_PER_CREDIT, "bench")
                keys.append(accounts.issue_key(session, account_id, "bench").secret)
    finally:
        db.dispose()
    return keys
