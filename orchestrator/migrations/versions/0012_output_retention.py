"""accounts.output_retention_days and jobs.outputs_expired_at: stored outputs deleted after their retention

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: adding them rewrites nothing, whatever the tables' size.
    op.add_column("accounts", sa.Column("output_retention_days", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("outputs_expired_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_jobs_finished_at_outputs_kept",
        "jobs",
        ["finished_at"],
        postgresql_where=sa.text("state = 'succeeded' AND outputs_expired_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_finished_at_outputs_kept", table_name="jobs")
    op.drop_column("jobs", "outputs_expired_at")
    op.drop_column("accounts", "output_retention_days")
