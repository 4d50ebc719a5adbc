"""jobs.start_deadline_at and jobs.webhook_events: a client's start-by deadline, and the events it wants

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: adding them rewrites nothing, whatever the table's size.
    op.add_column("jobs", sa.Column("start_deadline_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("jobs", sa.Column("webhook_events", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "webhook_events")
    op.drop_column("jobs", "start_deadline_at")
