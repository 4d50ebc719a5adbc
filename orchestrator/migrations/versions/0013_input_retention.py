"""accounts.input_retention_days and jobs.inputs_cleared_at: a finished job's input cleared after its retention

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: adding them rewrites nothing, whatever the tables' size.
    op.add_column("accounts", sa.Column("input_retention_days", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("inputs_cleared_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_jobs_finished_at_inputs_kept",
        "jobs",
        ["finished_at"],
        postgresql_where=sa.text("finished_at IS NOT NULL AND inputs_cleared_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_finished_at_inputs_kept", table_name="jobs")
    op.drop_column("jobs", "inputs_cleared_at")
    op.drop_column("accounts", "input_retention_days")
