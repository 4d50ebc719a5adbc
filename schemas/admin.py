"""What the operator's admin API (`/admin/v1`) takes and returns. Amounts are integer micro-credits
(1 credit = 1,000,000); credits may also be given as a decimal string, never as a float."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from schemas.jobs import NOT_TEXT_OR_BOOL, STORABLE_TEXT, Job
from schemas.keys import KeyCreate, KeyInfo

MAX_INT32 = 2**31 - 1  # limits are PostgreSQL integers
MAX_MICRO_CREDITS = 10**18  # about what the largest `credits` string says, and exact as a double
Limit = Annotated[int, Field(ge=1, le=MAX_INT32), NOT_TEXT_OR_BOOL]
RetentionDays = Annotated[int, Field(ge=1, le=36_500), NOT_TEXT_OR_BOOL]


def _nonzero(digits: int) -> str:
    """A run of 1 to `digits` digits, not all zero (a pattern without look-ahead, which the
    validating regex engine lacks)."""
    return "(" + "|".join(f"{'0' * k}[1-9][0-9]{{0,{digits - 1 - k}}}" for k in range(digits)) + ")"


# Above 0, with at most 12 digits before the point and 6 after: a whole number of micro-credits.
DECIMAL_CREDITS = rf"^({_nonzero(12)}(\.[0-9]{{1,6}})?|0{{1,12}}\.{_nonzero(6)})$"
# Above 0 and at most 100, with at most 6 places.
MULTIPLIER = rf"^((0{{0,2}}[1-9]|0?[1-9][0-9])(\.[0-9]{{1,6}})?|0{{1,3}}\.{_nonzero(6)}|100(\.0{{1,6}})?)$"


class CreditAmount(BaseModel):
    """Exactly one of `micro_credits` (an integer) or `credits` (a decimal string such as "12.5")."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["micro_credits"], "properties": {"micro_credits": {"type": "integer"}}},
                {"required": ["credits"], "properties": {"credits": {"type": "string"}}},
            ]
        },
    )

    micro_credits: Annotated[int, Field(gt=0, le=MAX_MICRO_CREDITS), NOT_TEXT_OR_BOOL] | None = Field(
        default=None, examples=[12_500_000]
    )
    credits: str | None = Field(default=None, pattern=DECIMAL_CREDITS, examples=["12.5"])
    note: str | None = Field(
        default=None, max_length=500, pattern=STORABLE_TEXT, description="Kept in the ledger journal."
    )

    @model_validator(mode="after")
    def _exactly_one_positive(self) -> CreditAmount:
        if (self.micro_credits is None) == (self.credits is None):
            raise ValueError("give exactly one of `micro_credits` (integer) or `credits` (decimal string)")
        if self.credits is not None and Decimal(self.credits) <= 0:
            raise ValueError("`credits` must be above 0")
        return self


class AccountLimits(BaseModel):
    """Per-account limits. A field left out is unchanged; `null` means the deployment's default."""

    model_config = ConfigDict(extra="forbid")

    rate_limit_rps: Limit | None = Field(default=None, description="Requests per second per API key.")
    max_open_jobs: Limit | None = Field(default=None, description="Unfinished jobs at once.")
    output_retention_days: RetentionDays | None = Field(
        default=None,
        description="Days a succeeded job's stored outputs are kept, then deleted (the job shows "
        "`outputs_expired_at`).",
    )
    input_retention_days: RetentionDays | None = Field(
        default=None,
        description="Days a finished job's input and metadata are kept, then cleared (the job shows "
        "`inputs_cleared_at`).",
    )


class AccountCreate(AccountLimits):
    name: str = Field(min_length=1, max_length=200, pattern=STORABLE_TEXT)
    price_multiplier: str = Field(default="1", pattern=MULTIPLIER, examples=["0.8"])
    initial_credits: CreditAmount | None = None
    key_name: str = Field(
        default="default", max_length=200, pattern=STORABLE_TEXT, description="Name of the first API key."
    )


class AdminAccount(BaseModel):
    account_id: str
    name: str
    status: Literal["active", "disabled"]
    price_multiplier: str
    credits_added: int
    captured: int
    balance: int = Field(description="credits_added - captured.")
    held: int = Field(description="Sum of the holds of unfinished jobs.")
    available: int = Field(description="balance - held.")
    open_jobs: int = Field(description="Unfinished jobs right now.")
    rate_limit_rps: int | None = Field(description="The account's own limit; null: the default.")
    max_open_jobs: int | None = Field(description="The account's own limit; null: the default.")
    effective_rate_limit_rps: int
    effective_max_open_jobs: int
    output_retention_days: int | None = Field(description="The account's own; null: the default.")
    effective_output_retention_days: int | None = Field(description="null: outputs are kept until deleted.")
    input_retention_days: int | None = Field(description="The account's own; null: the default.")
    effective_input_retention_days: int | None = Field(description="null: inputs are kept until deleted.")
    created_at: datetime


class ApiKeyCreate(KeyCreate):
    """A key the operator issues: it manages the account's keys unless told otherwise."""

    manage_keys: StrictBool = Field(
        default=True, description="Whether the key may itself issue, list and revoke the account's keys."
    )


class ApiKeyInfo(KeyInfo):
    key_id: str
    account_id: str


class IssuedApiKey(ApiKeyInfo):
    secret: str = Field(description="The API key itself: shown only now, never stored.")


class ApiKeyList(BaseModel):
    data: list[ApiKeyInfo] = Field(description="Newest first.")


class AccountCreated(BaseModel):
    account: AdminAccount
    api_key: IssuedApiKey


class JobFail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        default=None, max_length=500, pattern=STORABLE_TEXT, description="Recorded in the job's error."
    )


class AdminJob(Job):
    """A job of any tenant, as the admin API shows it."""

    account_id: str
    next_check_at: datetime | None = Field(description="When the sweep next looks at the job.")


class ChannelBreaker(BaseModel):
    consecutive_failures: int
    open_until: datetime | None
    last_error: str | None


class ChannelView(BaseModel):
    """A channel as admission sees it: its file settings with operators' overrides applied."""

    provider: str
    name: str
    base_url: str
    mode: str
    enabled: bool
    weight: int
    max_concurrency: int | None
    active_jobs: int = Field(
        description="Jobs holding a slot: submitting, submitted, running, action_required."
    )
    breaker: ChannelBreaker


class ChannelUpdate(BaseModel):
    """Overrides of the channel file; a field left out is unchanged, `null` returns it to the file's value."""

    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool | None = None
    weight: Limit | None = None
    max_concurrency: Limit | None = None
