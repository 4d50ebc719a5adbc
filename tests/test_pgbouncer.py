"""Behind PgBouncer in transaction pooling mode, consecutive transactions of one client connection run
on whichever server connection is free: genrelay must then prepare no statement (one prepared on one
server connection does not exist on the next) and keep LISTEN on a direct connection. The end-to-end
and crash tests run through it too (the `pgbouncer` deployment)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from orchestrator.db import Database, open_database
from orchestrator.settings import Settings
from tests.pgbouncer import PgBouncer

QUERY = text("SELECT 1 + :n")
# psycopg prepares a statement on its sixth execution on one connection (prepare_threshold = 5).
UNTIL_PREPARED = 6


def run_after_the_server_connection_moved(bouncer_url: str, client: Database) -> Exception | None:
    """Run QUERY on `client` (one pooled connection) until psycopg would prepare it, while another
    client holds a server connection; then, once that one is free again (PgBouncer hands out the last
    one released first), run it once more: on the other server connection."""
    holder = Database(bouncer_url, pool_size=1)
    try:
        with holder.transaction() as held:
            held.execute(text("SELECT 1"))  # a server connection taken until this commits
            for n in range(UNTIL_PREPARED):
                with client.transaction() as session:
                    session.execute(QUERY, {"n": n})
        try:
            with client.transaction() as session:
                session.execute(QUERY, {"n": UNTIL_PREPARED})
        except Exception as exc:  # what fails is the answer
            return exc
        return None
    finally:
        holder.dispose()
        client.dispose()


def test_pgbouncer_a_statement_prepared_on_one_server_connection_is_missing_on_the_next(
    pgbouncer: PgBouncer, database_url: str
) -> None:
    url = pgbouncer.url(database_url.rsplit("/", 1)[1])
    failure = run_after_the_server_connection_moved(url, Database(url, pool_size=1))
    assert failure is not None
    assert "prepared statement" in str(failure)


def test_pgbouncer_transaction_pooling_prepares_nothing_and_runs_on_any_server_connection(
    pgbouncer: PgBouncer, database_url: str
) -> None:
    url = pgbouncer.url(database_url.rsplit("/", 1)[1])
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=url, database_pooling="transaction", database_listen_url=database_url
    )
    assert run_after_the_server_connection_moved(url, open_database(settings, pool_size=1)) is None


def test_pgbouncer_transaction_pooling_without_a_direct_listen_url_is_refused() -> None:
    with pytest.raises(ValueError, match="GENRELAY_DATABASE_LISTEN_URL"):
        Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url="postgresql+psycopg://genrelay@pgbouncer:6432/genrelay",
            database_pooling="transaction",
        )
