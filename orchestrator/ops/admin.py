"""Operator use-cases behind the admin API: the admin token check, accounts (status, limits, credits,
keys), and rescuing any tenant's jobs and webhook events. They run in the caller's transaction."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from orchestrator import ledger, lifecycle
from orchestrator.errors import (
    AccountNotFoundError,
    AdminDisabledError,
    AuthenticationError,
    JobFinishedError,
    JobNotFoundError,
    NotFoundError,
)
from orchestrator.models import Account, Job, OutboxEvent
from orchestrator.pipeline import webhooks
from orchestrator.pipeline.failures import failure_columns
from orchestrator.settings import Settings
from orchestrator.tenants import accounts
from schemas.admin import AccountCreate, AccountLimits, CreditAmount
from schemas.jobs import JobStatus

FAILED_BY_OPERATOR = "failed_by_operator"


def check_token(configured: SecretStr | None, presented: str | None) -> None:
    """Let a request through only with the configured admin token; the admin API is off without one."""
    if configured is None:
        raise AdminDisabledError("the admin API is off: set GENRELAY_ADMIN_TOKEN to turn it on")
    if not presented:
        raise AuthenticationError("send the admin token as `Authorization: Bearer <admin token>`")
    if not tokens_match(presented, configured.get_secret_value()):
        raise AuthenticationError("this is not the admin token (API keys do not open the admin API)")


def tokens_match(presented: str, expected: str) -> bool:
    """Constant time: both sides are hashed first, so compare_digest sees equal lengths and the time
    taken tells nothing about the expected token's content or length."""
    return hmac.compare_digest(_digest(presented), _digest(expected))


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


@dataclass(frozen=True)
class AccountState:
    account: Account
    open_jobs: int


def to_micros(amount: CreditAmount) -> int:
    """Micro-credits, exactly: the schema allows at most six decimal places."""
    if amount.micro_credits is not None:
        return amount.micro_credits
    return int(Decimal(str(amount.credits)) * ledger.MICROS_PER_CREDIT)


def create_account(session: Session, request: AccountCreate) -> tuple[uuid.UUID, accounts.IssuedKey]:
    """A new tenant with its limits, optional initial credits and first API key."""
    account_id = accounts.create_account(session, request.name, price_multiplier=request.price_multiplier)
    set_limits(
        session,
        account_id,
        request.model_dump(exclude_unset=True, include=set(AccountLimits.model_fields)),
    )
    if request.initial_credits is not None:
        add_credits(session, account_id, request.initial_credits)
    return account_id, accounts.issue_key(session, account_id, request.key_name)


def get_account(session: Session, account_id: uuid.UUID) -> AccountState:
    account = session.execute(
        select(Account).where(Account.account_id == account_id).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if account is None:
        raise AccountNotFoundError(f"no account {account_id}")
    return AccountState(account, account.open_jobs)


def set_status(session: Session, account_id: uuid.UUID, status: Literal["active", "disabled"]) -> None:
    """Disable or enable: a disabled account's keys are refused; its running jobs go on to their end."""
    _update_account(session, account_id, {"status": status})


def set_limits(session: Session, account_id: uuid.UUID, changes: dict[str, Any]) -> None:
    """Set the account's limits and retention (None: back to the deployment's default)."""
    _update_account(session, account_id, changes)


def _update_account(session: Session, account_id: uuid.UUID, values: dict[str, Any]) -> None:
    query = update(Account).where(Account.account_id == account_id)
    if values:
        result = session.execute(query.values(values))
        found = bool(result.rowcount)  # type: ignore[attr-defined]
    else:
        found = session.get(Account, account_id) is not None
    if not found:
        raise AccountNotFoundError(f"no account {account_id}")


def add_credits(session: Session, account_id: uuid.UUID, amount: CreditAmount) -> int:
    micros = to_micros(amount)
    ledger.add_credits(session, account_id, micros, amount.note or "added by the operator")
    return micros


def find_job(session: Session, job_id: uuid.UUID, *, lock: bool = False) -> Job:
    """Any tenant's job, as it is now."""
    query = select(Job).where(Job.job_id == job_id).execution_options(populate_existing=True)
    job = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if job is None:
        raise JobNotFoundError(f"no job {job_id}")
    return job


def _unfinished(session: Session, job_id: uuid.UUID) -> JobStatus:
    """The job's state, row locked; JobFinishedError for a job that already ended."""
    state = JobStatus(find_job(session, job_id, lock=True).state)
    if state.is_terminal:
        raise JobFinishedError(f"the job already ended as {state}; nothing to do")
    return state


def refresh_job(session: Session, job_id: uuid.UUID) -> None:
    """Make the job due now, so the sweep submits, reconciles, polls or stores it at once."""
    _unfinished(session, job_id)
    session.execute(update(Job).where(Job.job_id == job_id).values(next_check_at=func.now()))


def fail_job(session: Session, settings: Settings, job_id: uuid.UUID, reason: str | None = None) -> None:
    """End an unfinished job as failed and release its hold, in this transaction. Whatever runs
    upstream is not stopped: its outcome no longer changes the job (every later move is refused)."""
    state = _unfinished(session, job_id)  # the row lock makes the compare-and-set below succeed
    message = "failed by the operator" + (f": {reason}" if reason else "")
    change = lifecycle.Change(
        JobStatus.FAILED,
        columns=failure_columns(settings, FAILED_BY_OPERATOR, message),
        detail={"reason": FAILED_BY_OPERATOR},
    )
    lifecycle.advance(session, job_id, state, change)


def redeliver(session: Session, event_id: uuid.UUID) -> OutboxEvent:
    """Send any tenant's webhook event again, with the same webhook-id."""
    account_id = session.execute(
        select(OutboxEvent.account_id).where(OutboxEvent.event_id == event_id)
    ).scalar_one_or_none()
    event = webhooks.redeliver(session, account_id, event_id) if account_id is not None else None
    if event is None:
        raise NotFoundError(f"no webhook event {event_id}")
    return event
