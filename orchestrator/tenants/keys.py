"""An account's API keys as its tenant manages them: issued within the issuing key's own bounds,
listed with what each spent this month, revoked by prefix."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from orchestrator.errors import ApiKeyNotFoundError, ForbiddenError, UnknownProviderError
from orchestrator.models import ApiKey, KeySpend
from orchestrator.tenants import accounts
from orchestrator.tenants.accounts import KeyOptions, Principal
from schemas.keys import KeyCreate
from workers.providers import PROVIDERS

LISTED = accounts.MAX_LIVE_KEYS  # a list shows this many keys, newest first: every live one


@dataclass(frozen=True)
class KeyRow:
    key: ApiKey
    spent_this_month: int


def options(request: KeyCreate, issuer: Principal | None = None) -> KeyOptions:
    """The new key's options; with an `issuer` (a tenant's key), no wider than the issuer's own:
    what it leaves out it inherits, what it asks beyond is refused (ForbiddenError)."""
    unknown = sorted(set(request.allowed_providers or ()) - set(PROVIDERS))
    if unknown:
        raise UnknownProviderError(
            f"unknown provider {unknown[0]!r}; choose among {sorted(PROVIDERS)}", field="allowed_providers"
        )
    providers = None if request.allowed_providers is None else frozenset(request.allowed_providers)
    expires_at = None
    if request.expires_in_s is not None:
        expires_at = datetime.now(UTC) + timedelta(seconds=request.expires_in_s)
    cap = request.monthly_spend_cap
    if issuer is not None:
        providers = _within(providers, issuer.providers, "allowed_providers")
        expires_at = _earliest(expires_at, issuer.expires_at)
        cap = _lowest(cap, issuer.monthly_cap)
    return KeyOptions(request.name, expires_at, providers, cap, request.manage_keys)


def _within(
    asked: frozenset[str] | None, allowed: frozenset[str] | None, field: str
) -> frozenset[str] | None:
    if allowed is None:
        return asked
    if asked is None:
        return allowed
    beyond = sorted(asked - allowed)
    if beyond:
        raise ForbiddenError(
            f"this API key may not issue a key for {', '.join(beyond)}: it is limited to "
            f"{', '.join(sorted(allowed))}",
            field=field,
        )
    return asked


def _earliest(asked: datetime | None, limit: datetime | None) -> datetime | None:
    if limit is not None and (asked is None or asked > limit):
        return limit  # a key never outlives the key that issued it
    return asked


def _lowest(asked: int | None, limit: int | None) -> int | None:
    if asked is None:
        return limit
    if limit is not None and asked > limit:
        raise ForbiddenError(
            f"this API key has a monthly cap of {limit} micro-credits: a key it issues needs a "
            "monthly_spend_cap no higher",
            field="monthly_spend_cap",
        )
    return asked


def month_of(moment: datetime) -> date:
    """The first day of the moment's calendar month in UTC: the month a job's spend counts in."""
    return moment.astimezone(UTC).date().replace(day=1)


def list_keys(session: Session, account_id: uuid.UUID, *, include_revoked: bool = False) -> list[KeyRow]:
    """The account's keys, newest first, with what their jobs hold or were charged this month."""
    month = month_of(datetime.now(UTC))
    query = (
        select(ApiKey, KeySpend.amount)
        .outerjoin(KeySpend, and_(KeySpend.key_id == ApiKey.key_id, KeySpend.month == month))
        .where(ApiKey.account_id == account_id)
        .order_by(ApiKey.key_id.desc())  # UUIDv7: the newest first
        .limit(LISTED)
    )
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return [KeyRow(key, amount or 0) for key, amount in session.execute(query)]


def find(session: Session, account_id: uuid.UUID | None, prefix: str) -> KeyRow:
    """The key with this prefix (of `account_id`, unless None): another account's is unknown."""
    query = select(ApiKey).where(ApiKey.prefix == prefix)
    if account_id is not None:
        query = query.where(ApiKey.account_id == account_id)
    key = session.execute(query).scalar_one_or_none()
    if key is None:
        raise ApiKeyNotFoundError(f"no API key with prefix {prefix!r} in this account", field="prefix")
    spent = session.scalar(
        select(KeySpend.amount).where(
            KeySpend.key_id == key.key_id, KeySpend.month == month_of(datetime.now(UTC))
        )
    )
    return KeyRow(key, spent or 0)


def revoke(session: Session, account_id: uuid.UUID | None, prefix: str) -> KeyRow:
    """Revoke the key (of `account_id`, unless None); revoking it again changes nothing."""
    found = find(session, account_id, prefix)
    accounts.revoke_key(session, prefix)
    session.refresh(found.key)
    return found
