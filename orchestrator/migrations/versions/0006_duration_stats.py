"""duration_stats: how long each provider's model has recently taken, for estimates and polling

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "duration_stats",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("p10_s", sa.Float(), nullable=False),
        sa.Column("p50_s", sa.Float(), nullable=False),
        sa.Column("p90_s", sa.Float(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "model", name=op.f("pk_duration_stats")),
    )


def downgrade() -> None:
    op.drop_table("duration_stats")
