"""`Idempotency-Key` for job creation: replay the first answer, refuse a changed body or a race.

The claim takes a transaction-scoped advisory lock on (account, key), so a concurrent duplicate is
told 409 at once instead of waiting; the stored answer commits with the job it describes.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from orchestrator.errors import (
    IdempotencyConflictError,
    IdempotencyInFlightError,
    InvalidRequestError,
)
from orchestrator.models import IdempotencyKey

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


def request_fingerprint(body: dict[str, Any]) -> bytes:
    """SHA-256 of the body in canonical JSON, so formatting differences don't count as changes."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).digest()


def validate_key(key: str) -> str:
    # A space at either end is refused: HTTP strips it, so the key would not be the one the client keeps.
    printable = key.isascii() and key.isprintable() and key == key.strip(" ")
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not printable:
        raise InvalidRequestError(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters, with no space at "
            "either end (a UUID is ideal)",
            field="Idempotency-Key",
        )
    return key


def claim(session: Session, account_id: uuid.UUID, key: str, fingerprint: bytes) -> StoredResponse | None:
    """The stored answer for this key, or None when the caller should go ahead and create."""
    lock_id = int.from_bytes(hashlib.sha256(f"{account_id}:{key}".encode()).digest()[:8], "big", signed=True)
    if not session.execute(select(func.pg_try_advisory_xact_lock(lock_id))).scalar_one():
        raise IdempotencyInFlightError(
            "a request with this Idempotency-Key is still being processed; retry in a moment"
        )
    stored = session.execute(
        select(IdempotencyKey).where(
            IdempotencyKey.account_id == account_id, IdempotencyKey.idempotency_key == key
        )
    ).scalar_one_or_none()
    if stored is None:
        return None
    if stored.request_hash != fingerprint:
        raise IdempotencyConflictError(
            "this Idempotency-Key was already used with a different request body; "
            "use a new key for a new request"
        )
    return StoredResponse(stored.response_status, stored.response_body)


def remember(
    session: Session,
    account_id: uuid.UUID,
    key: str,
    fingerprint: bytes,
    job_id: uuid.UUID,
    response: StoredResponse,
) -> None:
    session.execute(
        insert(IdempotencyKey).values(
            account_id=account_id,
            idempotency_key=key,
            request_hash=fingerprint,
            job_id=job_id,
            response_status=response.status,
            response_body=response.body,
        )
    )
