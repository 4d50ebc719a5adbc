"""sweep_state: when the sweep last ran

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 10:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One row at most (its key can only be true), written by the first sweep after the upgrade.
    op.create_table(
        "sweep_state",
        sa.Column("singleton", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("last_swept_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("singleton", name=op.f("ck_sweep_state_one_row")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_sweep_state")),
    )


def downgrade() -> None:
    op.drop_table("sweep_state")
