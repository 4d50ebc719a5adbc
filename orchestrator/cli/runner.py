"""`genrelay run`: the whole system on one machine — embedded PostgreSQL and Redis unless
DATABASE_URL / BROKER_URL are set, the simulator as upstream, the API, a worker and beat."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import FrameType

import httpx

from orchestrator.cli import demo, embedded
from orchestrator.db import Database, upgrade
from orchestrator.messaging import DELIVER_TASK, STORE_TASK, SWEEP_TASK, poll_task, submit_task
from orchestrator.pricing import load_price_table
from orchestrator.settings import Settings
from workers.providers import PROVIDERS


@dataclass
class Supervisor:
    """Starts child processes, and stops all of them when one dies or on Ctrl-C."""

    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    stopping: bool = False

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.children[name] = subprocess.Popen(argv, env=env, start_new_session=True)  # noqa: S603

    def wait(self) -> int:
        while not self.stopping:
            for name, child in self.children.items():
                if child.poll() is not None:
                    print(
                        f"genrelay: {name} exited with status {child.returncode}; stopping",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.2)
        return 0

    def stop(self, timeout: float = 15.0) -> None:
        self.stopping = True
        for child in self.children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def child_env(settings: Settings, database_url: str, broker_url: str, simulator_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        BROKER_URL=broker_url,
        GENRELAY_DATA_DIR=str(settings.data_dir),
        GENRELAY_UPSTREAM_BASE_URL=simulator_url,
        GENRELAY_PUBLIC_BASE_URL=settings.public_base_url,
        GENRELAY_API_PORT=str(settings.api_port),
        GENRELAY_API_HOST=settings.api_host,
    )
    return env


def worker_queues() -> str:
    queues = [STORE_TASK, SWEEP_TASK, DELIVER_TASK]
    for provider in PROVIDERS:
        queues += [submit_task(provider), poll_task(provider)]
    return ",".join(queues)


def wait_ready(url: str, supervisor: Supervisor, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not supervisor.stopping:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API at {url} did not become ready within {timeout:.0f}s")


def banner(api_url: str, api_key: str) -> str:
    body = (
        '{"provider":"kling","operation":"text2video","model":"kling-v1-6",'
        '"input":{"prompt":"a paper boat on a lake"}}'
    )
    return (
        f"\ngenrelay is running\n"
        f"  API      {api_url}   (docs: {api_url}/docs)\n"
        f"  API key  {api_key}   (demo account, 1000 credits)\n\n"
        f"Create a job:\n"
        f"  curl -s {api_url}/v1/jobs -H 'Authorization: Bearer {api_key}' "
        f"-H 'Content-Type: application/json' -d '{body}'\n"
        f"Then follow it (its outputs[].url downloads the result):\n"
        f"  curl -s {api_url}/v1/jobs/<job_id> -H 'Authorization: Bearer {api_key}'\n\n"
        f"Ctrl-C stops everything.\n"
    )


def run(settings: Settings, simulator_speed: float, *, demo_jobs: bool = True) -> int:
    python = sys.executable
    with ExitStack() as stack:
        database_url = settings.database_url or embedded.start_postgres(settings.data_dir, stack)
        broker_url = settings.broker_url or embedded.start_redis(settings.data_dir, stack)
        upgrade(database_url)
        db = Database(database_url, pool_size=1)
        api_key = demo.ensure_demo_key(db, settings.data_dir / "demo-api-key")
        db.dispose()
        simulator_url = f"http://127.0.0.1:{settings.simulator_port}"
        env = child_env(settings, database_url, broker_url, simulator_url)
        supervisor = Supervisor()
        stack.callback(supervisor.stop)

        def on_signal(signum: int, _: FrameType | None) -> None:
            supervisor.stopping = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        celery = [python, "-m", "celery", "-A", "workers.celery_app"]
        supervisor.start(
            "simulator",
            [
                python,
                "-m",
                "workers.simulator",
                "--port",
                str(settings.simulator_port),
                "--speed",
                str(simulator_speed),
            ],
            env,
        )
        supervisor.start("api", [python, "-m", "orchestrator.cli", "api"], env)
        supervisor.start("worker", [*celery, "worker", "-Q", worker_queues(), "-c", "2", "-l", "INFO"], env)
        supervisor.start("beat", [*celery, "beat", "-l", "WARNING"], env)
        flower_password = secrets.token_urlsafe(12)
        flower_env = {**env, "GENRELAY_FLOWER_USER": "admin", "GENRELAY_FLOWER_PASSWORD": flower_password}
        supervisor.start("flower", [python, "-m", "orchestrator.cli", "flower"], flower_env)
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        wait_ready(api_url, supervisor)
        flower_url = f"http://{settings.flower_host}:{settings.flower_port}"
        print(banner(api_url, api_key) + f"Flower   {flower_url}   (admin / {flower_password})\n", flush=True)
        if demo_jobs:
            prices = load_price_table(settings.prices_path)
            threading.Thread(
                target=demo.run_demo_jobs, args=(api_url, api_key, prices, _say), daemon=True
            ).start()
        return supervisor.wait()


def _say(line: str) -> None:
    print(line, flush=True)
