"""jobs.polled_at and jobs.upstream_ended_after/_by; duration_stats.run_quantiles_s and
poll_schedule_s: each model's run times, measured to the end upstream, and the poll schedule planned
from them

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: adding them rewrites nothing, whatever the tables' size.
    op.add_column("jobs", sa.Column("polled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("jobs", sa.Column("upstream_ended_after", sa.DateTime(timezone=True), nullable=True))
    op.add_column("jobs", sa.Column("upstream_ended_by", sa.DateTime(timezone=True), nullable=True))
    op.add_column("duration_stats", sa.Column("run_quantiles_s", sa.ARRAY(sa.Float()), nullable=True))
    op.add_column("duration_stats", sa.Column("poll_schedule_s", sa.ARRAY(sa.Float()), nullable=True))


def downgrade() -> None:
    op.drop_column("duration_stats", "poll_schedule_s")
    op.drop_column("duration_stats", "run_quantiles_s")
    op.drop_column("jobs", "upstream_ended_by")
    op.drop_column("jobs", "upstream_ended_after")
    op.drop_column("jobs", "polled_at")
