"""Per-account webhook signing secrets (Standard Webhooks `whsec_`), with overlapping rotation."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from orchestrator.ids import new_uuid7
from orchestrator.models import Account, WebhookSecret

__all__ = ["WebhookSecret", "generate", "live_secrets", "rotate"]

PREFIX = "whsec_"


def generate() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def live_secrets(session: Session, account_id: uuid.UUID) -> list[WebhookSecret]:
    """The account's secrets that still sign, newest first; one is created on first use."""
    rows = _live(session, account_id)
    if rows:
        return rows
    # The first use may come at once from a worker signing a webhook and from the API showing the
    # secret: under the account's row lock only one of them creates it, the other reads it.
    session.execute(select(Account.account_id).where(Account.account_id == account_id).with_for_update())
    rows = _live(session, account_id)
    if rows:
        return rows
    _create(session, account_id)
    return _live(session, account_id)


def _live(session: Session, account_id: uuid.UUID) -> list[WebhookSecret]:
    now = datetime.now(UTC)
    return list(
        session.execute(
            select(WebhookSecret)
            .where(
                WebhookSecret.account_id == account_id,
                or_(WebhookSecret.expires_at.is_(None), WebhookSecret.expires_at > now),
            )
            .order_by(WebhookSecret.created_at.desc(), WebhookSecret.secret_id.desc())
            .execution_options(populate_existing=True)
        ).scalars()
    )


def rotate(session: Session, account_id: uuid.UUID, overlap: timedelta) -> WebhookSecret:
    """A new signing secret; the previous ones keep signing for `overlap`, then stop."""
    now = datetime.now(UTC)
    session.execute(
        update(WebhookSecret)
        .where(
            WebhookSecret.account_id == account_id,
            or_(WebhookSecret.expires_at.is_(None), WebhookSecret.expires_at > now + overlap),
        )
        .values(expires_at=now + overlap)
    )
    _create(session, account_id)
    return live_secrets(session, account_id)[0]


def _create(session: Session, account_id: uuid.UUID) -> None:
    session.execute(
        insert(WebhookSecret).values(secret_id=new_uuid7(), account_id=account_id, secret=generate())
    )
