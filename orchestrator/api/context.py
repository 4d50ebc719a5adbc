"""What every request handler needs, built once at start-up and reached through FastAPI dependencies."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orchestrator import accounts
from orchestrator.accounts import Principal
from orchestrator.db import Database
from orchestrator.errors import AuthenticationError
from orchestrator.messaging import Dispatcher
from orchestrator.pricing import PriceTable
from orchestrator.settings import Settings
from orchestrator.storage import LocalStorage, S3Storage

KEY_CACHE_TTL_S = 5.0  # how long a revoked key may still work on a process that saw it recently


@dataclass
class AppContext:
    settings: Settings
    db: Database
    storage: LocalStorage | S3Storage
    dispatcher: Dispatcher
    prices: PriceTable
    _keys: dict[str, tuple[Principal, float]] = field(default_factory=dict)

    def authenticate(self, secret: str) -> Principal:
        cached = self._keys.get(secret)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        with self.db.transaction() as session:
            principal = accounts.authenticate(session, secret)
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[secret] = (principal, now + KEY_CACHE_TTL_S)
        return principal


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


bearer = HTTPBearer(auto_error=False, description="Your API key: `Authorization: Bearer gr_...`")


def get_principal(
    context: Annotated[AppContext, Depends(get_context)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise AuthenticationError("send your API key as `Authorization: Bearer <key>`")
    return context.authenticate(credentials.credentials)


Context = Annotated[AppContext, Depends(get_context)]
Caller = Annotated[Principal, Depends(get_principal)]
