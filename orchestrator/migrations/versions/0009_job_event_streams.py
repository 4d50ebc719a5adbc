"""job_events.account_id, .snapshot and .xact_id: the timeline rows that make a tenant event, as streams read them

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, and the default set apart from the column: adding them rewrites nothing, whatever the
    # table's size; the default applies to rows inserted from now on.
    op.add_column("job_events", sa.Column("account_id", sa.Uuid(), nullable=True))
    op.add_column("job_events", sa.Column("snapshot", postgresql.JSONB(), nullable=True))
    op.add_column("job_events", sa.Column("xact_id", sa.BigInteger(), nullable=True))
    op.alter_column("job_events", "xact_id", server_default=sa.text("(pg_current_xact_id()::text::bigint)"))
    # Only event rows carry an account: the index stays as small as the events streams read.
    op.create_index(
        "ix_job_events_account_id_xact_id",
        "job_events",
        ["account_id", "xact_id"],
        postgresql_where=sa.text("account_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_job_events_account_id_xact_id", table_name="job_events")
    op.drop_column("job_events", "xact_id")
    op.drop_column("job_events", "snapshot")
    op.drop_column("job_events", "account_id")
