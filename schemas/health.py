"""What the readiness probe answers."""

from typing import Literal

from pydantic import BaseModel, Field


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(
        description="What each check found: `ok`, or why not (database, broker, storage, sweep)."
    )
