"""Beat: `genrelay beat` runs without a data folder."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import redis

from orchestrator import messaging
from orchestrator.settings import Settings
from tests import services
from tests.conftest import BROKER_PREFIX
from tests.processes import process_env


def test_beat_runs_without_its_data_dir(
    make_settings: Callable[..., Settings], broker: redis.Redis, tmp_path: Path
) -> None:
    settings = make_settings(data_dir=tmp_path / "absent" / "data")
    log_path = tmp_path / "beat.log"
    with (
        log_path.open("wb") as log,
        subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", "beat"],
            env=process_env(settings),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        ) as beat,
    ):
        try:

            def sweeps_sent() -> bool:
                assert beat.poll() is None, f"beat exited:\n{log_path.read_text()[-4000:]}"
                return int(broker.llen(f"{BROKER_PREFIX}{messaging.SWEEP_TASK}")) >= 3

            services.wait_until(sweeps_sent, timeout=30, message="beat sends sweeps")
        finally:
            # Killed, not terminated: celery beat can lose a SIGTERM that lands while it reads Redis's
            # answer to a publish (it then logs a SchedulingError and runs on), and shutdown is not
            # what this test is about.
            beat.kill()
            beat.wait(timeout=20)
    # No schedule file, neither under the data folder nor in the working directory.
    assert [path.name for path in tmp_path.iterdir()] == ["beat.log"]
