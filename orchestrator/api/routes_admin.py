"""The operator's admin API under /admin/v1, behind its own bearer token (`GENRELAY_ADMIN_TOKEN`).

Without a configured token every admin route answers 403 `admin_disabled`; with one, a request without
it, or with another, is 401 `unauthenticated`. A change to an account or
a key applies at once on the API process that handled it, within 5 s on the others (their key cache).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from orchestrator.api.client_ip import client_ip
from orchestrator.api.context import AppContext, Context
from orchestrator.api.document import links
from orchestrator.api.errors import error_responses
from orchestrator.api.request_log import note_caller
from orchestrator.api.routes_jobs import parse_job_id
from orchestrator.api.routes_keys import key_fields
from orchestrator.api.routes_webhooks import delivery_view
from orchestrator.errors import AccountNotFoundError, NotFoundError
from orchestrator.models import JobOutput, WebhookAttempt
from orchestrator.ops import admin
from orchestrator.pipeline import sweeping
from orchestrator.settings import Settings
from orchestrator.tenants import accounts, keys
from orchestrator.tenants.accounts import ppm_to_multiplier
from orchestrator.views import job_view
from schemas.admin import (
    AccountCreate,
    AccountCreated,
    AccountLimits,
    AdminAccount,
    AdminJob,
    ApiKeyCreate,
    ApiKeyInfo,
    ApiKeyList,
    CreditAmount,
    IssuedApiKey,
    JobFail,
)
from schemas.webhooks import Delivery

admin_bearer = HTTPBearer(
    auto_error=False, scheme_name="AdminToken", description="The operator's `GENRELAY_ADMIN_TOKEN`."
)


def require_admin(
    request: Request,
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(admin_bearer)],
) -> None:
    presented = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        presented = credentials.credentials
    admin.check_token(context.settings.admin_token, presented)
    note_caller(None, None, client_ip(request, context.settings.trusted_proxies))


# What every admin route may answer, and what a route with a body or with an id may answer besides.
ERRORS = error_responses(
    401,
    403,
    described={
        401: "No admin token, or not the admin token (`unauthenticated`).",
        403: "The admin API is off: no admin token is configured (`admin_disabled`).",
    },
)
BODY = (400, 413, 422)
router = APIRouter(
    prefix="/admin/v1", tags=["admin"], responses=ERRORS, dependencies=[Depends(require_admin)]
)
ACCOUNT = "/admin/v1/accounts/{account_id}"
ACCOUNT_LINKS = {
    **links(
        "account_id",
        "/account/account_id",
        ("GET", ACCOUNT),
        ("POST", ACCOUNT + "/disable"),
        ("POST", ACCOUNT + "/enable"),
        ("PATCH", ACCOUNT + "/limits"),
        ("POST", ACCOUNT + "/credits"),
        ("POST", ACCOUNT + "/keys"),
    ),
    **links("prefix", "/api_key/prefix", ("POST", "/admin/v1/keys/{prefix}/revoke")),
}


def parse_account_id(account_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(account_id)
    except ValueError:
        raise AccountNotFoundError(f"no account {account_id!r}: account ids are UUIDs") from None


def account_view(state: admin.AccountState, settings: Settings) -> AdminAccount:
    account = state.account
    balance = account.credits_added - account.captured
    return AdminAccount(
        account_id=str(account.account_id),
        name=account.name,
        status="active" if account.status == "active" else "disabled",
        price_multiplier=ppm_to_multiplier(account.price_multiplier_ppm),
        credits_added=account.credits_added,
        captured=account.captured,
        balance=balance,
        held=account.held,
        available=balance - account.held,
        open_jobs=state.open_jobs,
        rate_limit_rps=account.rate_limit_rps,
        max_open_jobs=account.max_open_jobs,
        effective_rate_limit_rps=account.rate_limit_rps or settings.rate_limit_rps,
        effective_max_open_jobs=account.max_open_jobs or settings.max_open_jobs,
        output_retention_days=account.output_retention_days,
        effective_output_retention_days=account.output_retention_days or settings.output_retention_days,
        input_retention_days=account.input_retention_days,
        effective_input_retention_days=account.input_retention_days or settings.input_retention_days,
        created_at=account.created_at,
    )


def _account(context: AppContext, account_id: uuid.UUID) -> AdminAccount:
    with context.db.transaction() as session:
        return account_view(admin.get_account(session, account_id), context.settings)


@router.post(
    "/accounts",
    status_code=201,
    response_model=AccountCreated,
    summary="Create a tenant",
    responses={
        201: {"description": "The account and its first API key.", "links": ACCOUNT_LINKS},
        **error_responses(*BODY),
    },
)
def create_account(body: AccountCreate, context: Context) -> AccountCreated:
    with context.db.transaction() as session:
        account_id, key = admin.create_account(session, body)
        issued = IssuedApiKey(**_key_info(keys.find(session, account_id, key.prefix)), secret=key.secret)
    return AccountCreated(account=_account(context, account_id), api_key=issued)


@router.get(
    "/accounts/{account_id}",
    response_model=AdminAccount,
    summary="An account and its balances",
    responses=error_responses(404),
)
def get_account(account_id: str, context: Context) -> AdminAccount:
    return _account(context, parse_account_id(account_id))


def _set_status(context: AppContext, account_id: str, status: Literal["active", "disabled"]) -> AdminAccount:
    parsed = parse_account_id(account_id)
    with context.db.transaction() as session:
        admin.set_status(session, parsed, status)
    context.forget(account_id=parsed)
    return _account(context, parsed)


@router.post(
    "/accounts/{account_id}/disable",
    response_model=AdminAccount,
    summary="Refuse its keys",
    responses=error_responses(404),
)
def disable_account(account_id: str, context: Context) -> AdminAccount:
    return _set_status(context, account_id, "disabled")


@router.post(
    "/accounts/{account_id}/enable",
    response_model=AdminAccount,
    summary="Accept its keys again",
    responses=error_responses(404),
)
def enable_account(account_id: str, context: Context) -> AdminAccount:
    return _set_status(context, account_id, "active")


@router.patch(
    "/accounts/{account_id}/limits",
    response_model=AdminAccount,
    summary="Set its rate limits",
    responses=error_responses(*BODY, 404),
)
def set_limits(account_id: str, body: AccountLimits, context: Context) -> AdminAccount:
    parsed = parse_account_id(account_id)
    with context.db.transaction() as session:
        admin.set_limits(session, parsed, body.model_dump(exclude_unset=True))
    context.forget(account_id=parsed)
    return _account(context, parsed)


@router.post(
    "/accounts/{account_id}/credits",
    response_model=AdminAccount,
    summary="Add credits",
    responses=error_responses(*BODY, 404),
)
def add_credits(account_id: str, body: CreditAmount, context: Context) -> AdminAccount:
    parsed = parse_account_id(account_id)
    with context.db.transaction() as session:
        admin.add_credits(session, parsed, body)
    return _account(context, parsed)


@router.post(
    "/accounts/{account_id}/keys",
    status_code=201,
    response_model=IssuedApiKey,
    summary="Issue an API key",
    responses={
        201: {
            "description": "The key, its secret shown only now.",
            "links": links("prefix", "/prefix", ("POST", "/admin/v1/keys/{prefix}/revoke")),
        },
        **error_responses(*BODY, 404, 409),
    },
)
def create_key(account_id: str, body: ApiKeyCreate, context: Context) -> IssuedApiKey:
    parsed = parse_account_id(account_id)
    with context.db.transaction() as session:
        issued = accounts.issue_key(session, parsed, options=keys.options(body))
        return IssuedApiKey(**_key_info(keys.find(session, parsed, issued.prefix)), secret=issued.secret)


@router.get(
    "/accounts/{account_id}/keys",
    response_model=ApiKeyList,
    summary="An account's API keys",
    description="Newest first, with their last use and this month's spend; revoked keys too with "
    f"`include_revoked=true` (the newest {keys.LISTED} keys in all).",
    responses=error_responses(404, 422),
)
def list_keys(account_id: str, context: Context, include_revoked: bool = False) -> ApiKeyList:
    parsed = parse_account_id(account_id)
    with context.db.transaction() as session:
        admin.get_account(session, parsed)  # 404 for an unknown account, not an empty list
        rows = keys.list_keys(session, parsed, include_revoked=include_revoked)
    return ApiKeyList(data=[ApiKeyInfo(**_key_info(row)) for row in rows])


def _key_info(row: keys.KeyRow) -> dict[str, Any]:
    return {
        **key_fields(row.key, row.spent_this_month),
        "key_id": str(row.key.key_id),
        "account_id": str(row.key.account_id),
    }


@router.post(
    "/keys/{prefix}/revoke",
    response_model=ApiKeyInfo,
    summary="Revoke an API key by its prefix",
    responses=error_responses(404),
)
def revoke_key(prefix: str, context: Context) -> ApiKeyInfo:
    with context.db.transaction() as session:
        row = keys.revoke(session, None, prefix)
    context.forget(key_id=row.key.key_id)
    return ApiKeyInfo(**_key_info(row))


def _job(context: AppContext, job_id: uuid.UUID) -> AdminJob:
    with context.db.transaction() as session:
        job = admin.find_job(session, job_id)
        outputs = session.execute(select(JobOutput).where(JobOutput.job_id == job_id)).scalars().all()
    view = job_view(job, outputs, context.storage, context.settings.download_url_ttl_s)
    return AdminJob(**view.model_dump(), account_id=str(job.account_id), next_check_at=job.next_check_at)


@router.get(
    "/jobs/{job_id}", response_model=AdminJob, summary="Any tenant's job", responses=error_responses(404)
)
def get_job(job_id: str, context: Context) -> AdminJob:
    return _job(context, parse_job_id(job_id))


@router.post(
    "/jobs/{job_id}/refresh",
    response_model=AdminJob,
    summary="Check an unfinished job now",
    responses=error_responses(404, 409, described={409: "The job already ended (`job_finished`)."}),
)
def refresh_job(job_id: str, context: Context) -> AdminJob:
    parsed = parse_job_id(job_id)
    with context.db.transaction() as session:
        admin.refresh_job(session, parsed)
    # The sweep's own claim dispatches it by its state (submit, reconcile, poll or store), lease and all.
    sweeping.sweep(context.db, context.dispatcher, context.settings, rounds=1)
    return _job(context, parsed)


@router.post(
    "/jobs/{job_id}/fail",
    response_model=AdminJob,
    summary="Fail a job and release its hold",
    responses=error_responses(*BODY, 404, 409, described={409: "The job already ended (`job_finished`)."}),
)
def fail_job(job_id: str, context: Context, body: JobFail | None = None) -> AdminJob:
    parsed = parse_job_id(job_id)
    with context.db.transaction() as session:
        admin.fail_job(session, context.settings, parsed, body.reason if body else None)
    return _job(context, parsed)


@router.post(
    "/webhooks/{event_id}/redeliver",
    status_code=202,
    response_model=Delivery,
    summary="Send an event again",
    responses=error_responses(404),
)
def redeliver(event_id: str, context: Context) -> Delivery:
    try:
        parsed = uuid.UUID(event_id)
    except ValueError:
        raise NotFoundError(f"no webhook event {event_id!r}") from None
    with context.db.transaction() as session:
        event = admin.redeliver(session, parsed)
        attempts = list(
            session.execute(select(WebhookAttempt).where(WebhookAttempt.event_id == parsed)).scalars()
        )
    return delivery_view(event, attempts)
