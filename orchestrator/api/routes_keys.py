"""The caller's account's API keys: issue one, list them, revoke one. Only a key that manages keys
may; a key it issues can do no more than it can."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from orchestrator.api.context import Caller, Context
from orchestrator.api.document import links
from orchestrator.api.errors import error_responses
from orchestrator.errors import ForbiddenError
from orchestrator.models import ApiKey
from orchestrator.tenants import accounts, keys
from orchestrator.tenants.accounts import Principal
from schemas.keys import IssuedKey, KeyCreate, KeyInfo, KeyList

router = APIRouter(prefix="/v1/keys", tags=["keys"])
REVOKE_LINK = links("prefix", "/prefix", ("POST", "/v1/keys/{prefix}/revoke"))
NOT_MANAGING = {403: "This API key may not manage keys (`forbidden`), or asks beyond its own bounds."}


def key_fields(key: ApiKey, spent_this_month: int) -> dict[str, Any]:
    """A key as every view of it shows it (the admin's adds its ids)."""
    return {
        "prefix": key.prefix,
        "name": key.name,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "allowed_providers": key.providers,
        "monthly_spend_cap": key.monthly_cap,
        "spent_this_month": spent_this_month,
        "manage_keys": key.manage_keys,
        "last_used_at": key.last_used_at,
        "last_used_ip": key.last_used_ip,
    }


def require_managing(caller: Principal) -> None:
    if not caller.manage_keys:
        raise ForbiddenError(
            "this API key may not manage keys; use a key issued with manage_keys, or ask the operator"
        )


@router.post(
    "",
    status_code=201,
    response_model=IssuedKey,
    summary="Issue an API key",
    description="A new key of your account, its secret shown only in this answer. What it leaves out "
    "it takes from the calling key: a key never outlives, reaches more providers than, or has a higher "
    "monthly cap than the key that issued it. An account holds at most "
    f"{accounts.MAX_LIVE_KEYS} live keys (409 `key_limit_reached`).",
    responses={
        201: {"description": "The key, its secret shown only now.", "links": REVOKE_LINK},
        **error_responses(400, 401, 403, 409, 413, 415, 422, 429, described=NOT_MANAGING),
    },
)
def create_key(body: KeyCreate, context: Context, caller: Caller) -> IssuedKey:
    require_managing(caller)
    options = keys.options(body, caller)
    with context.db.transaction() as session:
        issued = accounts.issue_key(session, caller.account_id, options=options)
        row = keys.find(session, caller.account_id, issued.prefix)
    return IssuedKey(**key_fields(row.key, row.spent_this_month), secret=issued.secret)


@router.get(
    "",
    response_model=KeyList,
    summary="Your account's API keys",
    description="Newest first, with when and from where each was last used and what its jobs hold or "
    "were charged this month; revoked keys too with `include_revoked=true` (the newest "
    f"{keys.LISTED} keys in all).",
    responses=error_responses(401, 403, 422, 429, described=NOT_MANAGING),
)
def list_keys(context: Context, caller: Caller, include_revoked: bool = False) -> KeyList:
    require_managing(caller)
    with context.db.transaction() as session:
        rows = keys.list_keys(session, caller.account_id, include_revoked=include_revoked)
    return KeyList(data=[KeyInfo(**key_fields(row.key, row.spent_this_month)) for row in rows])


@router.post(
    "/{prefix}/revoke",
    response_model=KeyInfo,
    summary="Revoke an API key by its prefix",
    description="Refused at once on this API process, and on the others within the key cache window "
    "the README states (5 s). Revoking a revoked key changes nothing; revoking the calling key is "
    "allowed.",
    responses=error_responses(401, 403, 404, 429, described=NOT_MANAGING),
)
def revoke_key(prefix: str, context: Context, caller: Caller) -> KeyInfo:
    require_managing(caller)
    with context.db.transaction() as session:
        row = keys.revoke(session, caller.account_id, prefix)
    context.forget(key_id=row.key.key_id)
    return KeyInfo(**key_fields(row.key, row.spent_this_month))
