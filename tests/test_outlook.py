"""An unfinished job's outlook: its place in its provider's first-in-first-out queue while it waits for
capacity, and its estimated finish from the recent run durations of its model, which the sweep keeps
in PostgreSQL (`duration_stats`) at most once a minute."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from orchestrator import durations
from orchestrator.api import create_app
from orchestrator.db import Database
from orchestrator.models import DurationStat, Job
from orchestrator.outlook import estimate_finish
from orchestrator.settings import Settings
from schemas.jobs import JobStatus
from tests.factories import Tenant, create_job
from tests.test_capacity import channels

MODEL = ("kling", "kling-v1-6")


def finish(db: Database, job_id: uuid.UUID, run_s: float, *, model: str = "kling-v1-6") -> None:
    """Make the job one that succeeded after running `run_s` seconds upstream, just now."""
    now = datetime.now(UTC)
    with db.transaction() as session:
        session.execute(
            update(Job)
            .where(Job.job_id == job_id)
            .values(
                state="succeeded",
                model=model,
                submitted_at=now - timedelta(seconds=run_s),
                finished_at=now,
            )
        )


def stats(db: Database) -> dict[tuple[str, str], tuple[int, float, float, float]]:
    with db.transaction() as session:
        rows = session.execute(select(DurationStat)).scalars()
        return {(r.provider, r.model): (r.samples, r.p10_s, r.p50_s, r.p90_s) for r in rows}


def refresh(db: Database) -> None:
    with db.transaction() as session:
        durations.refresh(session)


def test_outlook_the_sweep_keeps_each_models_recent_run_durations(
    db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    for run_s in (10, 20, 30, 40, 50):
        finish(db, create_job(db, tenant, settings), run_s)
    for run_s in (5, 5):  # too few to say anything about this model
        finish(db, create_job(db, tenant, settings), run_s, model="kling-v2-master")
    refresh(db)
    [(samples, p10, p50, p90)] = stats(db).values()
    assert set(stats(db)) == {MODEL}
    assert samples == 5
    assert (p10, p50, p90) == pytest.approx((14.0, 30.0, 46.0), abs=0.01)
    finish(db, create_job(db, tenant, settings), 1000)
    refresh(db)  # within the minute: nothing recomputed
    assert stats(db)[MODEL][0] == 5
    with db.transaction() as session:  # a minute on
        session.execute(update(DurationStat).values(refreshed_at=datetime.now(UTC) - timedelta(minutes=2)))
    refresh(db)
    samples, p10, p50, _ = stats(db)[MODEL]
    assert samples == 6
    assert (p10, p50) == pytest.approx((15.0, 35.0))


def stat(p10: float = 10, p50: float = 60, p90: float = 120) -> DurationStat:
    return DurationStat(provider="kling", model="m", samples=50, p10_s=p10, p50_s=p50, p90_s=p90)


def eta_s(
    state: JobStatus,
    stat: DurationStat | None,
    *,
    since_s: float | None = None,
    progress: int = 0,
    position: int | None = None,
    slots: int | None = None,
) -> float | None:
    """The estimate for a job in `state`, accepted upstream `since_s` ago, in seconds from now."""
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    submitted = None if since_s is None else now - timedelta(seconds=since_s)
    job = Job(state=state.value, submitted_at=submitted, started_at=None, progress=progress)
    at = estimate_finish(now, job, stat, position, slots)
    return None if at is None else (at - now).total_seconds()


def test_outlook_estimates_follow_the_state_progress_and_the_quantiles() -> None:
    S, figures = JobStatus, stat()  # noqa: N806 - the enum, as the code under test names it
    assert eta_s(S.QUEUED, None) is None  # no figures yet
    assert eta_s(S.QUEUED, figures) == 60
    # Fifth in a queue served two at a time: two rounds go before its own.
    assert eta_s(S.QUEUED, figures, position=5, slots=2) == 180
    assert eta_s(S.QUEUED, figures, position=5, slots=None) == 60
    assert eta_s(S.RUNNING, figures, since_s=20) == 40
    # Past its median: its 90th percentile; past that too: a short while more (its 10th percentile).
    assert eta_s(S.RUNNING, figures, since_s=90) == 30
    assert eta_s(S.RUNNING, figures, since_s=500) == 10
    # Progress, once it says something, projects the rest: 40 s for 25 % -> 160 s in all.
    assert eta_s(S.RUNNING, figures, since_s=40, progress=25) == 120
    assert eta_s(S.RUNNING, figures, since_s=40, progress=5) == 20
    assert eta_s(S.STORING, figures, since_s=61) == 0
    assert eta_s(S.ACTION_REQUIRED, figures, since_s=5) is None
    assert eta_s(S.SUCCEEDED, figures, since_s=5) is None


def test_outlook_jobs_waiting_for_capacity_show_their_queue_position_and_estimate(
    db: Database,
    tenant: Tenant,
    make_settings: Callable[..., Settings],
    simulator_url: str,
    tmp_path: Path,
) -> None:
    settings = make_settings(channels_file=channels(tmp_path, simulator_url, ("only", "SIM_KEY", 1)))
    for run_s in (60, 60, 60):
        finish(db, create_job(db, tenant, settings), run_s)
    refresh(db)
    first, second, running, plain = (create_job(db, tenant, settings) for _ in range(4))
    now = datetime.now(UTC)
    with db.transaction() as session:
        session.execute(update(Job).where(Job.job_id.in_([first, second])).values(awaiting_capacity=True))
        session.execute(
            update(Job)
            .where(Job.job_id == running)
            .values(state="running", submitted_at=now - timedelta(seconds=15))
        )
    with TestClient(create_app(settings)) as api:
        shown = {
            uuid.UUID(j["job_id"]): j for j in api.get("/v1/jobs", headers=tenant.headers).json()["data"]
        }
        one = api.get(f"/v1/jobs/{second}", headers=tenant.headers).json()
    assert one["queue_position"] == shown[second]["queue_position"]
    assert (shown[first]["queue_position"], shown[second]["queue_position"]) == (1, 2)
    assert shown[running]["queue_position"] is None
    assert shown[plain]["queue_position"] is None  # queued but not waiting: it goes as soon as it is sent

    def eta(job_id: uuid.UUID) -> float:
        return (datetime.fromisoformat(shown[job_id]["estimated_finish_at"]) - now).total_seconds()

    # One slot: the second waits a run for the first; the running one has 45 of its 60 s left.
    assert eta(first) == pytest.approx(60, abs=5)
    assert eta(second) == pytest.approx(120, abs=5)
    assert eta(running) == pytest.approx(45, abs=5)
    finished = [j for j in shown.values() if j["status"] == "succeeded"]
    assert len(finished) == 3
    assert all(j["estimated_finish_at"] is None and j["queue_position"] is None for j in finished)
