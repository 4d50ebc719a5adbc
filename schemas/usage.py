"""What a tenant sees of its own usage: jobs and captured credits, grouped by day, provider, model or key."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

UsageGroup = Literal["day", "provider", "model", "key"]
DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class UsageRow(BaseModel):
    """Jobs created in the period, by how they stand now, and the credits they were charged."""

    group: str = Field(
        description="The day (`2026-12-01`, UTC), the provider, the provider's model (`kling/kling-v1-6`), "
        "or the prefix of the API key that made the jobs (empty for jobs no key made); `total` in `total`."
    )
    jobs: int
    succeeded: int
    failed: int
    cancelled: int
    expired: int
    unfinished: int = Field(description="Not ended yet: their holds are open, nothing captured.")
    captured: int = Field(description="Micro-credits charged for them (1 credit = 1,000,000).")


class UsageReport(BaseModel):
    """`GET /v1/usage`: its rows add up to `total`, and `total.captured` to the ledger's captures."""

    since: str = Field(description="The first day of the period (UTC).")
    until: str = Field(description="The last day of the period (UTC), included.")
    group_by: UsageGroup
    data: list[UsageRow]
    total: UsageRow


USAGE_COLUMNS = tuple(UsageRow.model_fields)
