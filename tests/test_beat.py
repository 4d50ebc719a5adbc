"""Beat, and noticing when it is gone: `genrelay beat` runs without a data folder, and a sweep that
stopped coming (or never came) shows in /readyz (and /metrics, see test_metrics)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import redis
from fastapi.testclient import TestClient
from sqlalchemy import text

from orchestrator import messaging
from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.pipeline import sweeping
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


def _readiness(client: TestClient) -> tuple[int, str]:
    response = client.get("/readyz")
    return response.status_code, response.json()["checks"]["sweep"]


def test_readyz_gives_a_first_sweep_time_then_fails_without_one(
    make_settings: Callable[..., Settings], db: Database, broker: redis.Redis
) -> None:
    app = create_app(make_settings(sweep_stale_after_s=60))
    with TestClient(app) as client:
        assert _readiness(client) == (200, "waiting: no sweep has run yet")
        app.state.context.started -= 120  # as if the API had been up two minutes, no sweep yet
        status, sweep = _readiness(client)
        assert status == 503
        assert sweep.startswith("never: no sweep has run in the ")
        assert client.get("/readyz").json()["status"] == "not_ready"
        with db.transaction() as session:
            sweeping.record_sweep(session)
        assert _readiness(client) == (200, "ok")


def test_readyz_fails_while_the_last_sweep_is_stale(
    make_settings: Callable[..., Settings], db: Database, broker: redis.Redis
) -> None:
    settings = make_settings()
    dispatcher = messaging.Dispatcher(settings.require_broker_url(), settings.broker_key_prefix)
    with TestClient(create_app(settings)) as client:
        sweeping.sweep(db, dispatcher, settings)
        assert _readiness(client) == (200, "ok")
        with db.transaction() as session:  # beat died two minutes ago
            session.execute(text("UPDATE sweep_state SET last_swept_at = now() - interval '120 seconds'"))
        status, sweep = _readiness(client)
        assert status == 503
        assert sweep == "stale: the last sweep ran 120 s ago"
        sweeping.sweep(db, dispatcher, settings)  # beat is back
        assert _readiness(client) == (200, "ok")
    dispatcher.close()
