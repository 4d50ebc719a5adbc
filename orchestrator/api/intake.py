"""Accepting a new job for any route, unified or provider-compatible: checked and priced in the
request's thread, then written with its hold and idempotency record by the process's create writer,
which commits it (with the creates of other requests) and dispatches its submit."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from orchestrator.api.context import AppContext
from orchestrator.api.request_log import note_job
from orchestrator.errors import OrchestratorError
from orchestrator.tenants import creating, idempotency
from orchestrator.tenants.accounts import Principal
from orchestrator.tenants.creating import UNIFIED, Origin, Render
from schemas.jobs import JobCreate


@dataclass(frozen=True)
class Intake:
    status: int
    body: dict[str, Any]
    replayed: bool

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        headers = {**(headers or {}), **({"Idempotent-Replayed": "true"} if self.replayed else {})}
        return JSONResponse(self.body, status_code=self.status, headers=headers)


def accept(
    context: AppContext,
    caller: Principal,
    request: JobCreate,
    render: Render,
    *,
    idempotency_key: str | None = None,
    origin: Origin = UNIFIED,
) -> Intake:
    """Create the job (or replay the answer stored under the idempotency key) and dispatch it."""
    prepared = _prepare(context, caller, request, render, idempotency_key, origin)
    return _answer(context.writer.create(prepared), render)


async def accept_async(
    context: AppContext,
    caller: Principal,
    request: JobCreate,
    render: Render,
    *,
    idempotency_key: str | None = None,
) -> Intake:
    """`accept` for a coroutine route: the request waits for its batch without holding a thread."""
    args = (context, caller, request, render, idempotency_key, UNIFIED)
    # Checking a callback URL resolves its host, which blocks: that one goes to the thread pool.
    prepared = await run_in_threadpool(_prepare, *args) if request.callback_url else _prepare(*args)
    return _answer(await asyncio.wrap_future(context.writer.submit(prepared)), render)


def _prepare(
    context: AppContext,
    caller: Principal,
    request: JobCreate,
    render: Render,
    idempotency_key: str | None,
    origin: Origin,
) -> creating.PreparedJob:
    keyed = None
    if idempotency_key is not None:
        fingerprint = idempotency.request_fingerprint(
            {**request.model_dump(mode="json"), "origin": [origin.api_format, origin.client_reference]}
        )
        keyed = creating.Keyed(idempotency.validate_key(idempotency_key), fingerprint, render)
    return creating.prepare(caller, request, context.prices, context.settings, origin, keyed)


def _answer(outcome: creating.Outcome, render: Render) -> Intake:
    if isinstance(outcome, OrchestratorError):
        raise outcome
    if isinstance(outcome, creating.Replayed):
        return Intake(outcome.answer.status, outcome.answer.body, replayed=True)
    note_job(outcome.job.job_id)
    status, body = (outcome.answer.status, outcome.answer.body) if outcome.answer else render(outcome.job, ())
    return Intake(status, body, replayed=False)
