"""PostgreSQL stopped and started again under a running genrelay: while it is down the API answers 503
`unavailable` with Retry-After (never a 500), in its own envelope and in a family's; when it is back
every process recovers by itself and every job ends with its credits right.

The database is a PostgreSQL of this module's own (pgserver), so stopping it touches no other test."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import select

from orchestrator.api import create_app
from orchestrator.db import Database, upgrade
from orchestrator.models import Job
from orchestrator.ops import audit
from orchestrator.settings import PollPolicy, Settings
from tests import services
from tests.factories import Tenant, kling_request
from tests.stack import Stack
from workers.simulator import Simulator

TERMINAL = {"succeeded", "failed", "cancelled", "expired"}


class PrivatePostgres:
    """A PostgreSQL server in a folder of its own; `stop` shuts it down fast (every connection cut, as
    a restart does), `start` brings it back on the same data and socket."""

    def __init__(self) -> None:
        from pgserver.postgres_server import get_server

        self.root = Path(tempfile.mkdtemp(prefix="genrelay-outage-pg-"))
        self.server = get_server(self.root, cleanup_mode="delete")
        self.url = self.server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def remove(self) -> None:
        self.server.cleanup()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    try:
        server = PrivatePostgres()
    except Exception as exc:
        services.unavailable(f"the embedded PostgreSQL did not start: {exc}")
    upgrade(server.url)
    yield server
    server.remove()


@pytest.fixture(scope="module")
def database_url(postgres: PrivatePostgres) -> str:
    """Every fixture of this module (settings, db, tenants, the stack) uses the private server."""
    return postgres.url


@pytest.fixture
def outage(postgres: PrivatePostgres) -> Iterator[PrivatePostgres]:
    """The server, started again after the test whatever happened in it."""
    yield postgres
    postgres.start()


def test_api_answers_503_unavailable_while_postgres_is_down_and_recovers_by_itself(
    make_settings: Callable[..., Settings],
    tenant: Tenant,
    db: Database,
    outage: PrivatePostgres,
    broker: redis.Redis,
) -> None:
    sock = services.listening_socket()
    settings = make_settings(public_base_url=f"http://127.0.0.1:{sock.getsockname()[1]}")
    with services.serving(create_app(settings), sock) as server, httpx.Client(base_url=server.url) as api:
        created = api.post("/v1/jobs", json=kling_request(), headers=tenant.headers)
        assert created.status_code == 202
        job_id = created.json()["job_id"]
        before = api.get(f"/v1/jobs/{job_id}", headers=tenant.headers).json()

        outage.stop()
        answers = {
            "get": api.get(f"/v1/jobs/{job_id}", headers=tenant.headers),
            "create": api.post("/v1/jobs", json=kling_request(), headers=tenant.headers),
            "account": api.get("/v1/account", headers=tenant.headers),
            "kling": api.get(f"/kling/v1/videos/text2video/{job_id}", headers=tenant.headers),
        }
        for name, answer in answers.items():
            assert answer.status_code == 503, (name, answer.text)
            assert answer.headers["Retry-After"] == "5", name
        assert answers["get"].json()["error"]["code"] == "unavailable"
        assert answers["create"].json()["error"]["code"] == "unavailable"
        readiness = api.get("/readyz")
        assert readiness.status_code == 503
        assert readiness.json()["checks"]["database"] != "ok"

        outage.start()
        after = services.wait_until(
            lambda: (r := api.get(f"/v1/jobs/{job_id}", headers=tenant.headers)).status_code == 200 and r,
            timeout=30,
            message="the API answers again once PostgreSQL is back",
        ).json()
        assert after["job_id"] == before["job_id"]
        assert api.get("/readyz").json()["checks"]["database"] == "ok"
    db.engine.dispose()  # this test's own pooled connections died with the server
    with db.transaction() as session:
        assert audit.find_breaches(session) == []  # the create refused during the outage left nothing


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_jobs_in_flight_through_a_postgres_restart_all_end_with_their_credits_right(
    start_stack: Callable[..., Stack],
    make_tenant: Callable[..., Tenant],
    simulator: Simulator,
    db: Database,
    outage: PrivatePostgres,
) -> None:
    simulator.configure(speed=0.02)
    # A job caught between its claim and its upstream create is reconciled when its submit lease runs
    # out; every other task cut off by the outage retries by itself once PostgreSQL is back. A callback
    # the provider sends while the API answers 503 is lost (providers do not retry them): a job that
    # was called back before is then found ended by its safety-net poll, here every second rather than
    # from a minute on.
    stack = start_stack(submit_lease_s=10.0, callback_poll=PollPolicy(initial_s=1.0, factor=1.0, max_s=1.0))
    tenant = make_tenant()
    job_ids = [stack.create(tenant, kling_request(prompt=f"shot {n}")) for n in range(20)]

    outage.stop()
    refused = stack.api.get(f"/v1/jobs/{job_ids[0]}", headers=tenant.headers)
    assert refused.status_code == 503
    outage.start()

    db.engine.dispose()  # this test's own pooled connections died with the server
    states: dict[str, str] = {}

    def ended() -> bool:
        # Read from the database: the tenant's key is rate limited, and this loop would exhaust it.
        query = select(Job.job_id, Job.state).where(Job.job_id.in_([uuid.UUID(j) for j in job_ids]))
        with db.transaction() as session:
            rows = session.execute(query).all()
        states.update({str(job_id): state for job_id, state in rows})
        return len(rows) == len(job_ids) and all(state in TERMINAL for state in states.values())

    services.wait_until(
        ended, timeout=150, interval=0.2, message=lambda: f"every job ends after the restart: {states}"
    )
    answer = stack.api.get(f"/v1/jobs/{job_ids[-1]}", headers=tenant.headers)
    assert (answer.status_code, answer.json()["status"]) == (200, states[job_ids[-1]])
    stats = simulator.stats()["kling"]
    with db.transaction() as session:
        assert audit.find_breaches(session) == []
    assert stats.creates <= len(job_ids)  # no job was put upstream twice
