"""The caller's own account."""

from __future__ import annotations

from fastapi import APIRouter

from orchestrator.api.context import Caller, Context
from orchestrator.api.errors import error_responses
from orchestrator.errors import AccountNotFoundError
from orchestrator.models import Account
from orchestrator.tenants.accounts import ppm_to_multiplier
from schemas.account import AccountBalance

router = APIRouter(tags=["account"])


@router.get(
    "/v1/account",
    response_model=AccountBalance,
    summary="Balance, held and available credits",
    responses=error_responses(401, 404, 429, described={404: "The key's account no longer exists."}),
)
def get_account(context: Context, caller: Caller) -> AccountBalance:
    with context.db.transaction() as session:
        account = session.get(Account, caller.account_id)
        if account is None:
            raise AccountNotFoundError("this API key's account no longer exists")
        balance = account.credits_added - account.captured
        return AccountBalance(
            account_id=str(account.account_id),
            name=account.name,
            balance=balance,
            held=account.held,
            available=balance - account.held,
            price_multiplier=ppm_to_multiplier(account.price_multiplier_ppm),
        )
