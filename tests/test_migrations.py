"""The migrations build exactly the models' schema, and nothing runs on an un-migrated database."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient

from orchestrator.api import create_app
from orchestrator.db import Database, ensure_schema_current
from orchestrator.errors import SchemaNotCurrentError
from orchestrator.models import Base
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
