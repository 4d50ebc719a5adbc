"""batches and batch_lines: server-side batches of jobs; jobs.batch_id; outbox events of a batch

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("price_multiplier_ppm", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.LargeBinary(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("next_expand_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expanded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('in_progress','cancelling','completed','cancelled')",
            name=op.f("ck_batches_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_batches_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.key_id"], name=op.f("fk_batches_api_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_batches")),
    )
    op.create_index("ix_batches_account_id_batch_id", "batches", ["account_id", "batch_id"], unique=False)
    op.create_index(
        "ix_batches_next_expand_at",
        "batches",
        ["next_expand_at"],
        unique=False,
        postgresql_where=sa.text("next_expand_at IS NOT NULL"),
    )
    op.create_index(
        "ix_batches_in_progress",
        "batches",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("state IN ('in_progress','cancelling') AND expanded_at IS NOT NULL"),
    )
    op.create_index(
        "ix_batches_account_id_idempotency_key",
        "batches",
        ["account_id", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_table(
        "batch_lines",
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("custom_id", sa.String(length=64), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.batch_id"],
            name=op.f("fk_batch_lines_batch_id_batches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.job_id"], name=op.f("fk_batch_lines_job_id_jobs")),
        sa.PrimaryKeyConstraint("batch_id", "line_no", name=op.f("pk_batch_lines")),
        sa.UniqueConstraint("batch_id", "custom_id", name=op.f("uq_batch_lines_batch_id_custom_id")),
    )
    op.create_index(
        "ix_batch_lines_pending",
        "batch_lines",
        ["batch_id", "line_no"],
        unique=False,
        postgresql_where=sa.text("job_id IS NULL AND error_code IS NULL"),
    )
    # Nullable, no default: adding it rewrites nothing, whatever the table's size.
    op.add_column("jobs", sa.Column("batch_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(op.f("fk_jobs_batch_id_batches"), "jobs", "batches", ["batch_id"], ["batch_id"])
    # One job per line of a batch, whoever expands it: the line's custom_id is the job's client_reference.
    op.create_index(
        "ix_jobs_batch_id_client_reference",
        "jobs",
        ["batch_id", "client_reference"],
        unique=True,
        postgresql_where=sa.text("batch_id IS NOT NULL"),
    )
    op.alter_column("outbox", "job_id", existing_type=sa.Uuid(), nullable=True)
    op.add_column("outbox", sa.Column("batch_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_outbox_batch_id_batches"),
        "outbox",
        "batches",
        ["batch_id"],
        ["batch_id"],
        ondelete="CASCADE",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_outbox_batch_id_batches"), "outbox", type_="foreignkey")
    op.drop_column("outbox", "batch_id")
    op.execute("DELETE FROM outbox WHERE job_id IS NULL")
    op.alter_column("outbox", "job_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_index("ix_jobs_batch_id_client_reference", table_name="jobs")
    op.drop_constraint(op.f("fk_jobs_batch_id_batches"), "jobs", type_="foreignkey")
    op.drop_column("jobs", "batch_id")
    op.drop_index("ix_batch_lines_pending", table_name="batch_lines")
    op.drop_table("batch_lines")
    op.drop_index("ix_batches_account_id_idempotency_key", table_name="batches")
    op.drop_index("ix_batches_in_progress", table_name="batches")
    op.drop_index("ix_batches_next_expand_at", table_name="batches")
    op.drop_index("ix_batches_account_id_batch_id", table_name="batches")
    op.drop_table("batches")
