"""SQLAlchemy models: the system of record. Money columns are integer micro-credits."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
NON_TERMINAL_SQL = "state IN ('queued','submitting','submitted','running','action_required','storing')"
# Jobs that hold a slot of their channel: a request may be, or a task is, upstream.
UPSTREAM_ACTIVE_SQL = "state IN ('submitting','submitted','running','action_required')"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSONB, datetime: DateTime(timezone=True)}


def table(model: type[Base]) -> Table:
    """The model's table, for Core statements built once and executed with bound values."""
    return Base.metadata.tables[model.__tablename__]


def _now() -> Mapped[datetime]:
    return mapped_column(server_default=func.now())


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("credits_added - captured - held >= 0", name="available_not_negative"),
        CheckConstraint("held >= 0 AND captured >= 0 AND credits_added >= 0", name="amounts_not_negative"),
        CheckConstraint("open_jobs >= 0", name="open_jobs_not_negative"),
        CheckConstraint("price_multiplier_ppm > 0", name="multiplier_positive"),
        CheckConstraint("rate_limit_rps > 0 AND max_open_jobs > 0", name="limits_positive"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    price_multiplier_ppm: Mapped[int] = mapped_column(Integer, server_default="1000000")
    credits_added: Mapped[int] = mapped_column(BigInteger, server_default="0")
    captured: Mapped[int] = mapped_column(BigInteger, server_default="0")
    held: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # Unfinished jobs, i.e. open holds: kept with `held` by the ledger, so the open-jobs limit is
    # checked in the reserving statement itself instead of by counting the account's jobs.
    open_jobs: Mapped[int] = mapped_column(Integer, server_default="0")
    # Tenant limits; NULL means the deployment's default (settings.rate_limit_rps / max_open_jobs).
    rate_limit_rps: Mapped[int | None] = mapped_column(Integer)
    max_open_jobs: Mapped[int | None] = mapped_column(Integer)
    # Days a succeeded job's stored outputs are kept; NULL: settings.output_retention_days.
    output_retention_days: Mapped[int | None] = mapped_column(Integer)
    # Days a finished job's input and metadata are kept; NULL: settings.input_retention_days.
    input_retention_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _now()


class ApiKey(Base):
    __tablename__ = "api_keys"

    key_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    name: Mapped[str] = mapped_column(String(200), server_default="")
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = _now()
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    # The providers its jobs may use; NULL: every one.
    providers: Mapped[list[str] | None] = mapped_column(ARRAY(String(64)))
    # Micro-credits its jobs may hold and be charged per calendar month (UTC); NULL: no cap.
    monthly_cap: Mapped[int | None] = mapped_column(BigInteger)
    # Whether it may issue, list and revoke the account's keys.
    manage_keys: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    last_used_at: Mapped[datetime | None]
    last_used_ip: Mapped[str | None] = mapped_column(String(45))


class KeySpend(Base):
    """What a key's jobs hold or were charged, per month of their creation: a hold adds its amount, a
    release takes it back, a capture leaves it. Kept by the ledger under the account's row lock."""

    __tablename__ = "key_spend"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_keys.key_id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger, server_default="0")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_account_id_job_id", "account_id", "job_id"),
        Index("ix_jobs_next_check_at", "next_check_at", postgresql_where=text(NON_TERMINAL_SQL)),
        # Counts an account's unfinished jobs cheaply (its open-jobs limit).
        Index("ix_jobs_account_id_open", "account_id", postgresql_where=text(NON_TERMINAL_SQL)),
        Index("ix_jobs_provider_external_id", "provider", "external_id"),
        # /metrics reads the jobs that finished recently (orchestrator/ops/metrics.py).
        Index("ix_jobs_finished_at", "finished_at", postgresql_where=text("finished_at IS NOT NULL")),
        # The retention sweep reads the succeeded jobs whose outputs are still kept, oldest first.
        Index(
            "ix_jobs_finished_at_outputs_kept",
            "finished_at",
            postgresql_where=text("state = 'succeeded' AND outputs_expired_at IS NULL"),
        ),
        Index(
            "ix_jobs_finished_at_inputs_kept",
            "finished_at",
            postgresql_where=text("finished_at IS NOT NULL AND inputs_cleared_at IS NULL"),
        ),
        Index(
            "ix_jobs_provider_channel_active",
            "provider",
            "channel",
            postgresql_where=text(UPSTREAM_ACTIVE_SQL),
        ),
        Index(
            "ix_jobs_provider_awaiting_capacity",
            "provider",
            "created_at",
            postgresql_where=text("state = 'queued' AND awaiting_capacity"),
        ),
        Index(
            "ix_jobs_account_id_client_reference",
            "account_id",
            "client_reference",
            postgresql_where=text("client_reference IS NOT NULL"),
        ),
        # One job per line of a batch, whoever expands it.
        Index(
            "ix_jobs_batch_id_client_reference",
            "batch_id",
            "client_reference",
            unique=True,
            postgresql_where=text("batch_id IS NOT NULL"),
        ),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_range"),
        CheckConstraint("price >= 0 AND charged >= 0", name="amounts_not_negative"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.account_id"))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.key_id"))
    provider: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(64))
    input: Mapped[dict[str, Any]]
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB)
    callback_url: Mapped[str | None] = mapped_column(Text)
    # The route family a job came in through ("unified", "kling", "midjourney", ...): its webhooks
    # speak that shape. `client_reference` is the client's own id for it (Kling external_task_id).
    api_format: Mapped[str] = mapped_column(String(16), server_default="unified")
    client_reference: Mapped[str | None] = mapped_column(String(255))
    callback_token: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    progress: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    price: Mapped[int] = mapped_column(BigInteger)
    charged: Mapped[int] = mapped_column(BigInteger, server_default="0")
    channel: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(128))
    upstream_status: Mapped[str | None] = mapped_column(String(64))
    pending_outputs: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    # Non-file results a projection needs (Midjourney buttons, Suno clip titles, lyrics text).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # When a client deleted the job's stored outputs (`DELETE /v1/videos/{id}`): the row, its timeline
    # and its money stay; the files are gone and the route families no longer show it.
    data_deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When its stored outputs were deleted at the end of their retention.
    outputs_expired_at: Mapped[datetime | None]
    # When its input and metadata were cleared (their retention, or its data deleted).
    inputs_cleared_at: Mapped[datetime | None]
    parent_job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.job_id"))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    # The provider's own failure code and message (`{"code", "message"}`, redacted), when it gave them.
    provider_error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    submit_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # Queued with no channel able to take it (all at capacity or unhealthy): admitted first in, first out.
    awaiting_capacity: Mapped[bool] = mapped_column(server_default="false")
    store_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    poll_count: Mapped[int] = mapped_column(Integer, server_default="0")
    callback_count: Mapped[int] = mapped_column(Integer, server_default="0")
    notified_progress: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    webhook_seq: Mapped[int] = mapped_column(Integer, server_default="0")
    dispatch_count: Mapped[int] = mapped_column(Integer, server_default="0")
    event_seq: Mapped[int] = mapped_column(Integer, server_default="0")
    next_check_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime]
    # The client's start-by deadline: a job not accepted upstream by then expires, never sent later.
    start_deadline_at: Mapped[datetime | None]
    # The event types the client wants (webhooks and streams); None: all of them.
    webhook_events: Mapped[list[str] | None] = mapped_column(JSONB)
    # The server-side batch whose line made the job (its custom_id is the job's client_reference).
    batch_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("batches.batch_id"))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    submitted_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    polled_at: Mapped[datetime | None]  # the latest poll's
    # When the task ended upstream, as closely as genrelay can tell: after the poll that last saw it
    # running, by the one that saw it end (a callback: both on its arrival). Polling learns from it.
    upstream_ended_after: Mapped[datetime | None]
    upstream_ended_by: Mapped[datetime | None]


class JobEvent(Base):
    """One step of a job's timeline. A step that makes a tenant event (`outbox.EVENT_TYPES`) also keeps
    the job's account and the job as the API showed it then, for the event streams to replay."""

    __tablename__ = "job_events"
    __table_args__ = (
        UniqueConstraint("job_id", "sequence"),
        # An account's event stream reads its events in the order their transactions ended.
        Index(
            "ix_job_events_account_id_xact_id",
            "account_id",
            "xact_id",
            postgresql_where=text("account_id IS NOT NULL"),
        ),
    )

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.job_id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    progress: Mapped[int] = mapped_column(SmallInteger)
    detail: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = _now()
    account_id: Mapped[uuid.UUID | None]
    snapshot: Mapped[dict[str, Any] | None]
    # The id of the transaction that wrote the row (`orchestrator.streams` reads why).
    xact_id: Mapped[int | None] = mapped_column(
        BigInteger, server_default=text("(pg_current_xact_id()::text::bigint)")
    )


class JobOutput(Base):
    __tablename__ = "job_outputs"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.job_id", ondelete="CASCADE"), primary_key=True)
    output_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    storage_key: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(128))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()


class Hold(Base):
    __tablename__ = "holds"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("state IN ('open','captured','released')", name="state_known"),
        Index("ix_holds_open", "account_id", postgresql_where=text("state = 'open'")),  # for /metrics
    )

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.job_id"), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), server_default="open")
    created_at: Mapped[datetime] = _now()
    resolved_at: Mapped[datetime | None]


class LedgerEntry(Base):
    """Append-only journal of every movement of credits."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("kind IN ('credit','hold','capture','release')", name="kind_known"),
        # A job's hold is resolved at most once, whichever way.
        Index(
            "uq_ledger_entries_resolution",
            "job_id",
            unique=True,
            postgresql_where=text("kind IN ('capture','release')"),
        ),
        Index("uq_ledger_entries_hold", "job_id", unique=True, postgresql_where=text("kind = 'hold'")),
    )

    entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.job_id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class OutboxEvent(Base):
    """A tenant-facing event, written in the transaction of the change it reports, and its delivery:
    `pending` until a 2xx, then `delivered`; `dead` once the retry schedule is spent, `disabled` when
    its endpoint answered 410."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("job_id", "sequence"),
        Index("ix_outbox_next_attempt_at", "next_attempt_at", postgresql_where=text("state = 'pending'")),
        Index("ix_outbox_dead", "created_at", postgresql_where=text("state = 'dead'")),  # for /metrics
        CheckConstraint("state IN ('pending','delivered','dead','disabled')", name="state_known"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # A job's event, or (job_id NULL) a batch's: `batch.completed`.
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.job_id", ondelete="CASCADE"))
    batch_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("batches.batch_id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.account_id"))
    event_type: Mapped[str] = mapped_column(String(32))
    sequence: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    # The job as it was when the event happened; result links are minted at each attempt.
    snapshot: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = _now()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    delivered_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One try at delivering an event: what the receiver answered, and how fast."""

    __tablename__ = "webhook_attempts"

    attempt_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outbox.event_id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    latency_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class WebhookSecret(Base):
    """An account's signing secrets: the newest signs, and during a rotation the previous one too."""

    __tablename__ = "webhook_secrets"

    secret_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime | None]


class DisabledEndpoint(Base):
    """A receiver URL that answered 410 Gone: nothing more is sent there."""

    __tablename__ = "disabled_endpoints"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.account_id"), primary_key=True)
    url: Mapped[str] = mapped_column(Text, primary_key=True)
    disabled_at: Mapped[datetime] = _now()


class ChannelState(Base):
    """What operators and health checks changed about a channel: overrides of the channel file
    (enabled, weight, concurrency cap) and the circuit breaker's state."""

    __tablename__ = "channel_states"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool | None]
    weight: Mapped[int | None] = mapped_column(Integer)
    max_concurrency: Mapped[int | None] = mapped_column(Integer)
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    open_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = _now()


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.account_id"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.job_id"))
    response_status: Mapped[int] = mapped_column(SmallInteger)
    response_body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = _now()


class SweepState(Base):
    """When the sweep last ran: one row, stamped by every sweep, read by /metrics and /readyz. Beat
    keeps nothing on disk, so this is how a dead beat (or no worker on the sweep queue) shows."""

    __tablename__ = "sweep_state"
    __table_args__ = (CheckConstraint("singleton", name="one_row"),)

    singleton: Mapped[bool] = mapped_column(primary_key=True, server_default="true")
    last_swept_at: Mapped[datetime]


class DurationStat(Base):
    """How long a provider's model took to run (accepted upstream to finished) over its recently
    succeeded jobs: refreshed by the sweep from `jobs`, read for jobs' estimated finish."""

    __tablename__ = "duration_stats"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    samples: Mapped[int] = mapped_column(Integer)
    p10_s: Mapped[float]
    p50_s: Mapped[float]
    p90_s: Mapped[float]
    refreshed_at: Mapped[datetime]
    # Run times from acceptance to the end upstream (not to when genrelay saw it), at QUANTILES, and
    # the poll times (seconds after acceptance) planned from them; unset until there are enough.
    run_quantiles_s: Mapped[list[float] | None] = mapped_column(ARRAY(Float))
    poll_schedule_s: Mapped[list[float] | None] = mapped_column(ARRAY(Float))


class Batch(Base):
    """A server-side batch: its lines (`BatchLine`) become jobs, a chunk per transaction, as the
    account's open-jobs limit allows; it completes when every line has ended, one way or another."""

    __tablename__ = "batches"
    __table_args__ = (
        Index("ix_batches_account_id_batch_id", "account_id", "batch_id"),
        Index(
            "ix_batches_next_expand_at", "next_expand_at", postgresql_where=text("next_expand_at IS NOT NULL")
        ),
        Index(
            "ix_batches_in_progress",
            "created_at",
            postgresql_where=text("state IN ('in_progress','cancelling') AND expanded_at IS NOT NULL"),
        ),
        Index(
            "ix_batches_account_id_idempotency_key",
            "account_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        CheckConstraint("state IN ('in_progress','cancelling','completed','cancelled')", name="state_known"),
    )

    batch_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.account_id"))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.key_id"))
    # The account's price multiplier when the batch was accepted: every line is priced with it.
    price_multiplier_ppm: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    callback_url: Mapped[str | None] = mapped_column(Text)
    # The create's Idempotency-Key, and the hash of the body it came with: a retried upload replays it.
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    total: Mapped[int] = mapped_column(Integer)
    # When lines wait to become jobs: due now, or when the open-jobs limit may have room; NULL once all did.
    next_expand_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _now()
    expanded_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class BatchLine(Base):
    """One line of a batch: pending (no job, no error), a job, or refused with an error."""

    __tablename__ = "batch_lines"
    __table_args__ = (
        UniqueConstraint("batch_id", "custom_id"),
        Index(
            "ix_batch_lines_pending",
            "batch_id",
            "line_no",
            postgresql_where=text("job_id IS NULL AND error_code IS NULL"),
        ),
    )

    batch_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("batches.batch_id", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    custom_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any] | None]  # cleared once the line is a job or refused
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.job_id"))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)


class RequestLogEntry(Base):
    """One authenticated request, as its account may review it: never a body, a prompt or a key."""

    __tablename__ = "request_log"
    __table_args__ = (Index("ix_request_log_account_id_entry_id", "account_id", "entry_id"),)

    entry_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # UUIDv7 of the request's arrival
    at: Mapped[datetime]
    account_id: Mapped[uuid.UUID | None]  # None: the operator's admin token
    key_prefix: Mapped[str | None] = mapped_column(String(32))
    request_id: Mapped[str] = mapped_column(String(128))
    client_ip: Mapped[str | None] = mapped_column(String(45))
    method: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(300))
    status: Mapped[int] = mapped_column(SmallInteger)
    latency_ms: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[uuid.UUID | None]
    bytes_in: Mapped[int] = mapped_column(BigInteger)
    bytes_out: Mapped[int] = mapped_column(BigInteger)
