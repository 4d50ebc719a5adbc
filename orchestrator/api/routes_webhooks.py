"""Tenant webhooks: the delivery log of a job, redelivery, and the signing secrets."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter
from sqlalchemy import select

from orchestrator.api.context import Caller, Context
from orchestrator.api.document import links
from orchestrator.api.errors import error_responses
from orchestrator.api.routes_jobs import parse_job_id
from orchestrator.errors import NotFoundError
from orchestrator.models import OutboxEvent, WebhookAttempt
from orchestrator.pipeline import webhook_secrets, webhooks
from orchestrator.tenants import jobs
from schemas.webhooks import Delivery, DeliveryAttempt, DeliveryList, SigningSecret, SigningSecrets

router = APIRouter(tags=["webhooks"])
TENANT = error_responses(401, 429)
EVENT_LINKS = links("event_id", "/data/0/event_id", ("POST", "/v1/webhooks/{event_id}/redeliver"))


def delivery_view(event: OutboxEvent, attempts: list[WebhookAttempt]) -> Delivery:
    return Delivery(
        event_id=str(event.event_id),
        type=event.event_type,
        sequence=event.sequence,
        url=event.url,
        state=event.state,
        next_attempt_at=event.next_attempt_at if event.state == "pending" else None,
        created_at=event.created_at,
        delivered_at=event.delivered_at,
        attempts=[
            DeliveryAttempt(
                attempt=a.attempt,
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                response_excerpt=a.response_excerpt,
                error=a.error,
                created_at=a.created_at,
            )
            for a in sorted(attempts, key=lambda a: a.attempt)
        ],
    )


@router.get(
    "/v1/jobs/{job_id}/deliveries",
    response_model=DeliveryList,
    summary="Webhook deliveries of a job",
    responses={
        200: {"description": "The job's webhook events, oldest first.", "links": EVENT_LINKS},
        **error_responses(401, 404, 429),
    },
)
def list_deliveries(job_id: str, context: Context, caller: Caller) -> DeliveryList:
    parsed = parse_job_id(job_id)
    with context.db.transaction() as session:
        jobs.find_job(session, caller.account_id, parsed)
        events = (
            session.execute(
                select(OutboxEvent).where(OutboxEvent.job_id == parsed).order_by(OutboxEvent.sequence)
            )
            .scalars()
            .all()
        )
        attempts = (
            session.execute(
                select(WebhookAttempt).where(WebhookAttempt.event_id.in_([e.event_id for e in events]))
            )
            .scalars()
            .all()
        )
    by_event: dict[uuid.UUID, list[WebhookAttempt]] = {e.event_id: [] for e in events}
    for attempt in attempts:
        by_event[attempt.event_id].append(attempt)
    return DeliveryList(data=[delivery_view(e, by_event[e.event_id]) for e in events])


@router.post(
    "/v1/webhooks/{event_id}/redeliver",
    status_code=202,
    response_model=Delivery,
    summary="Send an event again",
    responses=error_responses(401, 404, 429),
)
def redeliver(event_id: str, context: Context, caller: Caller) -> Delivery:
    try:
        parsed = uuid.UUID(event_id)
    except ValueError:
        raise NotFoundError(f"no webhook event {event_id!r}") from None
    with context.db.transaction() as session:
        event = webhooks.redeliver(session, caller.account_id, parsed)
        if event is None:
            raise NotFoundError(f"no webhook event {event_id} in this account")
        attempts = list(
            session.execute(select(WebhookAttempt).where(WebhookAttempt.event_id == parsed)).scalars()
        )
    return delivery_view(event, attempts)


def _secrets_view(rows: list[webhook_secrets.WebhookSecret]) -> SigningSecrets:
    return SigningSecrets(
        data=[SigningSecret(secret=r.secret, created_at=r.created_at, expires_at=r.expires_at) for r in rows]
    )


@router.get(
    "/v1/webhooks/secrets",
    response_model=SigningSecrets,
    summary="Secrets that sign your webhooks",
    responses=TENANT,
)
def get_secrets(context: Context, caller: Caller) -> SigningSecrets:
    with context.db.transaction() as session:
        return _secrets_view(webhook_secrets.live_secrets(session, caller.account_id))


@router.post(
    "/v1/webhooks/secrets/rotate",
    response_model=SigningSecrets,
    summary="Start signing with a new secret",
    responses=TENANT,
)
def rotate_secret(context: Context, caller: Caller) -> SigningSecrets:
    overlap = timedelta(seconds=context.settings.webhook_rotation_overlap_s)
    with context.db.transaction() as session:
        webhook_secrets.rotate(session, caller.account_id, overlap)
        return _secrets_view(webhook_secrets.live_secrets(session, caller.account_id))
