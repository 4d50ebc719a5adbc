"""Real genrelay processes for end-to-end tests: a Celery worker (with embedded beat) in a subprocess."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, SecretStr

from orchestrator.messaging import all_queues
from orchestrator.settings import Settings

# Restores SIGINT's default, then becomes the command (an ignored signal stays ignored across exec).
_INTERRUPTIBLE = "; ".join(
    (
        "import os, signal, sys",
        "signal.signal(signal.SIGINT, signal.SIG_DFL)",
        "os.execvp(sys.argv[1], sys.argv[1:])",
    )
)


def interruptible(command: list[str]) -> list[str]:
    """`command`, run so that SIGINT stops it as Ctrl-C would: a shell that runs the suite in the
    background (`make test-repeat &`, nohup) hands its children SIGINT ignored, and Python then never
    turns SIGINT into KeyboardInterrupt. (Not `preexec_fn`: the test process has threads.)"""
    return [sys.executable, "-c", _INTERRUPTIBLE, *command]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes another process build exactly these settings."""
    env: dict[str, str] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, dict):
            value = json.dumps(
                {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in value.items()}
            )
        elif isinstance(value, BaseModel):
            value = value.model_dump_json()
        elif isinstance(value, list):
            value = json.dumps(value)
        env[f"GENRELAY_{name.upper()}"] = str(value)
    return env


def process_env(settings: Settings) -> dict[str, str]:
    """This process's environment without any genrelay configuration of its own, plus `settings`."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GENRELAY_", "S3_"))
        and name not in {"DATABASE_URL", "BROKER_URL", "STORAGE_BACKEND"}
    }
    return {**inherited, **settings_env(settings)}


_WORKER_NUMBERS = itertools.count(1)


class WorkerProcess:
    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole worker (parent and pool children), as a crash would."""
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def celery_worker(
    settings: Settings, log_path: Path, *, beat: bool = True, concurrency: int = 2, pool: str = "prefork"
) -> Iterator[WorkerProcess]:
    """A real `celery worker` process on every genrelay queue, ready when this yields; `pool`: Celery's
    prefork (processes) or threads."""
    env = process_env(settings)
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.celery_app",
        "worker",
        "-Q",
        ",".join(all_queues()),
        "-c",
        str(concurrency),
        "--pool",
        pool,
        "-l",
        "INFO",
        "-n",
        # Unique per worker: on RabbitMQ, two workers of one name fight over its exclusive pidbox queue.
        f"test-{os.getpid()}-{next(_WORKER_NUMBERS)}@%h",
    ]
    if beat:
        argv += ["-B"]  # beat's schedule is in memory: no file, no data_dir needed
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    worker = WorkerProcess(process, log_path)
    try:
        deadline = time.monotonic() + 60
        while "ready." not in worker.log:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker did not start:\n{worker.log[-4000:]}")
            time.sleep(0.05)
        yield worker
    finally:
        worker.stop()
