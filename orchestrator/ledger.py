"""Credits: add, hold, capture, release. The only module that moves money.

Every function runs inside the caller's transaction and never commits. Each movement updates the
account's running totals and appends one `ledger_entries` row; a job's hold is resolved at most once
(a partial unique index backs that up), and resolving it again the same way is a no-op.
"""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from orchestrator.errors import (
    AccountDisabledError,
    AccountNotFoundError,
    InsufficientCreditsError,
    LedgerError,
    OpenJobsLimitError,
)
from orchestrator.models import Account, Hold, LedgerEntry, table

MICROS_PER_CREDIT = 1_000_000

# The statements of every job's create and settlement, built once with bound values: executing a
# prepared Core statement costs a fraction of building an ORM statement from values on each call.
_INSERT_HOLD = insert(table(Hold))
_INSERT_ENTRY = insert(table(LedgerEntry))
_RESERVE = (
    update(table(Account))
    .where(
        Account.account_id == bindparam("reserving_account"),
        Account.status == "active",
        Account.credits_added - Account.captured - Account.held >= bindparam("reserving"),
        Account.open_jobs < func.coalesce(Account.max_open_jobs, bindparam("default_max_open_jobs")),
    )
    .values(held=Account.held + bindparam("reserving"), open_jobs=Account.open_jobs + 1)
    .returning(Account.account_id)
)


def add_credits(session: Session, account_id: uuid.UUID, amount: int, note: str | None = None) -> None:
    if amount <= 0:
        raise LedgerError("credits to add must be a positive number of micro-credits")
    result = session.execute(
        update(Account)
        .where(Account.account_id == account_id)
        .values(credits_added=Account.credits_added + amount)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise AccountNotFoundError(f"no account {account_id}")
    _journal(session, account_id, None, "credit", amount, note)


def reserve(
    session: Session, account_id: uuid.UUID, job_id: uuid.UUID, amount: int, *, max_open_jobs: int
) -> None:
    """Hold `amount` for the job and count it among the account's unfinished jobs.

    Raises InsufficientCreditsError when the available credits fall short, and RateLimitedError
    when the account already has its limit of unfinished jobs (its own, else `max_open_jobs`). The
    job row must already be inserted in this transaction. Both checks are in the one statement that
    locks the account row, and that lock is taken last, so concurrent creates of one tenant queue
    only for that statement and the commit, and together never overshoot either bound.
    """
    session.execute(_INSERT_HOLD, {"job_id": job_id, "account_id": account_id, "amount": amount})
    _journal(session, account_id, job_id, "hold", amount, None)
    row = session.execute(
        _RESERVE,
        {"reserving_account": account_id, "reserving": amount, "default_max_open_jobs": max_open_jobs},
    ).one_or_none()
    if row is None:
        _raise_why_not_reserved(session, account_id, amount, max_open_jobs)


def capture(session: Session, job_id: uuid.UUID) -> int:
    """Charge the job's hold; returns the amount charged. Repeating it charges nothing more."""
    hold = _resolve(session, job_id, "captured")
    if hold is None:
        return _already(session, job_id, "captured")
    account_id, amount = hold
    session.execute(
        update(Account)
        .where(Account.account_id == account_id)
        .values(
            held=Account.held - amount, captured=Account.captured + amount, open_jobs=Account.open_jobs - 1
        )
    )
    _journal(session, account_id, job_id, "capture", amount, None)
    return amount


def release(session: Session, job_id: uuid.UUID) -> int:
    """Give the job's hold back to the account; returns the amount released. Repeating it is a no-op."""
    hold = _resolve(session, job_id, "released")
    if hold is None:
        _already(session, job_id, "released")
        return 0
    account_id, amount = hold
    session.execute(
        update(Account)
        .where(Account.account_id == account_id)
        .values(held=Account.held - amount, open_jobs=Account.open_jobs - 1)
    )
    _journal(session, account_id, job_id, "release", amount, None)
    return amount


def _resolve(session: Session, job_id: uuid.UUID, to_state: str) -> tuple[uuid.UUID, int] | None:
    row = session.execute(
        update(Hold)
        .where(Hold.job_id == job_id, Hold.state == "open")
        .values(state=to_state, resolved_at=func.now())
        .returning(Hold.account_id, Hold.amount)
    ).one_or_none()
    return None if row is None else (row.account_id, row.amount)


def _already(session: Session, job_id: uuid.UUID, wanted: str) -> int:
    """The hold is not open: fine if it was resolved the same way, a breach otherwise."""
    hold = session.execute(select(Hold.state, Hold.amount).where(Hold.job_id == job_id)).one_or_none()
    if hold is None:
        raise LedgerError(f"job {job_id} has no hold")
    if hold.state != wanted:
        raise LedgerError(f"job {job_id}'s hold is already {hold.state}, cannot be {wanted}")
    return int(hold.amount) if wanted == "captured" else 0


def _raise_why_not_reserved(session: Session, account_id: uuid.UUID, amount: int, max_open_jobs: int) -> None:
    account = session.get(Account, account_id)
    if account is None:
        raise AccountNotFoundError(f"no account {account_id}")
    if account.status != "active":
        raise AccountDisabledError("this account is disabled; contact the operator")
    limit = account.max_open_jobs or max_open_jobs
    if account.open_jobs >= limit:
        raise OpenJobsLimitError(limit)
    available = account.credits_added - account.captured - account.held
    raise InsufficientCreditsError(
        f"this job costs {format_credits(amount)} credits but only {format_credits(available)} are "
        "available (the rest is held by unfinished jobs); add credits or wait for jobs to finish"
    )


def _journal(
    session: Session,
    account_id: uuid.UUID,
    job_id: uuid.UUID | None,
    kind: str,
    amount: int,
    note: str | None,
) -> None:
    session.execute(
        _INSERT_ENTRY,
        {"account_id": account_id, "job_id": job_id, "kind": kind, "amount": amount, "note": note},
    )


def format_credits(micros: int) -> str:
    """Micro-credits as a decimal string of credits, e.g. 1500000 -> '1.5'."""
    whole, frac = divmod(abs(micros), MICROS_PER_CREDIT)
    sign = "-" if micros < 0 else ""
    return f"{sign}{whole}.{frac:06d}".rstrip("0").rstrip(".") if frac else f"{sign}{whole}"
