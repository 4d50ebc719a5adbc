"""What a test or an operator tells the simulator and what it reports back: its configuration,
scripted outcomes and refusals, and the counters of each simulated provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from workers.providers.simulation.timeline import Result


class SimConfig(BaseModel):
    """Knobs of the fake upstream; replaced as a whole by `Simulator.configure`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    speed: float = Field(default=1.0, ge=0)  # multiplies every drawn dwell time
    seed: int | None = None
    api_key: str = "sk-simulator"
    # Signs vendor-mode JWTs (Kling); a fake upstream's well-known value, not a secret.
    secret_key: str = "simulator-secret-key-for-vendor-jwts"  # noqa: S105
    failure_rate: float = Field(default=0.0, ge=0, le=1)
    moderation_rate: float = Field(default=0.0, ge=0, le=1)
    submit_error_rate: float = Field(default=0.0, ge=0, le=1)
    rate_limit_rate: float = Field(default=0.0, ge=0, le=1)
    read_timeout_rate: float = Field(default=0.0, ge=0, le=1)
    stall_s: float = Field(default=30.0, ge=0)
    not_found_polls: int = Field(default=1, ge=0)
    duplicate_callback_rate: float = Field(default=0.0, ge=0, le=1)
    reorder_callbacks: bool = False
    drop_callbacks: bool = False
    callback_delay_s: float = Field(default=0.0, ge=0)
    file_size: int = Field(default=65536, ge=0)
    url_ttl_s: float = 3600.0  # a negative value mints already-expired links, for tests
    # How long a finished task's results may be named by follow-ups (Kling's video_id: 30 days); a
    # negative value makes every one too old, for tests.
    asset_ttl_s: float = 30 * 86400.0
    upstream_latency_s: float = Field(default=0.0, ge=0)
    # Model ids (or prefixes ending in `*`) the upstream no longer serves: their creates are refused for
    # good, as OpenAI's own API refuses `sora-*` after the Sora 2 shutdown of 2026-09-24.
    retired_models: tuple[str, ...] = ()

    def retired(self, model: str) -> bool:
        return any(
            model.startswith(name[:-1]) if name.endswith("*") else model == name
            for name in self.retired_models
        )


class Outcome(BaseModel):
    """A scripted fate for the next task; durations are absolute seconds, not scaled by speed.
    `download_error`: the task's result files are refused (403) with this text, as by a CDN that
    does not honour the links the provider handed out. `held`: the task keeps running until
    `Simulator.release` ends it, so a test can act while it is surely unfinished. `code`: the
    provider's own failure code a failing task reports (Runway's `failureCode`, MiniMax's
    `base_resp.status_code`, Ark's `error.code`), where its wire has one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    result: Result
    message: str | None = None
    code: str | None = None
    submitted_s: float | None = Field(default=None, ge=0)
    processing_s: float | None = Field(default=None, ge=0)
    download_error: str | None = None
    held: bool = False


HELD_S = 10.0**9  # a held task's running time, until `Simulator.release` ends it


class SubmitFault(Enum):
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    REJECTED = "rejected"  # refused for good (bad input, policy); only ever scripted


class Refusal(BaseModel):
    """A create refused before anything is created: drawn from the fault rates, or scripted with
    the text the provider answers (upstreams echo what they were sent, keys included) and, with
    `code`, the provider's own code for the refusal (Kling's `code`, Ark's `error.code`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fault: SubmitFault
    message: str | None = None
    code: str | None = None


class DuplicateExternalIdError(Exception):
    """The account already has a task with this external id; nothing was created."""


@dataclass
class Counters:
    creates: int = 0
    create_attempts: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    queries: int = 0
    queries_by_task: dict[str, int] = field(default_factory=dict)
    duplicate_external_ids: int = 0
    callbacks_sent: int = 0
    callbacks_failed: int = 0
    callbacks_dropped: int = 0


class ProviderStats(BaseModel):
    creates: int
    create_attempts: int
    rejected: dict[str, int]
    queries: int
    queries_by_task: dict[str, int]
    duplicate_external_ids: int
    callbacks_sent: int  # answered 2xx
    callbacks_failed: int  # no answer or not 2xx; never retried
    callbacks_dropped: int  # discarded by drop_callbacks
    max_concurrent: int
    running_now: int
