"""A canary prompt through a whole job, on a real worker: it reaches no log line (API or worker), no
broker message, no metric and no error body, and once the job's data is deleted no table of the
database and no stored file holds it."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import text

from orchestrator import logs
from orchestrator.db import Database
from tests.conftest import BROKER_PREFIX, Tenant
from tests.factories import kling_request
from tests.stack import Stack
from workers.simulator import Simulator

pytestmark = pytest.mark.e2e
CANARY = "canary-9d41e2-a-lantern-under-snow"


@pytest.fixture
def api_log() -> Iterator[io.StringIO]:
    """Everything this process (the API server's threads) logs at INFO and above, as JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def holding(db: Database, needle: str) -> list[str]:
    with db.transaction() as session:
        names = session.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
        return [
            name
            for name in names.scalars()
            if session.scalar(
                text(f'SELECT count(*) FROM "{name}" t WHERE t::text LIKE :n'), {"n": f"%{needle}%"}
            )
        ]


def test_e2e_a_canary_prompt_reaches_no_log_message_metric_or_error_and_leaves_with_the_jobs_data(
    start_stack: Callable[..., Stack],
    tenant: Tenant,
    simulator: Simulator,
    db: Database,
    broker: redis.Redis,
    api_log: io.StringIO,
    tmp_path: Path,
) -> None:
    simulator.configure(speed=0.01)
    stack = start_stack()
    headers = {**tenant.headers, "Idempotency-Key": "canary"}
    created = stack.api.post(
        "/v1/jobs", json={**kling_request(prompt=CANARY), "metadata": {"note": CANARY}}, headers=headers
    )
    assert created.status_code == 202, created.text
    job_id = created.json()["job_id"]
    refused = stack.api.post(
        "/v1/jobs", json=kling_request(prompt=CANARY, duration="five"), headers=tenant.headers
    )
    assert refused.status_code == 422
    assert CANARY not in refused.text
    job = stack.wait_for_end(tenant, job_id)
    assert job["status"] == "succeeded", job

    seen = [
        stack.api.get(f"/v1/jobs/{job_id}", headers=tenant.headers).text,
        stack.api.get(f"/v1/jobs/{job_id}/events", headers=tenant.headers).text,
    ]
    assert CANARY in seen[0]  # its metadata, shown to its owner until deleted
    metrics = stack.api.get("/metrics")
    assert metrics.status_code == 200
    assert CANARY not in metrics.text
    worker_log = (tmp_path / "worker-1.log").read_text()
    assert "job_transition" in worker_log
    assert CANARY not in worker_log
    assert CANARY not in api_log.getvalue()
    for key in broker.scan_iter(f"{BROKER_PREFIX}*"):  # queues, results, events: what Flower reads
        value = broker.dump(key) or b""
        assert CANARY.encode() not in value, key

    storage_dir = stack.settings.storage_dir

    def stored() -> list[Path]:
        return [path for path in storage_dir.rglob("*") if path.is_file() and job_id in str(path)]

    assert len(stored()) == len(job["outputs"]) == 1
    deleted = stack.api.delete(f"/v1/jobs/{job_id}/data", headers=tenant.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["outputs"] == []
    assert holding(db, CANARY) == []
    assert stored() == []
