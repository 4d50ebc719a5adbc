"""A worker process's resources: a threads pool's tasks share one runtime, whose database pool keeps a
connection for each of them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from orchestrator.settings import Settings
from workers import runtime as worker_runtime


@pytest.fixture
def pool_sizing() -> Iterator[None]:
    yield
    worker_runtime.size_for_pool("prefork", 1)


@pytest.mark.parametrize(
    ("pool", "concurrency", "connections"),
    [
        ("prefork", 8, worker_runtime.DATABASE_POOL),
        ("threads", 2, worker_runtime.DATABASE_POOL),
        ("threads", 12, 12),
    ],
)
def test_runtime_a_threads_pool_keeps_a_database_connection_per_task_thread(
    make_settings: Callable[..., Settings], pool_sizing: None, pool: str, concurrency: int, connections: int
) -> None:
    worker_runtime.size_for_pool(pool, concurrency)
    resources = worker_runtime.Runtime(make_settings(), os.getpid())
    try:
        assert resources.db.engine.pool.size() == connections  # type: ignore[attr-defined]
    finally:
        resources.close()
