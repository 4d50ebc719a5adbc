"""A running genrelay for end-to-end tests: the API as a real HTTP server and a real Celery worker
process (with beat), sharing one set of settings, against the simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.settings import PollPolicy, Settings
from orchestrator.storage import S3Storage, build_storage
from tests import services
from tests.factories import Tenant
from tests.processes import WorkerProcess, celery_worker
from workers.simulator import Simulator


class Stack:
    """A running API server and worker sharing one set of settings."""

    def __init__(self, settings: Settings, api_url: str, worker: WorkerProcess) -> None:
        self.settings = settings
        self.api = httpx.Client(base_url=api_url, timeout=10)
        self.worker = worker

    def create(self, tenant: Tenant, body: dict[str, Any]) -> str:
        response = self.api.post("/v1/jobs", json=body, headers=tenant.headers)
        assert response.status_code == 202, response.text
        return str(response.json()["job_id"])

    def wait_for_end(self, tenant: Tenant, job_id: str, timeout: float = 60) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            job: dict[str, Any] = self.api.get(f"/v1/jobs/{job_id}", headers=tenant.headers).json()
            return job if job["status"] in {"succeeded", "failed", "cancelled", "expired"} else None

        result: dict[str, Any] = services.wait_until(
            ended, timeout=timeout, interval=0.05, message=f"job {job_id} ends"
        )
        return result


@pytest.fixture
def start_stack(
    make_settings: Callable[..., Settings],
    db: Database,
    broker: redis.Redis,
    tmp_path: Path,
    simulator: Simulator,  # reset: a stack never inherits what an earlier test configured upstream
) -> Iterator[Callable[..., Stack]]:
    started: list[Any] = []

    def start(*, worker_pool: str = "prefork", worker_concurrency: int = 2, **overrides: Any) -> Stack:
        """A stack on settings with these overrides; its worker runs Celery's `worker_pool`."""
        sock = services.listening_socket()  # held from now on: the port in the settings stays ours
        values: dict[str, Any] = {
            "public_base_url": f"http://127.0.0.1:{sock.getsockname()[1]}",
            "poll": {"default": PollPolicy(initial_s=0.2, factor=1.0, max_s=0.2)},
            **overrides,
        }
        settings = make_settings(**values)
        storage = build_storage(settings)
        if isinstance(storage, S3Storage):
            storage.ensure_bucket()
        server = services.ThreadedServer(create_app(settings), sock).start()
        started.append(server)
        log = tmp_path / f"worker-{len(started)}.log"
        worker = celery_worker(settings, log, pool=worker_pool, concurrency=worker_concurrency)
        process = worker.__enter__()
        started.append(worker)
        stack = Stack(settings, server.url, process)
        started.append(stack)
        return stack

    yield start
    for resource in reversed(started):
        if isinstance(resource, services.ThreadedServer):
            resource.stop()
        elif isinstance(resource, Stack):
            resource.api.close()
        else:
            resource.__exit__(None, None, None)
