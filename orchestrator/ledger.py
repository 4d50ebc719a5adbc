"""Credits: add, hold, capture, release. The only module that moves money.

Every function runs inside the caller's transaction and never commits. Each movement updates the
account's running totals and appends one `ledger_entries` row; a job's hold is resolved at most once
(a partial unique index backs that up), and resolving it again the same way is a no-op.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Date, bindparam, cast, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.orm import Session

from orchestrator.errors import (
    AccountDisabledError,
    AccountNotFoundError,
    InsufficientCreditsError,
    KeyBudgetExceededError,
    LedgerError,
    OpenJobsLimitError,
    OrchestratorError,
)
from orchestrator.models import Account, Hold, Job, KeySpend, LedgerEntry, table

MICROS_PER_CREDIT = 1_000_000

# The statements of every job's create and settlement, built once with bound values: executing a
# prepared Core statement costs a fraction of building an ORM statement from values on each call.
_INSERT_HOLD = insert(table(Hold))
_INSERT_ENTRY = insert(table(LedgerEntry))
_LOCK_ACCOUNTS = (
    select(
        Account.account_id,
        Account.status,
        Account.credits_added,
        Account.captured,
        Account.held,
        Account.open_jobs,
        Account.max_open_jobs,
    )
    .where(Account.account_id.in_(bindparam("account_ids", expanding=True)))
    # One order for every transaction, so two batches sharing accounts never deadlock; NO KEY UPDATE,
    # because inserting the jobs already took KEY SHARE on these rows (their foreign key), which a
    # FOR UPDATE of another transaction would wait on while it waits on ours.
    .order_by(Account.account_id)
    .with_for_update(key_share=True)
)
_holds, _accounts, _spend, _jobs = table(Hold), table(Account), table(KeySpend), table(Job)
_READ_SPEND = select(_spend.c.key_id, _spend.c.month, _spend.c.amount).where(
    _spend.c.key_id.in_(bindparam("capped_keys", expanding=True))
)
_upsert_spend = upsert(_spend)
_ADD_SPEND = _upsert_spend.on_conflict_do_update(
    index_elements=[_spend.c.key_id, _spend.c.month],
    set_={"amount": _spend.c.amount + _upsert_spend.excluded.amount},
)
# A released hold leaves the spend of its key in the month its job was created in.
_UNSPEND = (
    update(_spend)
    .where(
        _jobs.c.job_id == bindparam("unspending_job"),
        _spend.c.key_id == _jobs.c.api_key_id,
        _spend.c.month == cast(func.date_trunc("month", func.timezone("UTC", _jobs.c.created_at)), Date),
    )
    .values(amount=_spend.c.amount - bindparam("unspending"))
)
_ADD_HELD = (
    update(_accounts)
    .where(_accounts.c.account_id == bindparam("reserving_account"))
    .values(
        held=_accounts.c.held + bindparam("reserving"),
        open_jobs=_accounts.c.open_jobs + bindparam("reserving_jobs"),
    )
)
_RESOLVE = (
    update(_holds)
    .where(_holds.c.job_id == bindparam("resolving_job"), _holds.c.state == "open")
    .values(state=bindparam("resolution"), resolved_at=func.now())
    .returning(_holds.c.account_id, _holds.c.amount)
)
# A resolved hold leaves `held` and the unfinished jobs; a captured one is added to `captured`.
_SETTLE = (
    update(_accounts)
    .where(_accounts.c.account_id == bindparam("settling_account"))
    .values(
        held=_accounts.c.held - bindparam("settling"),
        captured=_accounts.c.captured + bindparam("charging"),
        open_jobs=_accounts.c.open_jobs - 1,
    )
)


@dataclass(frozen=True)
class HoldRequest:
    account_id: uuid.UUID
    job_id: uuid.UUID
    amount: int
    key: KeyBudget | None = None  # the key that made the job; its spend is counted, its cap checked


@dataclass(frozen=True)
class KeyBudget:
    """The API key a job is held for, the month (UTC, its first day) the job was created in, and the
    micro-credits the key's jobs may hold or be charged in a month (None: no cap)."""

    key_id: uuid.UUID
    month: date
    cap: int | None = None

    @property
    def spend_key(self) -> tuple[uuid.UUID, date]:
        return self.key_id, self.month


@dataclass
class _Balance:
    """An account as locked for reserving, with the holds this batch has taken from it so far."""

    status: str
    available: int
    open_jobs: int
    max_open_jobs: int | None
    reserving: int = 0
    reserving_jobs: int = 0


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
    session: Session, requests: Sequence[HoldRequest], *, max_open_jobs: int
) -> list[OrchestratorError | None]:
    """Hold each request's amount for its job and count the job among its account's unfinished ones.

    Requests are judged in order, each against what the ones before it left: its entry in the
    returned list is None when held, else why not — InsufficientCreditsError when the available
    credits fall short, OpenJobsLimitError when the account has its limit of unfinished jobs (its
    own, else `max_open_jobs`), AccountDisabledError. The jobs must already be inserted in this
    transaction. The accounts are locked together in one statement, so concurrent batches never
    overshoot either bound; a key's spend changes only under its account's lock, so the same holds
    for a key's monthly cap (KeyBudgetExceededError).
    """
    accounts = {request.account_id for request in requests}
    balances = {
        row.account_id: _Balance(
            row.status, row.credits_added - row.captured - row.held, row.open_jobs, row.max_open_jobs
        )
        for row in session.execute(_LOCK_ACCOUNTS, {"account_ids": sorted(accounts)})
    }
    spent = _spent(session, requests)
    decisions = [_judge(balances.get(r.account_id), r, max_open_jobs, spent) for r in requests]
    held = [r for r, refused in zip(requests, decisions, strict=True) if refused is None]
    if held:
        _add_spend(session, held)
        session.execute(
            _INSERT_HOLD, [{"job_id": r.job_id, "account_id": r.account_id, "amount": r.amount} for r in held]
        )
        session.execute(_INSERT_ENTRY, [_entry(r.account_id, r.job_id, "hold", r.amount, None) for r in held])
        session.execute(
            _ADD_HELD,
            [
                {
                    "reserving_account": account_id,
                    "reserving": balance.reserving,
                    "reserving_jobs": balance.reserving_jobs,
                }
                for account_id, balance in balances.items()
                if balance.reserving_jobs
            ],
        )
    return decisions


def _spent(session: Session, requests: Sequence[HoldRequest]) -> Counter[tuple[uuid.UUID, date]]:
    """What the capped keys among the requests' have spent per month, read under their accounts' lock."""
    capped = sorted({r.key.key_id for r in requests if r.key is not None and r.key.cap is not None})
    if not capped:
        return Counter()
    rows = session.execute(_READ_SPEND, {"capped_keys": capped})
    return Counter({(row.key_id, row.month): row.amount for row in rows})


def _add_spend(session: Session, held: Sequence[HoldRequest]) -> None:
    by_key: Counter[tuple[uuid.UUID, date]] = Counter()
    for request in held:
        if request.key is not None:
            by_key[request.key.spend_key] += request.amount
    if by_key:
        session.execute(
            _ADD_SPEND,
            [{"key_id": k, "month": m, "amount": amount} for (k, m), amount in sorted(by_key.items())],
        )


def _judge(
    balance: _Balance | None,
    request: HoldRequest,
    max_open_jobs: int,
    spent: Counter[tuple[uuid.UUID, date]],
) -> OrchestratorError | None:
    if balance is None:
        return AccountNotFoundError(f"no account {request.account_id}")
    if balance.status != "active":
        return AccountDisabledError("this account is disabled; contact the operator")
    limit = balance.max_open_jobs or max_open_jobs
    if balance.open_jobs + balance.reserving_jobs >= limit:
        return OpenJobsLimitError(limit)
    available = balance.available - balance.reserving
    if available < request.amount:
        return InsufficientCreditsError(
            f"this job costs {format_credits(request.amount)} credits but only {format_credits(available)} "
            "are available (the rest is held by unfinished jobs); add credits or wait for jobs to finish"
        )
    key = request.key
    if key is not None and key.cap is not None:
        if spent[key.spend_key] + request.amount > key.cap:
            left = max(key.cap - spent[key.spend_key], 0)
            return KeyBudgetExceededError(
                f"this job costs {format_credits(request.amount)} credits but this API key may spend only "
                f"{format_credits(left)} more this month (its cap is {format_credits(key.cap)}); raise the "
                "key's monthly_spend_cap or use another key"
            )
        spent[key.spend_key] += request.amount
    balance.reserving += request.amount
    balance.reserving_jobs += 1
    return None


def capture(session: Session, job_id: uuid.UUID) -> int:
    """Charge the job's hold; returns the amount charged. Repeating it charges nothing more."""
    hold = _resolve(session, job_id, "captured")
    if hold is None:
        return _already(session, job_id, "captured")
    account_id, amount = hold
    session.execute(_SETTLE, {"settling_account": account_id, "settling": amount, "charging": amount})
    _journal(session, account_id, job_id, "capture", amount, None)
    return amount


def release(session: Session, job_id: uuid.UUID) -> int:
    """Give the job's hold back to the account; returns the amount released. Repeating it is a no-op."""
    hold = _resolve(session, job_id, "released")
    if hold is None:
        _already(session, job_id, "released")
        return 0
    account_id, amount = hold
    session.execute(_SETTLE, {"settling_account": account_id, "settling": amount, "charging": 0})
    session.execute(_UNSPEND, {"unspending_job": job_id, "unspending": amount})
    _journal(session, account_id, job_id, "release", amount, None)
    return amount


def _resolve(session: Session, job_id: uuid.UUID, to_state: str) -> tuple[uuid.UUID, int] | None:
    row = session.execute(_RESOLVE, {"resolving_job": job_id, "resolution": to_state}).one_or_none()
    return None if row is None else (row.account_id, row.amount)


def _already(session: Session, job_id: uuid.UUID, wanted: str) -> int:
    """The hold is not open: fine if it was resolved the same way, a breach otherwise."""
    hold = session.execute(select(Hold.state, Hold.amount).where(Hold.job_id == job_id)).one_or_none()
    if hold is None:
        raise LedgerError(f"job {job_id} has no hold")
    if hold.state != wanted:
        raise LedgerError(f"job {job_id}'s hold is already {hold.state}, cannot be {wanted}")
    return int(hold.amount) if wanted == "captured" else 0


def _journal(
    session: Session,
    account_id: uuid.UUID,
    job_id: uuid.UUID | None,
    kind: str,
    amount: int,
    note: str | None,
) -> None:
    session.execute(_INSERT_ENTRY, _entry(account_id, job_id, kind, amount, note))


def _entry(
    account_id: uuid.UUID, job_id: uuid.UUID | None, kind: str, amount: int, note: str | None
) -> dict[str, object]:
    return {"account_id": account_id, "job_id": job_id, "kind": kind, "amount": amount, "note": note}


def format_credits(micros: int) -> str:
    """Micro-credits as a decimal string of credits, e.g. 1500000 -> '1.5'."""
    whole, frac = divmod(abs(micros), MICROS_PER_CREDIT)
    sign = "-" if micros < 0 else ""
    return f"{sign}{whole}.{frac:06d}".rstrip("0").rstrip(".") if frac else f"{sign}{whole}"
