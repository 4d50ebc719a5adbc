"""The demo `genrelay run` shows: a tenant with credits and a key kept in the data folder, and one job
per provider run through the whole system."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from orchestrator import ledger
from orchestrator.db import Database
from orchestrator.errors import AuthenticationError
from orchestrator.models import Account
from orchestrator.pricing import PriceTable
from orchestrator.tenants import accounts
from workers.providers import PROVIDERS
from workers.providers.base import example_input

DEMO_NAME = "demo"
DEMO_CREDITS = 1_000 * ledger.MICROS_PER_CREDIT
DEMO_TIMEOUT_S = 120.0


def ensure_demo_key(db: Database, key_file: Path) -> str:
    """The demo account's API key, creating the account (with credits) and key on first use."""
    if key_file.exists():
        secret = key_file.read_text().strip()
        try:
            with db.transaction() as session:
                accounts.authenticate(session, secret)
            return secret
        except AuthenticationError:
            pass  # the database was reset or the key revoked: issue a new one
    with db.transaction() as session:
        account_id = session.execute(select(Account.account_id).where(Account.name == DEMO_NAME)).scalar()
        if account_id is None:
            account_id = accounts.create_account(session, DEMO_NAME)
            ledger.add_credits(session, account_id, DEMO_CREDITS, "demo credits")
        secret = accounts.issue_key(session, account_id, "demo").secret
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(secret + "\n")
    key_file.chmod(0o600)
    return secret


def sample_jobs(prices: PriceTable) -> list[dict[str, Any]]:
    """One job per provider that needs no parent: its first operation with an example, first priced model."""
    jobs = []
    for name, provider in sorted(PROVIDERS.items()):
        for operation, model in provider.operations.items():
            sample = example_input(model)
            models = prices.models(name, operation)
            if sample is not None and models and "parent_job_id" not in model.model_fields:
                jobs.append({"provider": name, "operation": operation, "model": models[0], "input": sample})
                break
    return jobs


def run_demo_jobs(api_url: str, api_key: str, prices: PriceTable, say: Callable[[str], None]) -> int:
    """Submit one job per provider and report each as it ends; the number that succeeded."""
    headers = {"Authorization": f"Bearer {api_key}"}
    started = time.monotonic()
    with httpx.Client(base_url=api_url, headers=headers, timeout=10) as api:
        pending = {api.post("/v1/jobs", json=body).json()["job_id"]: body for body in sample_jobs(prices)}
        say(f"demo: {len(pending)} jobs submitted, one per provider")
        succeeded = 0
        while pending and time.monotonic() - started < DEMO_TIMEOUT_S:
            for job_id, body in list(pending.items()):
                job = api.get(f"/v1/jobs/{job_id}").json()
                if job["status"] in {"succeeded", "failed", "cancelled", "expired"}:
                    del pending[job_id]
                    succeeded += job["status"] == "succeeded"
                    files = ", ".join(output["label"] or str(output["index"]) for output in job["outputs"])
                    say(
                        f"demo: {body['provider']} {body['operation']} {job['status']} after "
                        f"{time.monotonic() - started:.1f} s ({files or job['error']})"
                    )
            time.sleep(0.5)
    return succeeded
