"""All configuration, read from the environment (and `.env`) into one validated `Settings`."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, IPvAnyNetwork, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrator.messaging import broker_kind
from workers.providers import PROVIDERS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-insecure-secret"  # noqa: S105 - refused outside dev by the validator below
MIN_ADMIN_TOKEN_LENGTH = 24


class PollPolicy(BaseModel):
    """When to ask the provider again: first after `initial_s`, then growing by `factor` up to `max_s`."""

    initial_s: float = Field(default=5.0, gt=0)
    factor: float = Field(default=1.5, ge=1)  # a shrinking delay would poll ever faster
    max_s: float = Field(default=30.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GENRELAY_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
    )

    environment: Literal["dev", "test", "prod"] = Field(
        default="dev", description="`dev`, `test` or `prod`; `prod` refuses insecure defaults."
    )
    data_dir: Path = Field(default=PROJECT_ROOT / ".genrelay", description="Embedded servers' data.")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "GENRELAY_DATABASE_URL"),
        description="PostgreSQL, `postgresql+psycopg://user@host/db`; unset: `genrelay run` embeds one.",
    )
    database_pooling: Literal["session", "transaction"] = Field(
        default="session",
        description=(
            "`transaction` when DATABASE_URL goes through a transaction pooler (PgBouncer "
            "`pool_mode = transaction`): no prepared statements, and LISTEN on GENRELAY_DATABASE_LISTEN_URL."
        ),
    )
    database_listen_url: str | None = Field(
        default=None,
        description=(
            "A direct connection to PostgreSQL for LISTEN (`Prefer: wait`, event streams); default "
            "DATABASE_URL. Required with transaction pooling: LISTEN needs a session of its own."
        ),
    )
    broker_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("BROKER_URL", "GENRELAY_BROKER_URL"),
        description=(
            "Redis, `redis://host:6379/0`, or RabbitMQ, `amqp://user:password@host:5672/vhost`; unset, "
            "`genrelay run` starts an embedded Redis."
        ),
    )
    broker_key_prefix: str = Field(
        default="",
        description=(
            "Prefix of every Redis key, so several deployments can share one Redis (on RabbitMQ, give "
            "each deployment its own vhost)."
        ),
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "GENRELAY_REDIS_URL"),
        description=(
            "Redis for the per-key rate limit, shared by every API process; default BROKER_URL when "
            "that is Redis. Unset with RabbitMQ: each API process limits on its own."
        ),
    )

    api_host: str = Field(default="127.0.0.1", description="Where `genrelay api` listens.")
    api_port: int = Field(default=8000, description="Where `genrelay api` listens.")
    public_base_url: str = Field(default="http://127.0.0.1:8000", description="How others reach the API.")

    storage_backend: Literal["local", "s3"] = Field(
        default="local",
        validation_alias=AliasChoices("STORAGE_BACKEND", "GENRELAY_STORAGE_BACKEND"),
        description="`local` (files served by the API behind signed links) or `s3` (S3, R2, MinIO).",
    )
    storage_dir: Path | None = Field(
        default=None, description="Local backend root; default data_dir/storage."
    )
    s3_bucket: str | None = Field(
        default=None,
        validation_alias=AliasChoices("S3_BUCKET", "GENRELAY_S3_BUCKET"),
        description="Bucket of the `s3` backend.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("S3_ENDPOINT_URL", "GENRELAY_S3_ENDPOINT_URL"),
        description="S3-compatible endpoint (R2: `https://<account>.r2.cloudflarestorage.com`); unset: AWS.",
    )
    s3_region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("S3_REGION", "GENRELAY_S3_REGION"),
        description="Region (R2: `auto`).",
    )
    s3_access_key_id: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("S3_ACCESS_KEY_ID", "GENRELAY_S3_ACCESS_KEY_ID"),
        description="Storage credentials (unset: the usual AWS credential chain).",
    )
    s3_secret_access_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("S3_SECRET_ACCESS_KEY", "GENRELAY_S3_SECRET_ACCESS_KEY"),
        description="Storage credentials.",
    )
    s3_addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto",
        validation_alias=AliasChoices("S3_ADDRESSING_STYLE", "GENRELAY_S3_ADDRESSING_STYLE"),
        description="`auto`, `path` (MinIO) or `virtual`.",
    )
    download_url_ttl_s: int = Field(default=3600, ge=1, le=604_800, description="Presigned URL lifetime.")
    url_signing_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET), description="Signs local download links; required outside dev."
    )

    upstream_base_url: str = Field(default="http://127.0.0.1:8700", description="CometAPI or the simulator.")
    simulator_port: int = Field(default=8700, description="Where `genrelay run` starts the simulator.")
    channels_file: Path | None = Field(
        default=None,
        description="Upstream channels per provider; unset: CometAPI (upstream_base_url) for all.",
    )
    upstream_api_key: SecretStr = Field(
        default=SecretStr("sk-simulator"), description="Key of the default upstream (CometAPI)."
    )

    prices_path: Path | None = Field(
        default=None,
        description="A price file, or a folder of them (*.toml), replacing the prices of the providers "
        "it prices; unset: each provider's own price file.",
    )

    sweep_interval_s: float = Field(
        default=1.0, gt=0, description="How often beat sweeps for due jobs and webhook events."
    )
    sweep_batch: int = Field(default=500, ge=1, description="Jobs claimed per sweep transaction.")
    sweep_stale_after_s: float = Field(
        default=60.0,
        gt=0,
        description="/readyz fails once the last sweep is older than this (beat or the sweep worker down).",
    )
    poll_batch: int = Field(default=50, ge=1, description="Jobs per poll task.")
    poll_concurrency: int = Field(default=16, ge=1, description="Upstream queries a poll task makes at once.")
    poll: dict[str, PollPolicy] = Field(
        default_factory=lambda: {"default": PollPolicy()},
        description="Poll cadence per provider (or `default`): `initial_s`, times `factor`, up to `max_s`.",
    )
    callback_poll: PollPolicy = Field(
        default_factory=lambda: PollPolicy(initial_s=60.0, factor=2.0, max_s=600.0),
        description="Safety-net polling once a job's provider has called back at least once.",
    )
    learned_poll_every_s: float | None = Field(
        default=15.0,
        gt=0,
        description="Poll a model's jobs at times planned from its measured run times, spending no more "
        "polls per job than its poll policy or a poll every this many seconds would; unset: the policy only.",
    )
    upstream_callbacks: bool = Field(default=True, description="Give providers a callback URL.")

    breaker_failures: int = Field(
        default=5, ge=1, description="Consecutive upstream failures that open a channel."
    )
    breaker_cooldown_s: float = Field(default=30.0, gt=0, description="How long an open channel rests.")

    webhook_allowlist: list[str] = Field(
        default_factory=list, description="Hosts or CIDRs tenant webhooks may reach although not public."
    )
    output_retention_days: int | None = Field(
        default=None,
        ge=1,
        description="Days a succeeded job's stored outputs are kept, then deleted; unset: until deleted. "
        "An account's own value wins.",
    )
    input_retention_days: int | None = Field(
        default=None,
        ge=1,
        description="Days a finished job's input and metadata are kept, then cleared (the job, its "
        "timeline and the ledger stay); unset: kept. An account's own value wins.",
    )
    request_log: bool = Field(
        default=True, description="Record every authenticated request (`GET /v1/requests`)."
    )
    request_log_days: int = Field(default=30, ge=1, description="Days the request log is kept.")
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="CIDRs of the proxies in front of the API, whose `X-Forwarded-For` names the client "
        '(e.g. `["10.0.0.0/8"]`); from any other peer the header is ignored.',
    )
    webhook_retry_delays_s: list[float] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        description="Waits before each retry of a failed delivery (then it is dead-lettered).",
    )
    webhook_timeout_s: float = Field(
        default=15.0, gt=0, description="A tenant's receiver must answer within this."
    )
    webhook_rotation_overlap_s: float = Field(default=86400.0, ge=0, description="Old secret stays valid.")
    stream_keepalive_s: float = Field(
        default=15.0, gt=0, description="An idle event stream sends a keep-alive comment this often."
    )
    deadline_s: dict[str, float] = Field(
        default_factory=lambda: {"default": 3600.0},
        description="Per provider, or per `provider/model`; a provider not named here keeps its own "
        "default (`genrelay providers`), and `default` covers the rest.",
    )
    submit_lease_s: float = Field(default=60.0, gt=0, description="After this, a submit is presumed lost.")
    store_lease_s: float = Field(
        default=300.0, gt=0, description="After this, a store presumed lost is retried."
    )
    redispatch_after_s: float = Field(default=10.0, gt=0, description="Re-enqueue a queued job after this.")
    max_submit_attempts: int = Field(
        default=8,
        ge=1,
        description="Submits that found the provider unavailable before the job fails (hold released).",
    )
    max_store_attempts: int = Field(
        default=5,
        ge=1,
        description="Failed downloads of a result before the job fails (hold released); "
        "an outage of genrelay's own bucket spends none.",
    )
    upstream_timeout_s: float = Field(default=30.0, gt=0, description="Timeout of upstream API calls.")
    download_timeout_s: float = Field(default=120.0, gt=0, description="Timeout of result downloads.")

    # Operations: logs, /metrics, Flower, graceful shutdown.
    log_format: Literal["json", "text"] | None = Field(
        default=None, description="Unset: text in dev, one JSON object per line elsewhere."
    )
    log_level: str = Field(default="INFO", description="Level of the API's, workers' and beat's logs.")
    metrics_window_s: float = Field(
        default=300.0, gt=0, description="/metrics reports jobs created and finished this recently."
    )
    metrics_on_api: bool = Field(
        default=True,
        description="Serve /metrics on the API's port; production sets false and runs `genrelay metrics`.",
    )
    metrics_host: str = Field(default="127.0.0.1", description="Where `genrelay metrics` listens.")
    metrics_port: int = Field(default=9464, description="Where `genrelay metrics` listens.")
    metrics_token: SecretStr | None = Field(
        default=None, description="Set: /metrics answers only `Authorization: Bearer <token>`."
    )
    api_shutdown_timeout_s: float = Field(
        default=20.0, ge=0, description="On SIGTERM the API finishes in-flight requests for this long."
    )
    worker_soft_shutdown_s: float = Field(
        default=20.0, ge=0, description="On SIGQUIT (REMAP_SIGTERM) running tasks get this long."
    )
    flower_host: str = Field(default="127.0.0.1", description="Where `genrelay flower` listens.")
    flower_port: int = Field(default=5555, description="Where `genrelay flower` listens.")
    flower_user: str = Field(default="admin", pattern=r"^[^:,]+$", description="Flower's basic-auth user.")
    flower_password: SecretStr | None = Field(default=None, description="Required outside dev.")
    flower_cookie_secret: SecretStr | None = Field(
        default=None, description="Unset: derived from url_signing_key, so it survives restarts."
    )
    flower_max_tasks: int = Field(default=10_000, ge=100, description="Tasks Flower keeps in memory.")
    flower_purge_offline_s: int = Field(default=600, ge=1, description="Forget a worker gone this long.")
    flower_url_prefix: str = Field(default="", description="When Flower is served under a path.")
    flower_broker_api: SecretStr | None = Field(
        default=None,
        description="RabbitMQ's management API for Flower's queue lengths, `http://user:password@host:15672/api/`.",
    )

    admin_token: SecretStr | None = Field(
        default=None, description="Bearer token of the /admin/v1 API; unset: the admin API is off."
    )
    rate_limit_rps: int = Field(default=50, ge=1, description="Requests/s per API key (burst = rate).")
    max_open_jobs: int = Field(default=1000, ge=1, description="Unfinished jobs an account may have.")
    max_request_bytes: int = Field(default=32 * 1024 * 1024, ge=1024, description="Largest request body.")

    @model_validator(mode="after")
    def _no_insecure_defaults_in_prod(self) -> Settings:
        if self.environment == "prod":
            if self.url_signing_key.get_secret_value() == DEV_SECRET:
                raise ValueError("GENRELAY_URL_SIGNING_KEY must be set outside dev")
            if not (self.database_url and self.broker_url):
                raise ValueError("DATABASE_URL and BROKER_URL must be set outside dev")
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ValueError("S3_BUCKET is required when STORAGE_BACKEND=s3")
        return self

    @model_validator(mode="after")
    def _listen_past_a_transaction_pooler(self) -> Settings:
        if self.database_pooling == "transaction" and self.database_url and not self.database_listen_url:
            raise ValueError(
                "GENRELAY_DATABASE_POOLING=transaction needs GENRELAY_DATABASE_LISTEN_URL: a direct "
                "connection to PostgreSQL (not through the pooler), since LISTEN holds a session"
            )
        return self

    @model_validator(mode="after")
    def _a_broker_genrelay_runs_on(self) -> Settings:
        if self.broker_url:
            broker_kind(self.broker_url)  # raises ValueError naming the schemes it takes
        return self

    @model_validator(mode="after")
    def _sweeps_come_before_they_are_stale(self) -> Settings:
        if self.sweep_stale_after_s <= self.sweep_interval_s:
            raise ValueError(
                "GENRELAY_SWEEP_STALE_AFTER_S must be longer than GENRELAY_SWEEP_INTERVAL_S, "
                "or every sweep would be reported stale before the next one is due"
            )
        return self

    @model_validator(mode="after")
    def _strong_admin_token_outside_dev(self) -> Settings:
        token = self.admin_token.get_secret_value() if self.admin_token else None
        weak = token is not None and (len(token) < MIN_ADMIN_TOKEN_LENGTH or token == DEV_SECRET)
        if weak and self.environment != "dev":
            raise ValueError(
                f"GENRELAY_ADMIN_TOKEN must be a random string of at least {MIN_ADMIN_TOKEN_LENGTH} "
                "characters outside dev, e.g. from `openssl rand -base64 32`"
            )
        return self

    @property
    def effective_log_format(self) -> Literal["json", "text"]:
        return self.log_format or ("text" if self.environment == "dev" else "json")

    @property
    def local_storage_dir(self) -> Path:
        return self.storage_dir or self.data_dir / "storage"

    def require_database_url(self) -> str:
        if not self.database_url:
            raise RuntimeError("DATABASE_URL is not set (genrelay run starts an embedded PostgreSQL)")
        return self.database_url

    def require_listen_url(self) -> str:
        """Where the job-end listener connects: a direct connection, past any transaction pooler."""
        return self.database_listen_url or self.require_database_url()

    def require_broker_url(self) -> str:
        if not self.broker_url:
            raise RuntimeError("BROKER_URL is not set (genrelay run starts an embedded Redis)")
        return self.broker_url

    @property
    def rate_limit_redis_url(self) -> str | None:
        """Where the rate limit's shared buckets live: REDIS_URL, else a Redis broker, else nowhere."""
        if self.redis_url:
            return self.redis_url
        if self.broker_url and broker_kind(self.broker_url) == "redis":
            return self.broker_url
        return None

    def poll_policy(self, provider: str) -> PollPolicy:
        """The operator's cadence for `provider`, else the provider's own, else the default."""
        if provider in self.poll:
            return self.poll[provider]
        hint = PROVIDERS[provider].poll_hint if provider in PROVIDERS else None
        if hint is not None:
            return PollPolicy(initial_s=hint.initial_s, factor=hint.factor, max_s=hint.max_s)
        return self.poll.get("default") or PollPolicy()

    def deadline_for(self, provider: str, model: str) -> float:
        """The operator's deadline for the model or provider, else the provider's own, else the default."""
        table = self.deadline_s
        chosen = table.get(f"{provider}/{model}") or table.get(provider)
        if chosen is None and provider in PROVIDERS:
            chosen = PROVIDERS[provider].deadline_s
        return chosen or table.get("default", 3600.0)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def describe() -> list[tuple[str, str, str]]:
    """Every setting as (environment variable, default, meaning), for `genrelay settings` and the README."""
    rows = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        env = alias.choices[0] if isinstance(alias, AliasChoices) else f"GENRELAY_{name.upper()}"
        default = field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            default = "(dev-only value)" if default.get_secret_value() else ""
        elif isinstance(default, dict):
            default = json.dumps(
                {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in default.items()}
            )
        elif isinstance(default, BaseModel):
            default = default.model_dump_json()
        elif isinstance(default, list):
            default = json.dumps(default)
        elif isinstance(default, Path):
            default = (
                str(default.relative_to(PROJECT_ROOT))
                if default.is_relative_to(PROJECT_ROOT)
                else str(default)
            )
        rows.append((str(env), "" if default is None else str(default), field.description or ""))
    return rows
