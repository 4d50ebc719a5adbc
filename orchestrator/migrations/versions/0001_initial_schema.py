"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 04:53:50.931011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("price_multiplier_ppm", sa.Integer(), server_default="1000000", nullable=False),
        sa.Column("credits_added", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("captured", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("held", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rate_limit_rps", sa.Integer(), nullable=True),
        sa.Column("max_open_jobs", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "credits_added - captured - held >= 0", name=op.f("ck_accounts_available_not_negative")
        ),
        sa.CheckConstraint(
            "held >= 0 AND captured >= 0 AND credits_added >= 0",
            name=op.f("ck_accounts_amounts_not_negative"),
        ),
        sa.CheckConstraint("price_multiplier_ppm > 0", name=op.f("ck_accounts_multiplier_positive")),
        sa.CheckConstraint(
            "rate_limit_rps > 0 AND max_open_jobs > 0", name=op.f("ck_accounts_limits_positive")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "channel_states",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=True),
        sa.Column("weight", sa.Integer(), nullable=True),
        sa.Column("max_concurrency", sa.Integer(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("open_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("provider", "name", name=op.f("pk_channel_states")),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_api_keys_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_index(op.f("ix_api_keys_account_id"), "api_keys", ["account_id"], unique=False)
    op.create_table(
        "disabled_endpoints",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_disabled_endpoints_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "url", name=op.f("pk_disabled_endpoints")),
    )
    op.create_table(
        "webhook_secrets",
        sa.Column("secret_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_webhook_secrets_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("secret_id", name=op.f("pk_webhook_secrets")),
    )
    op.create_index(op.f("ix_webhook_secrets_account_id"), "webhook_secrets", ["account_id"], unique=False)
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("input", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("callback_url", sa.Text(), nullable=True),
        sa.Column("api_format", sa.String(length=16), server_default="unified", nullable=False),
        sa.Column("client_reference", sa.String(length=255), nullable=True),
        sa.Column("callback_token", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("charged", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("upstream_status", sa.String(length=64), nullable=True),
        sa.Column("pending_outputs", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("parent_job_id", sa.Uuid(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("submit_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("awaiting_capacity", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("store_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("poll_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("callback_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("notified_progress", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("webhook_seq", sa.Integer(), server_default="0", nullable=False),
        sa.Column("dispatch_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("event_seq", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("price >= 0 AND charged >= 0", name=op.f("ck_jobs_amounts_not_negative")),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name=op.f("ck_jobs_progress_range")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_jobs_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.key_id"], name=op.f("fk_jobs_api_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(["parent_job_id"], ["jobs.job_id"], name=op.f("fk_jobs_parent_job_id_jobs")),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("callback_token", name=op.f("uq_jobs_callback_token")),
    )
    op.create_index(
        "ix_jobs_account_id_client_reference",
        "jobs",
        ["account_id", "client_reference"],
        unique=False,
        postgresql_where=sa.text("client_reference IS NOT NULL"),
    )
    op.create_index("ix_jobs_account_id_job_id", "jobs", ["account_id", "job_id"], unique=False)
    op.create_index(
        "ix_jobs_account_id_open",
        "jobs",
        ["account_id"],
        unique=False,
        postgresql_where=sa.text(
            "state IN ('queued','submitting','submitted','running','action_required','storing')"
        ),
    )
    op.create_index(
        "ix_jobs_finished_at",
        "jobs",
        ["finished_at"],
        unique=False,
        postgresql_where=sa.text("finished_at IS NOT NULL"),
    )
    op.create_index(
        "ix_jobs_next_check_at",
        "jobs",
        ["next_check_at"],
        unique=False,
        postgresql_where=sa.text(
            "state IN ('queued','submitting','submitted','running','action_required','storing')"
        ),
    )
    op.create_index(
        "ix_jobs_provider_awaiting_capacity",
        "jobs",
        ["provider", "created_at"],
        unique=False,
        postgresql_where=sa.text("state = 'queued' AND awaiting_capacity"),
    )
    op.create_index(
        "ix_jobs_provider_channel_active",
        "jobs",
        ["provider", "channel"],
        unique=False,
        postgresql_where=sa.text("state IN ('submitting','submitted','running','action_required')"),
    )
    op.create_index("ix_jobs_provider_external_id", "jobs", ["provider", "external_id"], unique=False)
    op.create_table(
        "holds",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('open','captured','released')", name=op.f("ck_holds_state_known")),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_holds_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_holds_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.job_id"], name=op.f("fk_holds_job_id_jobs")),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_holds")),
    )
    op.create_index(op.f("ix_holds_account_id"), "holds", ["account_id"], unique=False)
    op.create_index(
        "ix_holds_open", "holds", ["account_id"], unique=False, postgresql_where=sa.text("state = 'open'")
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("response_status", sa.SmallInteger(), nullable=False),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_idempotency_keys_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.job_id"], name=op.f("fk_idempotency_keys_job_id_jobs")),
        sa.PrimaryKeyConstraint("account_id", "idempotency_key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "job_events",
        sa.Column("event_id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.SmallInteger(), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.job_id"], name=op.f("fk_job_events_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_job_events")),
        sa.UniqueConstraint("job_id", "sequence", name=op.f("uq_job_events_job_id_sequence")),
    )
    op.create_table(
        "job_outputs",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("output_index", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.job_id"], name=op.f("fk_job_outputs_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "output_index", name=op.f("pk_job_outputs")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("entry_id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('credit','hold','capture','release')", name=op.f("ck_ledger_entries_kind_known")
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_ledger_entries_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_ledger_entries_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.job_id"], name=op.f("fk_ledger_entries_job_id_jobs")),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_ledger_entries")),
    )
    op.create_index(op.f("ix_ledger_entries_account_id"), "ledger_entries", ["account_id"], unique=False)
    op.create_index(
        "uq_ledger_entries_hold",
        "ledger_entries",
        ["job_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'hold'"),
    )
    op.create_index(
        "uq_ledger_entries_resolution",
        "ledger_entries",
        ["job_id"],
        unique=True,
        postgresql_where=sa.text("kind IN ('capture','release')"),
    )
    op.create_table(
        "outbox",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending','delivered','dead','disabled')", name=op.f("ck_outbox_state_known")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_outbox_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.job_id"], name=op.f("fk_outbox_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("job_id", "sequence", name=op.f("uq_outbox_job_id_sequence")),
    )
    op.create_index(
        "ix_outbox_dead", "outbox", ["created_at"], unique=False, postgresql_where=sa.text("state = 'dead'")
    )
    op.create_index(
        "ix_outbox_next_attempt_at",
        "outbox",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("attempt_id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbox.event_id"],
            name=op.f("fk_webhook_attempts_event_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(op.f("ix_webhook_attempts_event_id"), "webhook_attempts", ["event_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_attempts_event_id"), table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index(
        "ix_outbox_next_attempt_at", table_name="outbox", postgresql_where=sa.text("state = 'pending'")
    )
    op.drop_index("ix_outbox_dead", table_name="outbox", postgresql_where=sa.text("state = 'dead'"))
    op.drop_table("outbox")
    op.drop_index(
        "uq_ledger_entries_resolution",
        table_name="ledger_entries",
        postgresql_where=sa.text("kind IN ('capture','release')"),
    )
    op.drop_index(
        "uq_ledger_entries_hold", table_name="ledger_entries", postgresql_where=sa.text("kind = 'hold'")
    )
    op.drop_index(op.f("ix_ledger_entries_account_id"), table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("job_outputs")
    op.drop_table("job_events")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_holds_open", table_name="holds", postgresql_where=sa.text("state = 'open'"))
    op.drop_index(op.f("ix_holds_account_id"), table_name="holds")
    op.drop_table("holds")
    op.drop_index("ix_jobs_provider_external_id", table_name="jobs")
    op.drop_index(
        "ix_jobs_provider_channel_active",
        table_name="jobs",
        postgresql_where=sa.text("state IN ('submitting','submitted','running','action_required')"),
    )
    op.drop_index(
        "ix_jobs_provider_awaiting_capacity",
        table_name="jobs",
        postgresql_where=sa.text("state = 'queued' AND awaiting_capacity"),
    )
    op.drop_index(
        "ix_jobs_next_check_at",
        table_name="jobs",
        postgresql_where=sa.text(
            "state IN ('queued','submitting','submitted','running','action_required','storing')"
        ),
    )
    op.drop_index(
        "ix_jobs_finished_at", table_name="jobs", postgresql_where=sa.text("finished_at IS NOT NULL")
    )
    op.drop_index(
        "ix_jobs_account_id_open",
        table_name="jobs",
        postgresql_where=sa.text(
            "state IN ('queued','submitting','submitted','running','action_required','storing')"
        ),
    )
    op.drop_index("ix_jobs_account_id_job_id", table_name="jobs")
    op.drop_index(
        "ix_jobs_account_id_client_reference",
        table_name="jobs",
        postgresql_where=sa.text("client_reference IS NOT NULL"),
    )
    op.drop_table("jobs")
    op.drop_index(op.f("ix_webhook_secrets_account_id"), table_name="webhook_secrets")
    op.drop_table("webhook_secrets")
    op.drop_table("disabled_endpoints")
    op.drop_index(op.f("ix_api_keys_account_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("channel_states")
    op.drop_table("accounts")
