"""`Prefer: wait=N` on the unified job routes: a create or a read held until the job ends (woken by the
process's job-end listener), or answered with the job as it stands after N seconds; a replayed create
waits too; a preference that cannot be read is ignored, and an unknown job answers at once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from orchestrator.api import create_app, prefer
from orchestrator.db import Database
from orchestrator.lifecycle import Change, advance
from orchestrator.settings import Settings
from schemas.jobs import JobStatus
from tests import services
from tests.factories import Tenant, create_job, kling_request
from tests.test_job_ends import listener_of, waiting


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("wait=5", 5),
        ("WAIT = 7", 7),
        ('wait="9"', 9),
        ("respond-async, wait=10", 10),
        ("wait", 60),
        ("wait=600", 60),
        ("wait=0", 0),
        ("wait=soon", None),
        ("wait=-1", None),
        ("respond-async", None),
        ("", None),
        (None, None),
    ],
)
def test_api_wait_reads_the_prefer_header_as_rfc_7240_asks(header: str | None, seconds: int | None) -> None:
    assert prefer.wait_seconds(header) == seconds


@pytest.fixture
def client(make_settings: Callable[..., Settings]) -> Iterator[tuple[httpx.Client, object]]:
    app = create_app(make_settings())
    with services.serving(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        services.wait_until(listener_of(app).connected.is_set, message="the listener connects")
        yield http, app


def end_once_waiting(app: object, db: Database, job_id: uuid.UUID, waiters: int = 1) -> threading.Thread:
    """Cancel the job (as the pipeline ends one, through lifecycle.advance) once `waiters` requests wait
    for it: an answer that then shows it cancelled was woken by its end, not by its timeout."""
    listener = listener_of(app)

    def end() -> None:
        services.wait_until(lambda: waiting(listener) == waiters, timeout=20, message="the request waits")
        with db.transaction() as session:
            assert advance(session, job_id, JobStatus.QUEUED, Change(JobStatus.CANCELLED)) is not None

    thread = threading.Thread(target=end)
    thread.start()
    return thread


def test_api_wait_a_read_is_held_until_the_job_ends(
    client: tuple[httpx.Client, object], db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    http, app = client
    job_id = create_job(db, tenant, make_settings())
    ender = end_once_waiting(app, db, job_id)
    answer = http.get(f"/v1/jobs/{job_id}", headers={**tenant.headers, "Prefer": "wait=60"})
    ender.join()
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "cancelled"
    assert answer.headers["preference-applied"] == "wait=60"
    assert waiting(listener_of(app)) == 0


def test_api_wait_a_read_answers_the_job_as_it_stands_after_its_seconds(
    client: tuple[httpx.Client, object], db: Database, tenant: Tenant, make_settings: Callable[..., Settings]
) -> None:
    http, app = client
    job_id = create_job(db, tenant, make_settings())
    answer = http.get(f"/v1/jobs/{job_id}", headers={**tenant.headers, "Prefer": "wait=1"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.headers["preference-applied"]) == ("queued", "wait=1")
    assert waiting(listener_of(app)) == 0
    plain = http.get(f"/v1/jobs/{job_id}", headers={**tenant.headers, "Prefer": "respond-async"})
    assert "preference-applied" not in plain.headers
    assert plain.json()["status"] == "queued"


def test_api_wait_an_unknown_or_foreign_job_answers_404_at_once(
    client: tuple[httpx.Client, object],
    db: Database,
    tenant: Tenant,
    make_tenant: Callable[..., Tenant],
    make_settings: Callable[..., Settings],
) -> None:
    http, app = client
    foreign = create_job(db, make_tenant(), make_settings())
    for job_id in (uuid.uuid4(), foreign):
        # With 60 s asked and the client giving up at 30, a 404 proves nobody waited.
        answer = http.get(f"/v1/jobs/{job_id}", headers={**tenant.headers, "Prefer": "wait=60"})
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "job_not_found"
    assert waiting(listener_of(app)) == 0


def test_api_wait_a_create_and_its_replay_answer_the_ended_job(
    client: tuple[httpx.Client, object], db: Database, tenant: Tenant
) -> None:
    http, app = client
    headers = {**tenant.headers, "Idempotency-Key": "wait-once"}
    created = http.post("/v1/jobs", json=kling_request(), headers=headers)
    assert created.status_code == 202, created.text
    assert created.json()["status"] == "queued"
    job_id = uuid.UUID(created.json()["job_id"])
    ender = end_once_waiting(app, db, job_id)
    replayed = http.post("/v1/jobs", json=kling_request(), headers={**headers, "Prefer": "wait=60"})
    ender.join()
    assert replayed.status_code == 202, replayed.text
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.headers["preference-applied"] == "wait=60"
    assert (replayed.json()["job_id"], replayed.json()["status"]) == (str(job_id), "cancelled")
    # Without the preference, a replay is the first answer, as before.
    again = http.post("/v1/jobs", json=kling_request(), headers=headers)
    assert (again.json()["status"], again.headers["idempotent-replayed"]) == ("queued", "true")
