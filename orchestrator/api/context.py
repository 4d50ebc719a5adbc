"""What every request handler needs, built once at start-up and reached through FastAPI dependencies."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from orchestrator.api.client_ip import client_ip
from orchestrator.api.create_writer import CreateWriter
from orchestrator.api.request_log import RequestLogWriter, note_caller
from orchestrator.db import Database
from orchestrator.errors import AuthenticationError
from orchestrator.job_ends import JobEnds
from orchestrator.messaging import Dispatcher
from orchestrator.pricing import PriceTable
from orchestrator.settings import Settings
from orchestrator.storage import LocalStorage, S3Storage
from orchestrator.tenants import accounts
from orchestrator.tenants.accounts import Principal
from orchestrator.tenants.limits import RateLimiter

# How long a revoked key (or a disabled account's key) may still work on another API process that saw
# it recently; the process that handled the revoking call forgets it at once. An expired key is
# refused from its expiry on, cached or not.
KEY_CACHE_TTL_S = 5.0


@dataclass
class AppContext:
    settings: Settings
    db: Database
    storage: LocalStorage | S3Storage
    dispatcher: Dispatcher
    prices: PriceTable
    limiter: RateLimiter
    writer: CreateWriter
    # Wakes requests waiting for a job to end; started with the app (None: waits only time out).
    job_ends: JobEnds | None = None
    request_log: RequestLogWriter | None = None  # None: requests are not recorded
    started: float = field(default_factory=time.monotonic)  # when this API process came up
    _keys: dict[str, tuple[Principal, float]] = field(default_factory=dict)

    def cached_principal(self, secret: str) -> Principal | None:
        cached = self._keys.get(secret)
        if cached is None or cached[1] <= time.monotonic():
            return None
        principal = cached[0]
        if principal.expires_at is not None and principal.expired(datetime.now(UTC)):
            return None  # the database says why
        return principal

    def authenticate(self, secret: str, client_ip: str | None = None) -> Principal:
        cached = self.cached_principal(secret)
        if cached is not None:
            return cached
        now = time.monotonic()
        with self.db.transaction() as session:
            principal = accounts.authenticate(session, secret, client_ip)
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[secret] = (principal, now + KEY_CACHE_TTL_S)
        return principal

    def forget(self, *, account_id: uuid.UUID | None = None, key_id: uuid.UUID | None = None) -> None:
        """Drop cached keys of an account (or one key), so an admin change applies to the next request."""
        for secret, (principal, _) in dict(self._keys).items():  # a copy: other threads add keys
            if principal.account_id == account_id or principal.key_id == key_id:
                self._keys.pop(secret, None)


# The dependencies are coroutines so that no request pays a thread hop for them: a cached key costs
# no I/O, and only a cache miss reads the database, in the thread pool.
async def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


bearer = HTTPBearer(auto_error=False, description="Your API key: `Authorization: Bearer gr_...`")


async def get_principal(
    request: Request,
    context: Annotated[AppContext, Depends(get_context)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise AuthenticationError("send your API key as `Authorization: Bearer <key>`")
    address = client_ip(request, context.settings.trusted_proxies)
    principal = context.cached_principal(credentials.credentials)
    if principal is None:
        principal = await run_in_threadpool(context.authenticate, credentials.credentials, address)
    note_caller(principal.account_id, principal.prefix, address)  # before the rate limit: a 429 is logged
    context.limiter.take(principal.key_id, principal.rate_limit_rps or context.settings.rate_limit_rps)
    return principal


Context = Annotated[AppContext, Depends(get_context)]
Caller = Annotated[Principal, Depends(get_principal)]
