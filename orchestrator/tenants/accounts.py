"""Tenants and their API keys. Keys are shown once; only their SHA-256 and a visible prefix are kept."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import ColumnElement, func, insert, or_, select, update
from sqlalchemy.orm import Session

from orchestrator.errors import (
    AccountNotFoundError,
    AuthenticationError,
    InvalidRequestError,
    KeyLimitError,
)
from orchestrator.ids import new_uuid7
from orchestrator.models import Account, ApiKey

KEY_PREFIX = "gr_"
PPM = 1_000_000
# Unrevoked, unexpired keys an account may hold at once: enough for a key per service or customer,
# few enough that listing them is one page.
MAX_LIVE_KEYS = 1000
# A key's last use is written at most this often (per API process, whose key cache spares the rest).
LAST_USED_EVERY = timedelta(seconds=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account, the key it used and what that key may do."""

    account_id: uuid.UUID
    key_id: uuid.UUID
    price_multiplier_ppm: int
    rate_limit_rps: int | None = None  # None: the deployment's default
    expires_at: datetime | None = None
    providers: frozenset[str] | None = None  # None: every provider
    monthly_cap: int | None = None  # micro-credits; None: no cap
    manage_keys: bool = False
    prefix: str = ""  # the key's visible prefix

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class KeyOptions:
    """What a new key may do: all of it by default, as the operator issues an account's keys."""

    name: str = ""
    expires_at: datetime | None = None
    providers: frozenset[str] | None = None
    monthly_cap: int | None = None
    manage_keys: bool = True


@dataclass(frozen=True)
class IssuedKey:
    key_id: uuid.UUID
    prefix: str
    secret: str  # shown once, never stored


def hash_key(secret: str) -> bytes:
    # Keys carry 256 random bits, so a fast hash is enough; no per-key salt is needed.
    return hashlib.sha256(secret.encode()).digest()


def multiplier_to_ppm(multiplier: str | Decimal) -> int:
    try:
        value = Decimal(str(multiplier))
    except InvalidOperation as exc:
        raise InvalidRequestError(f"price multiplier {multiplier!r} is not a number") from exc
    if value <= 0 or value > 100:
        raise InvalidRequestError("price multiplier must be above 0 and at most 100")
    return int((value * PPM).to_integral_value())


def ppm_to_multiplier(ppm: int) -> str:
    return str((Decimal(ppm) / PPM).normalize())


def create_account(session: Session, name: str, *, price_multiplier: str | Decimal = "1") -> uuid.UUID:
    account_id = new_uuid7()
    session.execute(
        insert(Account).values(
            account_id=account_id,
            name=name,
            price_multiplier_ppm=multiplier_to_ppm(price_multiplier),
        )
    )
    return account_id


def issue_key(
    session: Session, account_id: uuid.UUID, name: str = "", options: KeyOptions | None = None
) -> IssuedKey:
    options = options or KeyOptions(name=name)
    # The account's row lock: two concurrent issues cannot both take the last place under the limit.
    if session.get(Account, account_id, with_for_update={"key_share": True}) is None:
        raise AccountNotFoundError(f"no account {account_id}")
    if count_live_keys(session, account_id) >= MAX_LIVE_KEYS:
        raise KeyLimitError(
            f"this account has {MAX_LIVE_KEYS} live API keys, the most it may hold; revoke one first"
        )
    key_id = new_uuid7()
    prefix = KEY_PREFIX + secrets.token_hex(4)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    session.execute(
        insert(ApiKey).values(
            key_id=key_id,
            account_id=account_id,
            name=options.name or name,
            prefix=prefix,
            key_hash=hash_key(secret),
            expires_at=options.expires_at,
            providers=None if options.providers is None else sorted(options.providers),
            monthly_cap=options.monthly_cap,
            manage_keys=options.manage_keys,
        )
    )
    return IssuedKey(key_id, prefix, secret)


def count_live_keys(session: Session, account_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(ApiKey).where(ApiKey.account_id == account_id, *_live())
        )
        or 0
    )


def _live() -> tuple[ColumnElement[bool], ...]:
    return (ApiKey.revoked_at.is_(None), or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > func.now()))


def revoke_key(session: Session, prefix: str) -> bool:
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def authenticate(session: Session, secret: str, client_ip: str | None = None) -> Principal:
    """The principal a live key belongs to, its use recorded (when, from `client_ip`);
    AuthenticationError for unknown, revoked or expired keys and disabled accounts."""
    row = session.execute(
        select(
            ApiKey.key_id,
            ApiKey.account_id,
            ApiKey.prefix,
            ApiKey.expires_at,
            ApiKey.providers,
            ApiKey.monthly_cap,
            ApiKey.manage_keys,
            ApiKey.last_used_at,
            Account.price_multiplier_ppm,
            Account.status,
            Account.rate_limit_rps,
            func.now().label("now"),
        )
        .join(Account, Account.account_id == ApiKey.account_id)
        .where(ApiKey.key_hash == hash_key(secret), ApiKey.revoked_at.is_(None))
    ).one_or_none()
    if row is None:
        raise AuthenticationError("the API key is unknown or has been revoked")
    if row.expires_at is not None and row.expires_at <= row.now:
        raise AuthenticationError(f"the API key expired at {row.expires_at.isoformat()}")
    if row.status != "active":
        raise AuthenticationError("the account of this API key is disabled")
    if row.last_used_at is None or row.now - row.last_used_at >= LAST_USED_EVERY:
        session.execute(
            update(ApiKey)
            .where(ApiKey.key_id == row.key_id)
            .values(last_used_at=row.now, last_used_ip=client_ip)
        )
    return Principal(
        row.account_id,
        row.key_id,
        row.price_multiplier_ppm,
        row.rate_limit_rps,
        expires_at=row.expires_at,
        providers=None if row.providers is None else frozenset(row.providers),
        monthly_cap=row.monthly_cap,
        manage_keys=row.manage_keys,
        prefix=row.prefix,
    )
