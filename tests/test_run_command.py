"""`genrelay run` on a machine with nothing configured: embedded PostgreSQL and Redis, the printed
curl completes a Kling job against the simulator, and SIGINT stops every process it started."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests import services
from tests.processes import interruptible

# Its waits add up to more than the suite-wide 120 s (embedded PostgreSQL, then eight demo jobs).
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_run_command_serves_the_printed_curl_and_stops_cleanly(tmp_path: Path) -> None:
    api_port, simulator_port, flower_port = (services.free_port() for _ in range(3))
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GENRELAY_", "S3_")) and name not in {"DATABASE_URL", "BROKER_URL"}
    }
    env.update(
        GENRELAY_DATA_DIR=str(tmp_path / "data"),
        GENRELAY_API_PORT=str(api_port),
        GENRELAY_SIMULATOR_PORT=str(simulator_port),
        GENRELAY_FLOWER_PORT=str(flower_port),  # not 5555: a `make run` or another session may hold it
        GENRELAY_PUBLIC_BASE_URL=f"http://127.0.0.1:{api_port}",
    )
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            interruptible([sys.executable, "-m", "orchestrator.cli", "run"]),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        banner = services.wait_until(
            lambda: "genrelay is running" in log_path.read_text() and log_path.read_text(),
            timeout=180,  # a safety net, not a measure: seven processes start on a possibly busy machine
            interval=0.2,
            message=lambda: f"genrelay run prints its banner; it printed:\n{log_path.read_text()[-4000:]}",
        )
        descendants = psutil.Process(process.pid).children(recursive=True)
        assert len(descendants) >= 4  # simulator, API, worker (+ pool), beat, and the embedded servers
        curl = next(
            line.strip()
            for line in banner.splitlines()
            if line.strip().startswith("curl -s") and "-d" in line
        )
        created = subprocess.run(shlex.split(curl), capture_output=True, text=True, check=True, timeout=30)
        job = httpx.Response(200, content=created.stdout).json()
        assert job["status"] == "queued"
        key = re.search(r"API key\s+(\S+)", banner)
        assert key is not None
        headers = {"Authorization": f"Bearer {key.group(1)}"}
        url = f"http://127.0.0.1:{api_port}/v1/jobs/{job['job_id']}"
        done = services.wait_until(
            lambda: (body := httpx.get(url, headers=headers).json())["status"] == "succeeded" and body,
            timeout=60,
            interval=0.2,
        )
        download = httpx.get(done["outputs"][0]["url"])
        assert download.status_code == 200
        assert len(download.content) == done["outputs"][0]["size_bytes"]
        providers = [
            "hailuo",
            "kling",
            "midjourney",
            "replicate",
            "runway",
            "seedance",
            "sora",
            "suno",
            "veo",
        ]

        def demo_finished() -> list[str]:
            lines = log_path.read_text().splitlines()
            ended = [line for line in lines if line.startswith("demo: ") and " after " in line]
            return ended if len(ended) >= len(providers) else []

        # Every job's own line, not a count of all demo lines (one of which announces the jobs).
        finished = services.wait_until(demo_finished, timeout=90, interval=0.5)
        assert sorted(line.split()[1] for line in finished) == providers
        assert all(" succeeded after " in line for line in finished), finished
        assert f"Flower   http://127.0.0.1:{flower_port}" in banner
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    deadline = time.monotonic() + 10
    while alive := [child for child in descendants if _alive(child)]:
        assert time.monotonic() < deadline, [_cmdline(child) for child in alive]
        time.sleep(0.1)


def _alive(process: psutil.Process) -> bool:
    """Running and not a zombie; a process that ends between the two questions is not alive."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cmdline(process: psutil.Process) -> list[str] | str:
    try:
        return process.cmdline()
    except psutil.Error:
        return f"pid {process.pid}"
