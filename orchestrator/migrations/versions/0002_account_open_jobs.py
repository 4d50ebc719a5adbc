"""accounts.open_jobs: unfinished jobs kept with the holds

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("open_jobs", sa.Integer(), server_default="0", nullable=False))
    # Existing accounts start from their open holds (one per unfinished job).
    op.execute(
        """
        UPDATE accounts a SET open_jobs = h.open
        FROM (SELECT account_id, count(*) AS open FROM holds WHERE state = 'open' GROUP BY account_id) h
        WHERE h.account_id = a.account_id
        """
    )
    op.create_check_constraint(op.f("ck_accounts_open_jobs_not_negative"), "accounts", "open_jobs >= 0")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_accounts_open_jobs_not_negative"), "accounts", type_="check")
    op.drop_column("accounts", "open_jobs")
