"""Ingress for upstream providers' callbacks (`callback_url`, `notifyHook`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from orchestrator import messaging
from orchestrator.api.context import AppContext, Context
from orchestrator.api.errors import error_responses
from orchestrator.lifecycle import Transition
from orchestrator.pipeline import callbacks
from schemas.jobs import JobStatus

router = APIRouter(tags=["callbacks"])


def _apply(context: AppContext, provider: str, token: str, body: bytes) -> Mapping[str, Any]:
    with context.db.transaction() as session:
        answer = callbacks.handshake(session, provider, token, body)
        if answer is not None:
            return answer  # the provider verifies the endpoint: nothing to apply
        transition: Transition | None = callbacks.receive(session, context.settings, provider, token, body)
    if transition is not None and transition.to_state is JobStatus.STORING:
        # Store at once: success reaches the tenant as fast as the download allows.
        context.dispatcher.send(messaging.STORE_TASK, [str(transition.job_id)])
    return {"status": "accepted"}


@router.post(
    "/callbacks/{provider}/{token}",
    summary="A provider reports on a job; the token authenticates it",
    responses=error_responses(
        404,
        413,
        422,
        described={
            404: "No job waits for a callback at this address (`not_found`).",
            422: "The body is not a callback this provider sends (`invalid_callback`).",
        },
    ),
)
async def receive_callback(
    provider: str, token: str, request: Request, context: Context
) -> Mapping[str, Any]:
    body = await request.body()
    return await run_in_threadpool(_apply, context, provider, token, body)
