"""The demo tenant `genrelay run` prints: an account with credits and a key kept in the data folder."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from orchestrator import accounts, ledger
from orchestrator.db import Database
from orchestrator.errors import AuthenticationError
from orchestrator.models import Account

DEMO_NAME = "demo"
DEMO_CREDITS = 1_000 * ledger.MICROS_PER_CREDIT


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
