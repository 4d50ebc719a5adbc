"""The transition table, exhaustively, and compare-and-set behaviour on a real database."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from sqlalchemy import select

from orchestrator import lifecycle
from orchestrator.db import Database
from orchestrator.errors import InvalidTransitionError
from orchestrator.models import Job, JobEvent
from schemas.jobs import JobCreate, JobStatus
from tests.conftest import Tenant
from tests.factories import create_job

S = JobStatus
FORWARD = {
    (S.QUEUED, S.SUBMITTING),
    (S.SUBMITTING, S.QUEUED),
    (S.SUBMITTING, S.SUBMITTED),
    (S.SUBMITTING, S.RUNNING),
    (S.SUBMITTING, S.ACTION_REQUIRED),
    (S.SUBMITTING, S.STORING),
    (S.SUBMITTED, S.RUNNING),
    (S.SUBMITTED, S.ACTION_REQUIRED),
    (S.SUBMITTED, S.STORING),
    (S.RUNNING, S.ACTION_REQUIRED),
    (S.RUNNING, S.STORING),
    (S.ACTION_REQUIRED, S.QUEUED),
    (S.ACTION_REQUIRED, S.SUBMITTED),
    (S.ACTION_REQUIRED, S.RUNNING),
    (S.ACTION_REQUIRED, S.STORING),
    (S.STORING, S.SUCCEEDED),
}
ENDINGS = {S.FAILED, S.CANCELLED, S.EXPIRED}


@pytest.mark.parametrize(("source", "target"), list(itertools.product(S, S)))
def test_lifecycle_table_allows_exactly_the_designed_moves(source: JobStatus, target: JobStatus) -> None:
    expected = (source, target) in FORWARD or (not source.is_terminal and target in ENDINGS)
    assert lifecycle.is_legal(source, target) is expected


def test_lifecycle_terminal_states_have_no_way_out() -> None:
    for state in S:
        assert (not lifecycle.TRANSITIONS[state]) is state.is_terminal


def test_lifecycle_advance_is_compare_and_set(
    db: Database, tenant: Tenant, make_settings: Callable[..., object]
) -> None:
    job_id = create_job(db, tenant, make_settings())
    with db.transaction() as session:
        moved = lifecycle.advance(session, job_id, S.QUEUED, lifecycle.Change(S.SUBMITTING))
        stale = lifecycle.advance(session, job_id, S.QUEUED, lifecycle.Change(S.SUBMITTING))
    assert moved is not None
    assert moved.sequence == 2
    assert stale is None
    with db.transaction() as session:
        assert session.execute(select(Job.state).where(Job.job_id == job_id)).scalar_one() == "submitting"
        events = session.execute(select(JobEvent.to_state).where(JobEvent.job_id == job_id)).scalars().all()
    assert events == ["queued", "submitting"]


def test_lifecycle_repeated_update_is_a_noop_and_illegal_one_raises(
    db: Database, tenant: Tenant, make_settings: Callable[..., object]
) -> None:
    job_id = create_job(db, tenant, make_settings())
    with db.transaction() as session:
        assert lifecycle.advance(session, job_id, S.QUEUED, lifecycle.Change(S.QUEUED)) is None
        with pytest.raises(InvalidTransitionError):
            lifecycle.advance(session, job_id, S.QUEUED, lifecycle.Change(S.SUCCEEDED))


def test_lifecycle_progress_never_goes_backwards(
    db: Database, tenant: Tenant, make_settings: Callable[..., object]
) -> None:
    job_id = create_job(db, tenant, make_settings())
    with db.transaction() as session:
        assert lifecycle.record_progress(session, job_id, S.QUEUED, 40)
        assert not lifecycle.record_progress(session, job_id, S.QUEUED, 30)
        assert not lifecycle.record_progress(session, job_id, S.RUNNING, 90)
        assert session.execute(select(Job.progress).where(Job.job_id == job_id)).scalar_one() == 40


def test_lifecycle_job_create_schema_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="extra"):
        JobCreate.model_validate(
            {"provider": "kling", "operation": "text2video", "model": "m", "input": {}, "x": 1}
        )
