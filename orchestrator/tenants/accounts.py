"""Tenants and their API keys. Keys are shown once; only their SHA-256 and a visible prefix are kept."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from orchestrator.errors import AccountNotFoundError, AuthenticationError, InvalidRequestError
from orchestrator.ids import new_uuid7
from orchestrator.models import Account, ApiKey

KEY_PREFIX = "gr_"
PPM = 1_000_000


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account and the key it used."""

    account_id: uuid.UUID
    key_id: uuid.UUID
    price_multiplier_ppm: int
    rate_limit_rps: int | None = None  # None: the deployment's default


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


def issue_key(session: Session, account_id: uuid.UUID, name: str = "") -> IssuedKey:
    if session.get(Account, account_id) is None:
        raise AccountNotFoundError(f"no account {account_id}")
    key_id = new_uuid7()
    prefix = KEY_PREFIX + secrets.token_hex(4)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    session.execute(
        insert(ApiKey).values(
            key_id=key_id,
            account_id=account_id,
            name=name,
            prefix=prefix,
            key_hash=hash_key(secret),
        )
    )
    return IssuedKey(key_id, prefix, secret)


def revoke_key(session: Session, prefix: str) -> bool:
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def authenticate(session: Session, secret: str) -> Principal:
    """The principal a live key belongs to; AuthenticationError for unknown or revoked keys."""
    row = session.execute(
        select(
            ApiKey.key_id,
            ApiKey.account_id,
            Account.price_multiplier_ppm,
            Account.status,
            Account.rate_limit_rps,
        )
        .join(Account, Account.account_id == ApiKey.account_id)
        .where(ApiKey.key_hash == hash_key(secret), ApiKey.revoked_at.is_(None))
    ).one_or_none()
    if row is None:
        raise AuthenticationError("the API key is unknown or has been revoked")
    if row.status != "active":
        raise AuthenticationError("the account of this API key is disabled")
    return Principal(row.account_id, row.key_id, row.price_multiplier_ppm, row.rate_limit_rps)
