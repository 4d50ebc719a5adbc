"""Builders for test data through the real use-cases (no rows written by hand)."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any

from orchestrator.db import Database
from orchestrator.pricing import load_price_table
from orchestrator.settings import Settings
from orchestrator.tenants import accounts, creating
from schemas.jobs import JobCreate


@dataclass(frozen=True)
class Tenant:
    account_id: uuid.UUID
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def kling_request(prompt: str = "a paper boat on a lake", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider": "kling",
        "operation": "text2video",
        "model": "kling-v1-6",
        "input": {"prompt": prompt, "duration": 5},
    }
    body.update(overrides)
    return body


def create_job(db: Database, tenant: Tenant, settings: Settings, **overrides: Any) -> uuid.UUID:
    """Create a job as the API would, in one transaction with its hold."""
    with db.transaction() as session:
        principal = accounts.authenticate(session, tenant.api_key)
        request = JobCreate.model_validate(kling_request(**overrides))
        prices = load_price_table(settings.prices_path)
        return creating.create_job(session, principal, request, prices, settings).job_id


def create_at_once(
    db: Database, tenant: Tenant, settings: Settings, threads: int, refusal: type[Exception]
) -> list[str]:
    """`threads` creates of the tenant, each in its own transaction, released together: the sorted
    outcomes, "created", "refused" (it raised `refusal`) or the unexpected error."""
    barrier = threading.Barrier(threads)
    outcomes: list[str] = []

    def create() -> None:
        barrier.wait()
        try:
            create_job(db, tenant, settings)
            outcomes.append("created")
        except refusal:
            outcomes.append("refused")
        except Exception as exc:
            outcomes.append(repr(exc))

    workers = [threading.Thread(target=create) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return sorted(outcomes)
