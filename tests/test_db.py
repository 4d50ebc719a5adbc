"""The database handle: a pooled connection that died while idle is replaced before it is used."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from orchestrator import db as db_module
from orchestrator.db import Database


def test_db_connection_killed_while_idle_is_replaced(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(database_url, pool_size=1)
    try:
        with database.transaction() as session:
            backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        other = Database(database_url, pool_size=1)
        with other.transaction() as session:
            assert session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend}).scalar_one()
        other.dispose()
        monkeypatch.setattr(db_module, "PING_IF_IDLE_S", 0.0)  # the pooled connection counts as idle
        with database.transaction() as session:
            replaced = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert replaced != backend
    finally:
        database.dispose()
