"""A tenant's own API keys: what a new key may do, and how a key is shown. Amounts are integer
micro-credits (1 credit = 1,000,000)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from schemas.jobs import NOT_TEXT_OR_BOOL, STORABLE_TEXT, Identifier

MAX_KEY_LIFETIME_S = 10 * 366 * 86_400
MAX_CAP = 10**18  # as the largest credit amount


class KeyCreate(BaseModel):
    """A new key of the caller's account. It can do no more than the key that issues it: its expiry,
    providers and cap are at most the issuer's."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200, pattern=STORABLE_TEXT, examples=["render-farm"])
    expires_in_s: Annotated[int, Field(ge=1, le=MAX_KEY_LIFETIME_S), NOT_TEXT_OR_BOOL] | None = Field(
        default=None, description="Seconds from now until the key stops working; null: it does not expire."
    )
    allowed_providers: list[Identifier] | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The providers the key may create jobs with; null: every provider. It reads every job "
        "of the account.",
    )
    monthly_spend_cap: Annotated[int, Field(ge=0, le=MAX_CAP), NOT_TEXT_OR_BOOL] | None = Field(
        default=None,
        description="Micro-credits the key's jobs may hold or be charged per calendar month (UTC), failed "
        "jobs' released holds not counted; a create past it is refused `key_budget_exceeded` (402). "
        "null: no cap.",
        examples=[50_000_000],
    )
    manage_keys: StrictBool = Field(
        default=False, description="Whether the key may itself issue, list and revoke the account's keys."
    )


class KeyInfo(BaseModel):
    """An API key as its account sees it; never its secret."""

    prefix: str = Field(description="The visible start of the key, e.g. `gr_1a2b3c4d`.")
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    allowed_providers: list[str] | None = Field(description="null: every provider.")
    monthly_spend_cap: int | None = Field(description="Micro-credits per month; null: no cap.")
    spent_this_month: int = Field(
        description="Micro-credits held or charged this calendar month (UTC) for the jobs the key made."
    )
    manage_keys: bool
    last_used_at: datetime | None = Field(
        description="When the key last authenticated a request, to within the API's key cache window."
    )
    last_used_ip: str | None = Field(description="The client address of that request.")


class IssuedKey(KeyInfo):
    secret: str = Field(description="The API key itself: shown only now, never stored.")


class KeyList(BaseModel):
    data: list[KeyInfo] = Field(description="Newest first.")
