"""Per-process resources of a worker: database, HTTP client, storage, prices and dispatcher, built
lazily.

Celery's prefork pool forks after import, and sockets must not cross a fork, so everything here is
created on first use in the process that uses it and rebuilt if the pid changes. The threads pool
shares one runtime between its threads: every resource here is safe to share (a pool of database
connections, httpx's client, a Celery producer pool, boto3's client).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cached_property

import httpx

from orchestrator.db import Database, open_database
from orchestrator.messaging import Dispatcher
from orchestrator.pipeline import webhooks
from orchestrator.pricing import PriceTable, load_price_table
from orchestrator.settings import Settings, get_settings
from orchestrator.storage import LocalStorage, S3Storage, build_storage

DATABASE_POOL = 4  # connections a process keeps (as many again overflow), at least one per task thread
_tasks_at_once = 1  # tasks one process runs at once: the threads pool's concurrency, else one


def size_for_pool(pool: object, concurrency: int) -> None:
    """Record the worker's Celery pool (its name or class) and concurrency: a threads pool runs that
    many tasks in this process at once, and its database pool is sized for them."""
    global _tasks_at_once  # noqa: PLW0603 - set once, when the worker starts
    _tasks_at_once = concurrency if "thread" in str(pool).lower() else 1


@dataclass
class Runtime:
    settings: Settings
    pid: int

    @cached_property
    def db(self) -> Database:
        database = open_database(self.settings, pool_size=max(DATABASE_POOL, _tasks_at_once))
        database.on_commit(webhooks.commit_hook(self.dispatcher))
        return database

    @cached_property
    def http(self) -> httpx.Client:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        # Redirects are followed only where a caller asks (result downloads), never on API calls.
        return httpx.Client(timeout=self.settings.upstream_timeout_s, limits=limits, follow_redirects=False)

    @cached_property
    def storage(self) -> LocalStorage | S3Storage:
        return build_storage(self.settings)

    @cached_property
    def prices(self) -> PriceTable:
        return load_price_table(self.settings.prices_path)

    @cached_property
    def dispatcher(self) -> Dispatcher:
        return Dispatcher(self.settings.require_broker_url(), self.settings.broker_key_prefix)

    def close(self) -> None:
        for name in ("db", "http", "dispatcher"):
            resource = self.__dict__.pop(name, None)
            if resource is not None:
                getattr(resource, "dispose" if name == "db" else "close")()


_runtime: Runtime | None = None
_building = threading.Lock()


def runtime() -> Runtime:
    global _runtime  # noqa: PLW0603 - one runtime per process, by design
    current = _runtime
    if current is not None and current.pid == os.getpid():
        return current
    with _building:  # threads of one pool share the one they find or build
        if _runtime is None or _runtime.pid != os.getpid():
            _runtime = Runtime(get_settings(), os.getpid())
        return _runtime
