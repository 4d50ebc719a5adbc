"""End to end: the API and the simulator as real HTTP servers, and a real Celery worker process
(with beat) doing the work, from `POST /v1/jobs` to a stored output and a settled hold."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from standardwebhooks import Webhook

from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.settings import PollPolicy, Settings
from tests import services
from tests.conftest import CREDITS, Tenant
from tests.factories import kling_request
from tests.processes import celery_worker, settings_env
from tests.receivers import running_receiver
from tests.stack import Stack
from workers.simulator import Outcome, Simulator

pytestmark = [pytest.mark.e2e, pytest.mark.deployments]
PRICE = 200_000
DEAD_BROKER = {
    "redis": lambda port: f"redis://127.0.0.1:{port}/0",
    "rabbitmq": lambda port: f"amqp://guest:guest@127.0.0.1:{port}//",
}


def ledger_check(settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings_env(settings)}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "ledger", "check"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_e2e_job_succeeds_through_a_real_worker_and_is_charged_once(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator, db: Database
) -> None:
    simulator.configure(speed=0.01)
    stack = start_stack()
    job_id = stack.create(tenant, kling_request())
    job = stack.wait_for_end(tenant, job_id)
    assert job["status"] == "succeeded", job
    assert (job["price"], job["charged"], job["progress"]) == (PRICE, PRICE, 100)
    [output] = job["outputs"]
    download = httpx.get(output["url"])
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == output["sha256"]
    assert len(download.content) == output["size_bytes"] == simulator.config.file_size
    assert output["content_type"] == "video/mp4"
    assert output["url"].startswith(stack.settings.public_base_url)  # ours, never the upstream's
    account = stack.api.get("/v1/account", headers=tenant.headers).json()
    assert (account["balance"], account["held"]) == (100 * CREDITS - PRICE, 0)
    assert simulator.stats()["kling"].creates == 1
    statuses = [
        e["to_status"]
        for e in stack.api.get(f"/v1/jobs/{job_id}/events", headers=tenant.headers).json()["data"]
    ]
    assert statuses[0] == "queued"
    assert statuses[-2:] == ["storing", "succeeded"]
    check = ledger_check(stack.settings)
    assert check.returncode == 0, check.stderr
    assert "ledger check passed" in check.stdout


def test_e2e_a_threads_pool_worker_runs_jobs_at_once_each_charged_once(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    """The threads pool shares one process's database pool, HTTP client and broker producers between
    its threads: jobs running on them at once end as on prefork, each charged once."""
    simulator.configure(speed=0.01)
    simulator.script("kling", [Outcome(result="fail", message="no")] * 2)
    stack = start_stack(worker_pool="threads", worker_concurrency=4)
    assert "(thread)" in stack.worker.log  # Celery's banner: "concurrency: 4 (thread)"
    job_ids = [stack.create(tenant, kling_request(prompt=f"shot {n}")) for n in range(12)]
    jobs = [stack.wait_for_end(tenant, job_id) for job_id in job_ids]
    assert sorted(job["status"] for job in jobs) == ["failed"] * 2 + ["succeeded"] * 10
    assert all(job["charged"] == (PRICE if job["status"] == "succeeded" else 0) for job in jobs)
    account = stack.api.get("/v1/account", headers=tenant.headers).json()
    assert (account["balance"], account["held"]) == (100 * CREDITS - 10 * PRICE, 0)
    assert simulator.stats()["kling"].creates == 12
    check = ledger_check(stack.settings)
    assert check.returncode == 0, check.stderr


def test_e2e_a_create_that_prefers_to_wait_is_answered_with_the_finished_job(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    simulator.configure(speed=0.01)
    stack = start_stack()
    headers = {**tenant.headers, "Prefer": "wait=60"}
    answer = stack.api.post("/v1/jobs", json=kling_request(), headers=headers, timeout=90)
    assert answer.status_code == 202, answer.text
    assert answer.headers["preference-applied"] == "wait=60"
    job = answer.json()
    assert (job["status"], job["charged"], len(job["outputs"])) == ("succeeded", PRICE, 1)
    assert httpx.get(job["outputs"][0]["url"]).status_code == 200


def test_e2e_upstream_failure_releases_and_ledger_check_catches_corruption(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator, db: Database
) -> None:
    simulator.configure(speed=0.01)
    simulator.script("kling", [Outcome(result="fail", message="GPU fell over")])
    stack = start_stack()
    job = stack.wait_for_end(tenant, stack.create(tenant, kling_request()))
    assert job["status"] == "failed"
    assert job["error"] == {
        "code": "upstream_failed",
        "message": "GPU fell over",
        "retryable": True,
        "provider": {"code": None, "message": "GPU fell over"},
    }
    assert job["charged"] == 0
    assert stack.api.get("/v1/account", headers=tenant.headers).json()["held"] == 0
    assert ledger_check(stack.settings).returncode == 0
    with db.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE holds SET state = 'captured'")
    check = ledger_check(stack.settings)
    assert check.returncode == 1
    assert "BREACH hold_state_follows_job_state" in check.stderr


def test_e2e_callbacks_finish_the_job_with_zero_polls(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    simulator.configure(speed=0.02)
    stack = start_stack(
        poll={"default": PollPolicy(initial_s=3.0, factor=1.0, max_s=3.0)},
        callback_poll=PollPolicy(initial_s=30.0, factor=1.0, max_s=30.0),
    )
    job_id = stack.create(tenant, kling_request())
    job = stack.wait_for_end(tenant, job_id, timeout=30)
    assert job["status"] == "succeeded"
    task = simulator.task_by_external_id(job_id)
    assert task is not None
    assert simulator.stats()["kling"].queries_by_task.get(task.task_id, 0) == 0
    assert simulator.stats()["kling"].callbacks_sent >= 2


def test_e2e_dropped_callbacks_still_finish_by_polling(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    simulator.configure(speed=0.01, drop_callbacks=True)
    stack = start_stack()
    job = stack.wait_for_end(tenant, stack.create(tenant, kling_request()))
    assert job["status"] == "succeeded"
    assert simulator.stats()["kling"].callbacks_sent == 0
    assert simulator.stats()["kling"].queries >= 1


def test_e2e_outputs_land_in_s3_and_are_served_presigned(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator, s3_endpoint: str
) -> None:
    simulator.configure(speed=0.01)
    stack = start_stack(
        storage_backend="s3",
        s3_bucket="e2e-results",
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id="test",
        s3_secret_access_key="test",
        s3_addressing_style="path",
    )
    job = stack.wait_for_end(tenant, stack.create(tenant, kling_request()))
    assert job["status"] == "succeeded", job
    [output] = job["outputs"]
    assert output["url"].startswith(s3_endpoint)
    assert "X-Amz-Signature=" in output["url"]
    download = httpx.get(output["url"])
    assert hashlib.sha256(download.content).hexdigest() == output["sha256"]


def test_e2e_job_accepted_while_the_broker_is_down_is_dispatched_by_the_sweep(
    make_settings: Callable[..., Settings],
    tenant: Tenant,
    simulator: Simulator,
    broker: redis.Redis,
    broker_kind: str,
    tmp_path: Path,
) -> None:
    simulator.configure(speed=0.01)
    sock = services.listening_socket()  # held from now on: the port in public_base_url stays ours
    worker_settings = make_settings(public_base_url=f"http://127.0.0.1:{sock.getsockname()[1]}")
    with (
        services.closed_port() as dead_port,  # refuses connections, and nothing else can bind it
        services.serving(
            create_app(
                worker_settings.model_copy(update={"broker_url": DEAD_BROKER[broker_kind](dead_port)})
            ),
            sock,
        ) as server,
        httpx.Client(base_url=server.url) as api,
    ):
        assert api.get("/readyz").json()["checks"]["broker"] == "unreachable"
        response = api.post("/v1/jobs", json=kling_request(), headers=tenant.headers)
        assert response.status_code == 202  # the job and its hold are committed; the publish was lost
        job_id = response.json()["job_id"]
        assert api.get(f"/v1/jobs/{job_id}", headers=tenant.headers).json()["status"] == "queued"
        with celery_worker(worker_settings, tmp_path / "worker.log"):
            job = services.wait_until(
                lambda: (
                    (body := api.get(f"/v1/jobs/{job_id}", headers=tenant.headers).json())["status"]
                    == "succeeded"
                    and body
                ),
                timeout=60,
            )
    assert job["charged"] == PRICE


def test_e2e_worker_refuses_an_unmigrated_database(
    make_settings: Callable[..., Settings], empty_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url=empty_database_url)
    with (
        pytest.raises(RuntimeError, match=r"run `genrelay db upgrade` first"),
        celery_worker(settings, tmp_path / "worker.log"),
    ):
        pass


def test_e2e_tenant_webhooks_arrive_signed_in_order_with_downloadable_results(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    simulator.configure(speed=0.01, duplicate_callback_rate=1.0, reorder_callbacks=True)
    with running_receiver() as receiver:
        stack = start_stack(webhook_allowlist=["127.0.0.1"])
        job_id = stack.create(tenant, kling_request(callback_url=receiver.url))
        assert stack.wait_for_end(tenant, job_id)["status"] == "succeeded"
        secret = stack.api.get("/v1/webhooks/secrets", headers=tenant.headers).json()["data"][0]["secret"]

        def terminal_event_received() -> list[dict[str, Any]] | None:
            bodies = [Webhook(secret).verify(r.body, r.headers) for r in list(receiver.received)]
            return bodies if any(b["type"] == "job.succeeded" for b in bodies) else None

        bodies = services.wait_until(terminal_event_received, timeout=30)

        # The receiver records a request before it answers; the worker records the delivery only once
        # it has the answer. Wait for that record (with the receiver still up) rather than race it.
        def all_delivered() -> list[dict[str, Any]] | None:
            deliveries: list[dict[str, Any]] = stack.api.get(
                f"/v1/jobs/{job_id}/deliveries", headers=tenant.headers
            ).json()["data"]
            return deliveries if {d["state"] for d in deliveries} == {"delivered"} else None

        deliveries = services.wait_until(all_delivered, timeout=30, message="every delivery recorded")
        bodies = terminal_event_received() or []  # now every event of the job, each at least once
    assert {d["event_id"] for d in deliveries} <= {r.headers["webhook-id"] for r in receiver.received}
    by_sequence = {body["sequence"]: body for body in bodies}
    types = [by_sequence[n]["type"] for n in sorted(by_sequence)]
    assert types[0] == "job.queued"
    assert types[-1] == "job.succeeded"
    assert "job.failed" not in types  # reordered upstream callbacks never moved the job backwards
    [output] = by_sequence[max(by_sequence)]["data"]["outputs"]
    assert httpx.get(output["url"]).status_code == 200


def test_e2e_a_server_side_batch_runs_to_its_results_and_one_signed_webhook(
    start_stack: Callable[..., Stack], tenant: Tenant, simulator: Simulator
) -> None:
    simulator.configure(speed=0.01)
    lines = [{"custom_id": f"shot-{n}", "body": kling_request(f"shot {n}")} for n in range(4)]
    upload = "".join(json.dumps(line) + "\n" for line in lines).encode()
    with running_receiver() as receiver:
        stack = start_stack(webhook_allowlist=["127.0.0.1"])
        headers = {**tenant.headers, "Content-Type": "application/jsonl"}
        created = stack.api.post(f"/v1/batches?callback_url={receiver.url}", content=upload, headers=headers)
        assert created.status_code == 202, created.text
        batch_id = created.json()["batch_id"]

        def ended() -> dict[str, Any] | None:
            batch: dict[str, Any] = stack.api.get(f"/v1/batches/{batch_id}", headers=tenant.headers).json()
            return batch if batch["status"] == "completed" else None

        batch = services.wait_until(ended, timeout=90, message="the batch completes")
        secret = stack.api.get("/v1/webhooks/secrets", headers=tenant.headers).json()["data"][0]["secret"]
        hooks = services.wait_until(lambda: list(receiver.received), timeout=30, message="its webhook")
    assert batch["request_counts"]["succeeded"] == 4
    assert batch["charged"] == 4 * PRICE
    [hook] = [Webhook(secret).verify(r.body, r.headers) for r in hooks]
    assert (hook["type"], hook["data"]["batch_id"]) == ("batch.completed", batch_id)
    results = stack.api.get(f"/v1/batches/{batch_id}/results", headers=tenant.headers).text.splitlines()
    rows = [json.loads(row) for row in results]
    assert [(r["custom_id"], r["status"], r["charged"]) for r in rows] == [
        (f"shot-{n}", "succeeded", PRICE) for n in range(4)
    ]
    assert httpx.get(rows[0]["outputs"][0]["url"]).status_code == 200
