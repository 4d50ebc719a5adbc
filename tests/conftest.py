"""Shared fixtures: real PostgreSQL, Redis and S3 (moto server), settings, tenants and the API."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import psycopg
import pytest
import redis
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import text

from orchestrator import ledger
from orchestrator.api import create_app
from orchestrator.db import Database, upgrade
from orchestrator.models import Base
from orchestrator.settings import PollPolicy, Settings
from orchestrator.tenants import accounts
from tests import rabbitmq, services
from tests.factories import Tenant
from tests.pgbouncer import PgBouncer
from tests.stack import start_stack  # noqa: F401 - a fixture, shared by every end-to-end test
from workers.simulator import SimConfig, Simulator
from workers.simulator import create_app as create_simulator_app

CREDITS = ledger.MICROS_PER_CREDIT


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    admin = services.postgres_admin_url()
    name = f"genrelay_test_{os.getpid()}"
    plain_admin = admin.replace("+psycopg", "")
    with psycopg.connect(plain_admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    url = services.with_database(admin, name)
    upgrade(url)
    yield url
    with psycopg.connect(plain_admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A clean database for each test (every table emptied), on a real PostgreSQL."""
    database = Database(database_url, pool_size=5)
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with database.transaction() as session:
        session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield database
    database.dispose()


@pytest.fixture
def empty_database_url(database_url: str) -> Iterator[str]:
    """A database with nothing in it: not migrated."""
    name = f"genrelay_empty_{uuid.uuid4().hex[:8]}"
    admin = database_url.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield services.with_database(database_url, name)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


# The shapes of deployment a test marked `deployments` runs on, each once: Redis as the broker, RabbitMQ
# as the broker, and Redis with every genrelay connection to PostgreSQL through PgBouncer in
# transaction pooling mode.
DEPLOYMENTS = ("redis", "rabbitmq", "pgbouncer")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("deployments") is not None:
        metafunc.parametrize("deployment", DEPLOYMENTS, indirect=True)


@pytest.fixture
def deployment(request: pytest.FixtureRequest) -> str:
    """The deployment this test runs on: Redis and a direct PostgreSQL, unless it is marked
    `deployments` (then each of DEPLOYMENTS)."""
    return str(getattr(request, "param", "redis"))


@pytest.fixture
def broker_kind(deployment: str) -> str:
    return "rabbitmq" if deployment == "rabbitmq" else "redis"


@pytest.fixture(scope="session")
def pgbouncer(database_url: str) -> Iterator[PgBouncer]:
    bouncer = PgBouncer(database_url)
    yield bouncer
    bouncer.stop()


@pytest.fixture
def database_settings(request: pytest.FixtureRequest, deployment: str, database_url: str) -> dict[str, Any]:
    """How genrelay's processes reach PostgreSQL in this deployment (the tests' own `db` connects
    directly either way)."""
    if deployment != "pgbouncer":
        return {"database_url": database_url}
    bouncer: PgBouncer = request.getfixturevalue("pgbouncer")
    return {
        "database_url": bouncer.url(urlparse(database_url).path.lstrip("/")),
        "database_pooling": "transaction",
        "database_listen_url": database_url,
    }


@pytest.fixture(scope="session")
def redis_broker_url() -> str:
    return services.redis_url()


# Every broker key of this test session carries this prefix, so concurrent sessions on one Redis
# never see (or clear) each other's queues; on RabbitMQ the session has a vhost of this name.
BROKER_PREFIX = f"genrelay-test-{os.getpid()}:"


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    vhost = BROKER_PREFIX.rstrip(":")
    url = rabbitmq.session_vhost(vhost)
    yield url
    rabbitmq.drop_vhost(vhost)


@pytest.fixture
def broker_url(request: pytest.FixtureRequest, broker_kind: str, redis_broker_url: str) -> str:
    return str(request.getfixturevalue("amqp_url")) if broker_kind == "rabbitmq" else redis_broker_url


@pytest.fixture
def broker(broker_url: str, broker_kind: str, redis_broker_url: str) -> Iterator[redis.Redis]:
    """The test's broker keys (and, on RabbitMQ, its vhost's queues), emptied before the test; a
    client of the Redis that holds the keys (the broker's, or the rate limit's beside RabbitMQ)."""
    if broker_kind == "rabbitmq":
        rabbitmq.purge(broker_url)
    client = redis.Redis.from_url(redis_broker_url)
    stale = list(client.scan_iter(match=f"{BROKER_PREFIX}*", count=1000))
    if stale:
        client.delete(*stale)
    yield client
    client.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def simulator_server() -> Iterator[tuple[Simulator, services.ThreadedServer]]:
    simulator = Simulator(SimConfig(speed=0.0, seed=7))
    with services.serving(create_simulator_app(simulator)) as server:
        yield simulator, server


@pytest.fixture
def simulator(simulator_server: tuple[Simulator, services.ThreadedServer]) -> Simulator:
    """The upstream simulator, reset, answering instantly unless a test configures it otherwise."""
    sim, _ = simulator_server
    sim.configure(**SimConfig(speed=0.0, seed=7).model_dump())
    sim.reset()
    return sim


@pytest.fixture
def simulator_url(simulator_server: tuple[Simulator, services.ThreadedServer]) -> str:
    return simulator_server[1].url


@pytest.fixture
def make_settings(
    database_settings: dict[str, Any],
    broker_url: str,
    broker_kind: str,
    redis_broker_url: str,
    tmp_path: Path,
    simulator_url: str,
) -> Callable[..., Settings]:
    """Settings for a test: real services, local storage in tmp_path, fast polling."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "data_dir": tmp_path / "data",
            **database_settings,
            "broker_url": broker_url,
            "broker_key_prefix": BROKER_PREFIX,
            # Beside RabbitMQ, the rate limit's Redis; on Redis, the broker is that too.
            **({"redis_url": redis_broker_url} if broker_kind == "rabbitmq" else {}),
            "storage_backend": "local",
            "storage_dir": tmp_path / "storage",
            "poll": {"default": PollPolicy(initial_s=0.05, factor=1.0, max_s=0.05)},
            "sweep_interval_s": 0.1,
            "redispatch_after_s": 0.5,
            # The lease must outlive any upstream request (as in production: 60 s vs 30 s); shorter, a
            # create still in flight is reconciled as "not found" and sent again.
            "submit_lease_s": 10.0,
            "upstream_timeout_s": 5.0,
            "upstream_base_url": simulator_url,
            **overrides,
        }
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture
def make_tenant(db: Database) -> Callable[..., Tenant]:
    def build(
        credits: int = 100 * CREDITS,  # noqa: A002 - the natural name at call sites
        multiplier: str = "1",
        name: str = "tenant",
    ) -> Tenant:
        with db.transaction() as session:
            account_id = accounts.create_account(session, name, price_multiplier=multiplier)
            if credits:
                ledger.add_credits(session, account_id, credits, "test top-up")
            key = accounts.issue_key(session, account_id, "test")
        return Tenant(account_id, key.secret)

    return build


@pytest.fixture
def tenant(make_tenant: Callable[..., Tenant]) -> Tenant:
    return make_tenant()


@pytest.fixture
def api(make_settings: Callable[..., Settings], db: Database, broker: redis.Redis) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings()), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A callback receiver (a provider's notify hook, a simulated upstream's callbacks): its URL and
    the JSON bodies it got, in arrival order."""
    bodies: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/hook")
    async def receive(request: Request) -> dict[str, bool]:
        bodies.append(await request.json())
        return {"ok": True}

    with services.serving(app) as server:
        yield f"{server.url}/hook", bodies


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """An HTTP client for talking to an upstream (the simulator) directly."""
    with httpx.Client(timeout=5.0) as client:
        yield client
