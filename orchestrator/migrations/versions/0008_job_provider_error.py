"""jobs.provider_error: the provider's own failure code and message of a job that ended without a result

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing, whatever the table's size.
    op.add_column("jobs", sa.Column("provider_error", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "provider_error")
