"""Accepting a new job for any route, unified or provider-compatible: one transaction holding the
job, its hold and its idempotency record, then the submit dispatched after commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse

from orchestrator import idempotency, jobs, messaging, models
from orchestrator.accounts import Principal
from orchestrator.api.context import AppContext
from orchestrator.jobs import UNIFIED, Origin
from schemas.jobs import JobCreate

# Renders the answer to a creation: (HTTP status, JSON body) from the new job and its outputs.
Render = Callable[[models.Job, Sequence[models.JobOutput]], tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class Intake:
    status: int
    body: dict[str, Any]
    replayed: bool

    def response(self) -> JSONResponse:
        headers = {"Idempotent-Replayed": "true"} if self.replayed else None
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
    fingerprint = idempotency.request_fingerprint(
        {**request.model_dump(mode="json"), "origin": [origin.api_format, origin.client_reference]}
    )
    key = idempotency.validate_key(idempotency_key) if idempotency_key is not None else None
    with context.db.transaction() as session:
        if key is not None:
            stored = idempotency.claim(session, caller.account_id, key, fingerprint)
            if stored is not None:
                return Intake(stored.status, stored.body, replayed=True)
        job = jobs.create_job(session, caller, request, context.prices, context.settings, origin)
        job_id = job.job_id
        status, body = render(job, ())
        if key is not None:
            stored_response = idempotency.StoredResponse(status, body)
            idempotency.remember(session, caller.account_id, key, fingerprint, job_id, stored_response)
    # After commit: if this publish is lost, the sweep dispatches the job when next_check_at comes.
    context.dispatcher.send(messaging.submit_task(request.provider), [str(job_id)])
    return Intake(status, body, replayed=False)
