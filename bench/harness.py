"""The processes of a benchmark run: genrelay's API, workers and beat as `genrelay` commands and the
simulator, each a real subprocess with its log in a file, configured from one `Settings`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.services import Services
from orchestrator.cli.runner import worker_queues
from orchestrator.settings import Settings
from tests.processes import settings_env
from tests.services import free_port

PYTHON = sys.executable
# Inherited variables that would override the run's own settings in a child process.
OVERRIDING = ("GENRELAY_", "S3_")
OVERRIDING_NAMES = {"DATABASE_URL", "BROKER_URL", "STORAGE_BACKEND"}


def child_env(settings: Settings | None = None, **extra: str) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(OVERRIDING) and name not in OVERRIDING_NAMES
    }
    return {**inherited, **(settings_env(settings) if settings else {}), **extra}


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Processes:
    """Child processes of one run, each in its own session with its log in a file; all stopped at exit."""

    log_dir: Path
    children: dict[str, Child] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        child = Child(name, process, log_path)
        self.children[name] = child
        return child

    def pids(self, prefix: str = "") -> dict[str, int | None]:
        return {name: c.pid for name, c in self.children.items() if name.startswith(prefix)}

    def check_alive(self) -> None:
        for child in self.children.values():
            if child.process.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited ({child.process.returncode}):\n{child.log()[-3000:]}"
                )

    def wait_for_log(self, name: str, text: str, timeout: float = 60) -> None:
        child, deadline = self.children[name], time.monotonic() + timeout
        while text not in child.log():
            if child.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not log {text!r}:\n{child.log()[-3000:]}")
            time.sleep(0.05)

    def stop(self, name: str, timeout: float = 20) -> None:
        child = self.children.pop(name)
        if child.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
        try:
            child.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.process.wait()

    def stop_all(self) -> None:
        for name in reversed(list(self.children)):
            self.stop(name)


@contextmanager
def processes(svc: Services, group: str) -> Iterator[Processes]:
    procs = Processes(svc.work_dir / "logs" / group)
    try:
        yield procs
    finally:
        procs.stop_all()


POOLS = ("prefork", "threads")  # the Celery pools a bench can give its workers


@dataclass(frozen=True)
class Shape:
    """How many genrelay processes a run starts."""

    api_workers: int = 0  # uvicorn processes; 0: no API
    workers: int = 0  # celery worker processes, each with a pool of `concurrency`
    concurrency: int = 4  # pool processes (prefork) or threads per worker
    beat: bool = False
    pool: str = "prefork"  # the workers' Celery pool: prefork or threads

    def describe_workers(self) -> str:
        return f"{self.workers} worker{'s' if self.workers != 1 else ''} x {self.pool} {self.concurrency}"


def start_genrelay(procs: Processes, settings: Settings, shape: Shape, tag: str = "") -> str:
    """Start the API, workers and beat as `genrelay` commands; returns the API's URL once all are ready."""
    env = child_env(settings)
    cli = [PYTHON, "-m", "orchestrator.cli"]
    if shape.api_workers:
        procs.start(f"{tag}api", [*cli, "api", "--workers", str(shape.api_workers)], env)
    for index in range(shape.workers):
        argv = [*cli, "worker", "-Q", worker_queues(), "-c", str(shape.concurrency), "--pool", shape.pool]
        procs.start(f"{tag}worker-{index}", [*argv, "-n", f"bench-{tag}{index}-{os.getpid()}@%h"], env)
    if shape.beat:
        procs.start(f"{tag}beat", [*cli, "beat", "-s", str(settings.data_dir / "beat-schedule")], env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for index in range(shape.workers):
        procs.wait_for_log(f"{tag}worker-{index}", "ready.")
    url = f"http://127.0.0.1:{settings.api_port}"
    if shape.api_workers:
        wait_http(f"{url}/readyz", procs)
    return url


def start_simulator(procs: Processes, speed: float = 0.0, **config: Any) -> str:
    """The simulator as its own process (its CPU apart from genrelay's); `config` goes to /_sim/config."""
    port = free_port()
    argv = [PYTHON, "-m", "workers.simulator", "--port", str(port), "--speed", str(speed), "--seed", "7"]
    procs.start("simulator", argv, child_env())
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/_sim/config", procs)
    if config:
        httpx.post(f"{url}/_sim/config", json=config, timeout=10).raise_for_status()
    return url


def wait_http(url: str, procs: Processes, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check_alive()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f}s")
