"""The migrations build exactly the models' schema, and nothing runs on an un-migrated database."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from orchestrator.api import create_app
from orchestrator.db import Database, ensure_schema_current, upgrade
from orchestrator.errors import SchemaNotCurrentError
from orchestrator.models import Base
from orchestrator.pipeline import sweeping
from orchestrator.settings import Settings


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_migrations_unmigrated_database_is_refused_with_advice(empty_database_url: str) -> None:
    database = Database(empty_database_url, pool_size=1)
    with pytest.raises(SchemaNotCurrentError, match=r"run `genrelay db upgrade` first"):
        ensure_schema_current(database.engine)
    database.dispose()


def test_migrations_api_refuses_to_start_unmigrated(
    empty_database_url: str, make_settings: Callable[..., Settings]
) -> None:
    app = create_app(make_settings(database_url=empty_database_url))
    with pytest.raises(SchemaNotCurrentError), TestClient(app):
        pass


def test_migrations_0002_counts_existing_unfinished_jobs(empty_database_url: str) -> None:
    upgrade(empty_database_url, "0001")
    database = Database(empty_database_url, pool_size=1)
    account_id = uuid.uuid4()
    with database.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO accounts (account_id, name, credits_added, held) VALUES (:a, 'x', 10, 6)"),
            {"a": account_id},
        )
        for index, state in enumerate(["open", "open", "captured", "open"]):
            job_id = uuid.uuid4()
            connection.execute(
                text(
                    "INSERT INTO jobs (job_id, account_id, provider, operation, model, input, state, price,"
                    " callback_token, api_format, deadline_at) VALUES (:j, :a, 'kling', 'text2video', 'm',"
                    " '{}', :s, 2, :t, 'genrelay', now())"
                ),
                {
                    "j": job_id,
                    "a": account_id,
                    "s": "queued" if state == "open" else "succeeded",
                    "t": str(index),
                },
            )
            connection.execute(
                text("INSERT INTO holds (job_id, account_id, amount, state) VALUES (:j, :a, 2, :s)"),
                {"j": job_id, "a": account_id, "s": state},
            )
    upgrade(empty_database_url)
    with database.engine.connect() as connection:
        counted = connection.execute(
            text("SELECT open_jobs FROM accounts WHERE account_id = :a"), {"a": account_id}
        ).scalar_one()
    database.dispose()
    assert counted == 3


def test_migrations_0010_counts_each_keys_spend_by_month_and_keeps_existing_keys_managing(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url, "0009")
    database = Database(empty_database_url, pool_size=1)
    account_id, key_id = uuid.uuid4(), uuid.uuid4()
    with database.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO accounts (account_id, name, credits_added, held) VALUES (:a, 'x', 100, 4)"),
            {"a": account_id},
        )
        connection.execute(
            text("INSERT INTO api_keys (key_id, account_id, prefix, key_hash) VALUES (:k, :a, 'gr_x', :h)"),
            {"k": key_id, "a": account_id, "h": b"h" * 32},
        )
        holds = [
            ("2026-11-30T23:59:59Z", "captured"),
            ("2026-12-01T00:00:00Z", "open"),
            ("2026-12-02T00:00:00Z", "open"),
            ("2026-12-03T00:00:00Z", "released"),
        ]
        for index, (created_at, state) in enumerate(holds):
            job_id = uuid.uuid4()
            connection.execute(
                text(
                    "INSERT INTO jobs (job_id, account_id, api_key_id, provider, operation, model, input,"
                    " state, price, callback_token, api_format, deadline_at, created_at) VALUES (:j, :a, :k,"
                    " 'kling', 'text2video', 'm', '{}', 'queued', 2, :t, 'unified', now(), :c)"
                ),
                {"j": job_id, "a": account_id, "k": key_id, "t": str(index), "c": created_at},
            )
            connection.execute(
                text("INSERT INTO holds (job_id, account_id, amount, state) VALUES (:j, :a, 2, :s)"),
                {"j": job_id, "a": account_id, "s": state},
            )
    upgrade(empty_database_url)
    with database.engine.connect() as connection:
        spend = connection.execute(text("SELECT month::text, amount FROM key_spend ORDER BY month")).all()
        managing = connection.execute(text("SELECT manage_keys FROM api_keys")).scalar_one()
    database.dispose()
    assert [tuple(row) for row in spend] == [("2026-11-01", 2), ("2026-12-01", 4)]
    assert managing is True


def test_migrations_0003_sweep_state_holds_one_row(db: Database) -> None:
    for _ in range(2):
        with db.transaction() as session:
            sweeping.record_sweep(session)
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.execute(text("INSERT INTO sweep_state (singleton, last_swept_at) VALUES (false, now())"))
    with db.transaction() as session:
        assert session.execute(text("SELECT count(*) FROM sweep_state")).scalar_one() == 1
