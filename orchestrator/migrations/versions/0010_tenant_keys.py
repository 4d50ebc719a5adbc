"""api_keys: expiry, allowed providers, monthly cap, key management, last use; key_spend per key and month

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_keys", sa.Column("providers", postgresql.ARRAY(sa.String(64)), nullable=True))
    op.add_column("api_keys", sa.Column("monthly_cap", sa.BigInteger(), nullable=True))
    # Every key so far was issued by the operator, as the account's own: it manages the account's keys.
    op.add_column(
        "api_keys", sa.Column("manage_keys", sa.Boolean(), server_default=sa.text("true"), nullable=False)
    )
    op.alter_column("api_keys", "manage_keys", server_default=sa.text("false"))
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_keys", sa.Column("last_used_ip", sa.String(45), nullable=True))
    op.create_table(
        "key_spend",
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_key_spend_amount_not_negative")),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.key_id"], name=op.f("fk_key_spend_key_id_api_keys")),
        sa.PrimaryKeyConstraint("key_id", "month", name=op.f("pk_key_spend")),
    )
    # What the keys' jobs already hold or were charged, by the month the job was created in.
    op.execute(
        """
        INSERT INTO key_spend (key_id, month, amount)
        SELECT jobs.api_key_id, date_trunc('month', jobs.created_at AT TIME ZONE 'UTC')::date,
               sum(holds.amount)
        FROM holds JOIN jobs ON jobs.job_id = holds.job_id
        WHERE holds.state IN ('open', 'captured') AND jobs.api_key_id IS NOT NULL
        GROUP BY 1, 2
        """
    )


def downgrade() -> None:
    op.drop_table("key_spend")
    for column in ("last_used_ip", "last_used_at", "manage_keys", "monthly_cap", "providers", "expires_at"):
        op.drop_column("api_keys", column)
