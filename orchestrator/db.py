"""The database handle: engine, transactions, and the check that the schema is migrated."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.errors import SchemaNotCurrentError
from orchestrator.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# What PostgreSQL going away looks like from here: a connection refused or cut (a restart, a failover),
# no pooled connection free in time. Each transaction rolled back whole, so a retry is safe.
DATABASE_OUTAGES = (sa.OperationalError, sa.InterfaceError, sa.TimeoutError, psycopg.OperationalError)


CommitHook = Callable[[dict[str, Any]], None]
# A pooled connection is checked with a round trip before use only when it has sat idle this long:
# under load that saves a round trip per transaction (pinging on every checkout cost one in six),
# while a connection that outlived a database restart has sat idle and is replaced before use.
PING_IF_IDLE_S = 1.0


class Database:
    """One engine and its session factory. Use-cases open transactions through `transaction()`.

    Code inside a transaction can leave notes in `session.info` (e.g. the webhook events it
    recorded); commit hooks see them once the transaction has committed, never before.
    """

    def __init__(self, url: str, *, pool_size: int = 10, prepared_statements: bool = True) -> None:
        self.url = url
        # Behind a transaction pooler (PgBouncer before 1.21) consecutive transactions of one pooled
        # connection may run on different server connections, where a statement psycopg prepared on
        # another does not exist: `prepared_statements=False` never prepares one.
        connect_args: dict[str, Any] = {} if prepared_statements else {"prepare_threshold": None}
        self.engine: Engine = create_engine(
            url, pool_size=pool_size, max_overflow=pool_size, future=True, connect_args=connect_args
        )
        _ping_when_idle(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._commit_hooks: list[CommitHook] = []

    def on_commit(self, hook: CommitHook) -> None:
        self._commit_hooks.append(hook)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on any error."""
        with self._sessions() as session:
            with session.begin():
                yield session
            notes = dict(session.info)
        if notes:
            for hook in self._commit_hooks:
                hook(notes)

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(settings: Settings, pool_size: int) -> Database:
    """The deployment's database as its settings describe it (URL, and whether a transaction pooler
    sits in front of it)."""
    return Database(
        settings.require_database_url(),
        pool_size=pool_size,
        prepared_statements=settings.database_pooling == "session",
    )


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def stamp(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_IF_IDLE_S:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except Exception as exc:  # any failure: the pool drops this connection and opens another
            raise DisconnectionError(f"pooled connection is dead: {exc}") from exc


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def ensure_schema_current(engine: Engine) -> None:
    """Refuse to run against a database that `genrelay db upgrade` has not brought to head."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaNotCurrentError(
            f"database schema is at {current or 'nothing (empty database)'}, this genrelay needs "
            f"{head}: run `genrelay db upgrade` first"
        )


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command  # noqa: PLC0415 - only the CLI and tests migrate

    command.upgrade(alembic_config(url), revision)
