"""genrelay on three hosts sharing nothing but PostgreSQL, the broker and the bucket: 1,000 jobs, one
host SIGKILLed whole mid-run and another cut off the network for 30 s. At the end every job has ended,
no job was created upstream twice, `genrelay ledger check` is clean, and the surviving hosts did the
work. Run alone with `make hosts-test`; it needs root (network namespaces)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import func, select

from orchestrator.db import Database
from orchestrator.models import Job
from orchestrator.settings import PollPolicy, Settings
from orchestrator.storage import build_storage
from tests import services
from tests.conftest import CREDITS
from tests.factories import Tenant, kling_request
from tests.hosts import Host, network
from tests.pgbouncer import PgBouncer
from tests.processes import process_env
from workers.providers.simulation.scripts import Outcome
from workers.simulator import SimConfig, Simulator
from workers.simulator import create_app as create_simulator_app

pytestmark = [pytest.mark.hosts, pytest.mark.e2e, pytest.mark.timeout(900)]
JOBS = 1000
CUT_S = 30.0
# Jobs that run upstream until the cut host is seen working again, so job work is left for it however
# long its connections take to come back (the kernel's next retransmission: a second or a minute).
HELD = 100
TERMINAL = ("succeeded", "failed", "cancelled", "expired")
# Celery's line for each task a worker finished, whatever the log format.
TASK_DONE = re.compile(r"Task [\w.]+\[[0-9a-f-]+\] (succeeded|raised|retry)")


def bound_socket(address: str) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, 0))
    sock.listen(512)
    return sock


def worker_argv(name: str, beat: bool) -> list[str]:
    argv = [sys.executable, "-m", "orchestrator.cli", "worker", "-n", f"{name}@%h", "-c", "4"]
    return [*argv, "-B"] if beat else argv


def job_states(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
    return {state: n for state, n in rows}


def tasks_done(log_path: Path) -> int:
    return len(TASK_DONE.findall(log_path.read_text(errors="replace"))) if log_path.exists() else 0


def test_hosts_one_killed_and_one_cut_off_mid_run_every_job_ends_once_with_credits_right(
    make_settings: Callable[..., Settings],
    database_url: str,
    db: Database,
    make_tenant: Callable[..., Tenant],
    tmp_path: Path,
) -> None:
    # A simulator of this test's own, on the bridge: its callbacks go to the first host, which is gone
    # afterwards. Every job runs upstream for seconds, so the kill and the cut land on work in flight.
    simulator = Simulator(SimConfig(speed=0.02, seed=7))
    with network(3) as lab:
        database = urlparse(database_url).path.lstrip("/")
        # A worker cut off halfway through a transaction loses it after 10 s rather than holding its rows
        # (the tenant's balance, which each of the tenant's creates updates) for all of the cut.
        bouncer = PgBouncer(
            database_url,
            listen_addr=lab.gateway,
            session_databases=(database,),
            idle_transaction_timeout_s=10,
        )
        port = services.free_port()
        # Not in protected mode, which refuses every host but its own: the bridge is this test's.
        redis_argv = ["--bind", lab.gateway, "--port", str(port), "--save", "", "--protected-mode", "no"]
        broker = subprocess.Popen(
            ["redis-server", *redis_argv], stdout=subprocess.DEVNULL, start_new_session=True
        )
        s3 = ThreadedMotoServer(ip_address=lab.gateway, port=0, verbose=False)
        s3.start()
        upstream = services.ThreadedServer(create_simulator_app(simulator), bound_socket(lab.gateway))
        try:
            upstream.start()
            settings = make_settings(
                database_url=bouncer.url(database),
                database_pooling="transaction",
                database_listen_url=bouncer.url(f"{database}_session"),
                broker_url=f"redis://{lab.gateway}:{port}/0",
                upstream_base_url=f"http://{lab.gateway}:{upstream.port}",
                api_host=lab.hosts[0].address,
                api_port=8000,
                public_base_url=f"http://{lab.hosts[0].address}:8000",
                storage_backend="s3",
                s3_bucket="hosts-test",
                s3_endpoint_url="http://{}:{}".format(*s3.get_host_and_port()),
                s3_access_key_id="test",
                s3_secret_access_key="test",
                s3_addressing_style="path",
                poll={"default": PollPolicy(initial_s=0.5, factor=1.5, max_s=3.0)},
                upstream_timeout_s=3.0,
                submit_lease_s=10.0,
                store_lease_s=10.0,  # the killed host's stores are taken over soon
                deadline_s={"default": 600.0},
                rate_limit_rps=10_000,
                max_open_jobs=10 * JOBS,
            )
            build_storage(settings).ensure_bucket()  # type: ignore[union-attr]
            report = run(lab.hosts, settings, db, make_tenant(credits=10_000 * CREDITS), simulator, tmp_path)
        finally:
            upstream.stop()
            s3.stop()
            broker.terminate()
            broker.wait(timeout=20)
            bouncer.stop()
    check_report(report)


@dataclass
class Report:
    states: dict[str, int]
    creates: int
    jobs_upstream: int
    duplicate_external_ids: int
    ledger_check: subprocess.CompletedProcess[str]
    tasks: dict[str, int]
    tasks_after_the_kill: dict[str, int]
    killed: str
    killed_processes: int
    cut: str
    rejoined_s: float  # from the link coming back to the cut host's first finished task
    seconds: float


def run(
    hosts: list[Host], settings: Settings, db: Database, tenant: Tenant, simulator: Simulator, tmp_path: Path
) -> Report:
    first, second, third = hosts
    env = process_env(settings)
    started = time.monotonic()
    logs = {host.name: tmp_path / f"{host.name}-worker.log" for host in hosts}
    first.start([sys.executable, "-m", "orchestrator.cli", "api"], env, tmp_path / "api.log")
    for host in hosts:  # beat on the first host only: one beat per deployment
        host.start(worker_argv(host.name, beat=host is first), env, logs[host.name])
    with httpx.Client(base_url=settings.public_base_url, timeout=30) as api:
        services.wait_until(lambda: _answers(api), timeout=60, message=(tmp_path / "api.log").read_text)
        for log in logs.values():
            services.wait_until(lambda log=log: "ready." in log.read_text(errors="replace"), timeout=60)

        def create(n: int) -> None:
            response = api.post("/v1/jobs", json=kling_request(prompt=f"shot {n}"), headers=tenant.headers)
            assert response.status_code == 202, response.text

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(create, range(JOBS // 2)))
            # Half the jobs are in: the second host loses power, the third its network.
            killed_processes = second.kill_everything()
            at_kill = {name: tasks_done(path) for name, path in logs.items()}
            third.cut()
            mend = threading.Timer(CUT_S, third.mend)
            mend.start()
            try:
                simulator.script("kling", [Outcome(result="succeed", held=True)] * HELD)
                list(pool.map(create, range(JOBS // 2, JOBS)))
            finally:
                mend.join()
    mended = time.monotonic()
    at_mend = tasks_done(logs[third.name])
    services.wait_until(
        lambda: tasks_done(logs[third.name]) > at_mend,
        timeout=300,
        interval=0.5,
        message=lambda: f"{third.name} works again after its link came back; jobs now {job_states(db)}",
    )
    rejoined_s = time.monotonic() - mended
    simulator.release("kling")
    services.wait_until(
        lambda: sum(job_states(db).get(state, 0) for state in TERMINAL) == JOBS,
        timeout=600,
        interval=1.0,
        message=lambda: f"every job ends; now {job_states(db)}",
    )
    stats = simulator.stats()["kling"]
    with db.transaction() as session:
        upstream = session.execute(
            select(func.count()).select_from(Job).where(Job.external_id.is_not(None))
        ).scalar_one()
    check = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "ledger", "check"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    tasks = {name: tasks_done(path) for name, path in logs.items()}
    return Report(
        states=job_states(db),
        creates=stats.creates,
        jobs_upstream=upstream,
        duplicate_external_ids=stats.duplicate_external_ids,
        ledger_check=check,
        tasks=tasks,
        tasks_after_the_kill={name: tasks[name] - at_kill[name] for name in tasks},
        killed=second.name,
        killed_processes=killed_processes,
        cut=third.name,
        rejoined_s=rejoined_s,
        seconds=time.monotonic() - started,
    )


def _answers(api: httpx.Client) -> bool:
    try:
        return api.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False


def check_report(report: Report) -> None:
    print(
        f"\nhosts test: {JOBS} jobs on 3 hosts in {report.seconds:.0f} s; {report.killed} SIGKILLed "
        f"({report.killed_processes} processes) with half the jobs in, {report.cut} cut off "
        f"for {CUT_S:.0f} s and working again {report.rejoined_s:.0f} s after its link came back\n"
        f"  ended: {report.states}\n"
        f"  upstream: {report.creates} tasks created for {report.jobs_upstream} jobs that reached it, "
        f"duplicate external ids refused {report.duplicate_external_ids}\n"
        f"  genrelay ledger check: exit {report.ledger_check.returncode}\n"
        f"  tasks per host: {report.tasks}; after the kill: {report.tasks_after_the_kill}"
    )
    assert sum(report.states.get(state, 0) for state in TERMINAL) == JOBS
    assert report.creates == report.jobs_upstream  # one upstream task per job: none created twice
    assert report.ledger_check.returncode == 0, report.ledger_check.stdout + report.ledger_check.stderr
    assert report.killed_processes > 0
    assert report.tasks_after_the_kill[report.killed] == 0  # nothing ran there once it was gone
    survivors = [name for name in report.tasks if name != report.killed]
    assert all(report.tasks_after_the_kill[name] > 0 for name in survivors)  # both carried on
